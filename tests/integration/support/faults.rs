//! A fault-injecting stub in front of the emulator (or of a scripted endpoint): throttling, 5xx
//! answers, access denied, delays, resets and lost answers, per operation, queued or always.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::stub::{Answer, Stub};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// `ThrottlingException: Rate exceeded`, before the request reaches the service.
    Throttle,
    /// An HTTP status with an error body, before the request reaches the service.
    Status(u16),
    AccessDenied,
    /// Waits, then forwards.
    Delay(Duration),
    /// Closes the connection without an answer, before the request reaches the service.
    Reset,
    /// Forwards (the service acts on it), then closes the connection without an answer.
    LoseResponse,
}

#[derive(Default)]
struct Faults {
    queued: HashMap<String, VecDeque<Fault>>,
    always: HashMap<String, Fault>,
}

pub struct FaultProxy {
    stub: Stub,
    faults: Arc<Mutex<Faults>>,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> Self {
        let faults = Arc::new(Mutex::new(Faults::default()));
        let shared = Arc::clone(&faults);
        let stub = Stub::start(upstream, move |request| {
            let mut faults = shared.lock().unwrap();
            let queued = faults
                .queued
                .get_mut(&request.operation)
                .and_then(VecDeque::pop_front);
            answer(queued.or_else(|| faults.always.get(&request.operation).copied()))
        });
        Self { stub, faults }
    }

    pub fn url(&self) -> String {
        self.stub.url()
    }

    /// Injects `fault` into the next `times` calls of `operation`.
    pub fn inject(&self, operation: &str, fault: Fault, times: usize) -> &Self {
        let mut faults = self.faults.lock().unwrap();
        let queue = faults.queued.entry(operation.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
        self
    }

    /// Injects `fault` into every call of `operation`.
    pub fn always(&self, operation: &str, fault: Fault) -> &Self {
        self.faults
            .lock()
            .unwrap()
            .always
            .insert(operation.to_owned(), fault);
        self
    }

    pub fn seen(&self, operation: &str) -> usize {
        self.stub.seen(operation)
    }

    pub fn max_in_flight(&self) -> usize {
        self.stub.max_in_flight()
    }

    pub fn peak_within(&self, operation: &str, window: Duration) -> usize {
        self.stub.peak_within(operation, window)
    }
}

fn answer(fault: Option<Fault>) -> Answer {
    match fault {
        // Holds the request a moment, so that concurrency shows at the proxy.
        None => Answer::ForwardAfter(Duration::from_millis(20)),
        Some(Fault::Throttle) => Answer::error(400, "ThrottlingException", "Rate exceeded"),
        Some(Fault::Status(status)) => {
            let kind = if status == 503 {
                "ServiceUnavailable"
            } else {
                "InternalFailure"
            };
            Answer::error(status, kind, "injected")
        }
        Some(Fault::AccessDenied) => Answer::error(
            400,
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/deployer/ci is not authorized to perform this action",
        ),
        Some(Fault::Delay(delay)) => Answer::ForwardAfter(delay),
        Some(Fault::Reset) => Answer::Drop,
        Some(Fault::LoseResponse) => Answer::ForwardThenDrop,
    }
}
