//! The call trace (`-v`): each AWS call's start and end, relative to the start of the run, with
//! its outcome, so that a slow deploy shows which call waited for which (the critical path).
//! Names only: never a request or response body.

use std::sync::OnceLock;
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use tracing::debug;

/// When the run started: the first call of this, made as the run begins.
pub fn run_started() -> Instant {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

/// When one call started.
#[derive(Debug, Clone, Copy)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// Logs each call's start and end at debug level.
#[derive(Debug, Default, Clone, Copy)]
pub struct Trace;

fn since_start(at: Instant) -> u128 {
    at.saturating_duration_since(run_started()).as_millis()
}

fn name(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>().map_or_else(
        || "an AWS call".to_owned(),
        |m| format!("{}.{}", m.service(), m.name()),
    )
}

impl Intercept for Trace {
    fn name(&self) -> &'static str {
        "Trace"
    }

    // Before serialization, not before execution: the operation's name is in the bag by then.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = Instant::now();
        cfg.interceptor_state().store_put(Started(now));
        debug!("call {} starts at +{} ms", name(cfg), since_start(now));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = Instant::now();
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => "ok",
            Some(Err(_)) => "failed",
            None => "no answer",
        };
        let took = cfg
            .load::<Started>()
            .map_or(0, |s| now.saturating_duration_since(s.0).as_millis());
        debug!(
            "call {} ends at +{} ms ({took} ms, {outcome})",
            name(cfg),
            since_start(now)
        );
        Ok(())
    }
}

/// The same two lines for a call made by hand ([`super::call`]): logs the start, returns when.
pub fn started(name: &str) -> Instant {
    let now = Instant::now();
    debug!("call {name} starts at +{} ms", since_start(now));
    now
}

/// Logs the end of a call made by hand.
pub fn ended(name: &str, started: Instant, outcome: &str) {
    let now = Instant::now();
    debug!(
        "call {name} ends at +{} ms ({} ms, {outcome})",
        since_start(now),
        now.saturating_duration_since(started).as_millis()
    );
}
