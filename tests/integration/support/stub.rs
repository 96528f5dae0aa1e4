//! The one HTTP stub of the suite: a loopback server in front of the emulator that answers each
//! request from a script (a scripted ECS service, IAM's simulator, an injected fault) or passes it
//! on to the emulator, and records what it saw. The binary talks to it over HTTP, through the
//! SDK's per-service endpoint variables, as it talks to AWS.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One request, as the script sees it.
pub struct Request {
    /// `X-Amz-Target`'s operation (JSON protocols) or the form's `Action` (query protocols).
    pub operation: String,
    head: Vec<String>,
    body: Vec<u8>,
    /// The body as JSON (`Null` when it is none).
    pub json: Value,
}

impl Request {
    /// A field of a form body (`Action=…&ActionNames.member.1=…`), decoded.
    pub fn form(&self, name: &str) -> String {
        String::from_utf8_lossy(&self.body)
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(|v| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default()
    }
}

/// What the stub does with a request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Passes it on to the emulator, and its answer back.
    Forward,
    /// Answers itself.
    Reply {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// Waits, then passes it on.
    ForwardAfter(Duration),
    /// Closes the connection without an answer, before the request reaches the emulator.
    Drop,
    /// Passes it on (the emulator acts on it), then closes the connection without an answer.
    ForwardThenDrop,
    /// Passes it on and changes the emulator's JSON answer before passing it back.
    ForwardEdited(fn(&mut Value)),
}

impl Answer {
    /// A JSON answer (the JSON protocols' content type).
    pub fn json(status: u16, body: &Value) -> Self {
        Answer::Reply {
            status,
            content_type: "application/x-amz-json-1.1",
            body: body.to_string(),
        }
    }

    /// An AWS error answer: `{"__type": kind, "message": message}`.
    pub fn error(status: u16, kind: &str, message: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "__type": kind, "message": message }),
        )
    }

    pub fn xml(body: String) -> Self {
        Answer::Reply {
            status: 200,
            content_type: "text/xml",
            body,
        }
    }
}

type Script = Box<dyn FnMut(&Request) -> Answer + Send>;

struct State {
    script: Script,
    seen: Vec<(Instant, String)>,
    bodies: Vec<(String, Value)>,
    in_flight: usize,
    max_in_flight: usize,
}

pub struct Stub {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Stub {
    /// Starts a stub in front of the emulator at `upstream`, answering from `script`.
    pub fn start(upstream: u16, script: impl FnMut(&Request) -> Answer + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            script: Box::new(script),
            seen: Vec::new(),
            bodies: Vec::new(),
            in_flight: 0,
            max_in_flight: 0,
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || handle(stream, &state, upstream));
            }
        });
        Self { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The operations seen, in order.
    pub fn operations(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state.seen.iter().map(|(_, o)| o.clone()).collect()
    }

    /// How many requests of `operation` were seen.
    pub fn seen(&self, operation: &str) -> usize {
        self.operations().iter().filter(|o| *o == operation).count()
    }

    /// The JSON bodies of the requests of `operation`, in order.
    pub fn bodies(&self, operation: &str) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .bodies
            .iter()
            .filter(|(o, _)| o == operation)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// The most requests in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// The most requests of `operation` seen within any `window`.
    pub fn peak_within(&self, operation: &str, window: Duration) -> usize {
        let state = self.state.lock().unwrap();
        let times: Vec<Instant> = state
            .seen
            .iter()
            .filter(|(_, o)| o == operation)
            .map(|(t, _)| *t)
            .collect();
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|t| **t >= *start && **t < *start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<State>, upstream: u16) {
    let Some((head, body)) = read_request(&stream) else {
        return;
    };
    let form = String::from_utf8_lossy(&body).into_owned();
    let target = header(&head, "x-amz-target").unwrap_or_default();
    let operation = if target.is_empty() {
        form.split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .unwrap_or_default()
            .to_owned()
    } else {
        target.rsplit('.').next().unwrap_or_default().to_owned()
    };
    let request = Request {
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        operation,
        head,
        body,
    };
    let answer = {
        let mut state = state.lock().unwrap();
        state.seen.push((Instant::now(), request.operation.clone()));
        state
            .bodies
            .push((request.operation.clone(), request.json.clone()));
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        (state.script)(&request)
    };
    let reply = match answer {
        Answer::Forward => Some(forward(upstream, &request.head, &request.body)),
        Answer::ForwardAfter(delay) => {
            std::thread::sleep(delay);
            Some(forward(upstream, &request.head, &request.body))
        }
        Answer::Reply {
            status,
            content_type,
            body,
        } => Some((status, content_type.to_owned(), body)),
        Answer::Drop => None,
        Answer::ForwardThenDrop => {
            let _ = forward(upstream, &request.head, &request.body);
            None
        }
        Answer::ForwardEdited(edit) => {
            let (status, content_type, body) = forward(upstream, &request.head, &request.body);
            let mut json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if status == 200 {
                edit(&mut json);
            }
            Some((status, content_type, json.to_string()))
        }
    };
    // The exchange ends here for the count: once the client has the answer it may send the next
    // request, which must not find this one still counted.
    state.lock().unwrap().in_flight -= 1;
    if let Some((status, content_type, body)) = reply {
        let reply = format!(
            "HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(reply.as_bytes());
    }
}

/// Reads one HTTP request: its head lines and its body.
fn read_request(stream: &TcpStream) -> Option<(Vec<String>, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_owned());
    }
    let length: usize = header(&head, "content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn header(head: &[String], name: &str) -> Option<String> {
    head.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// Sends the request on to `port` as it came; returns the answer's status, type and body.
fn forward(port: u16, head: &[String], body: &[u8]) -> (u16, String, String) {
    let mut upstream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = String::new();
    for (i, line) in head.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        if i > 0 && (lower.starts_with("connection:") || lower.starts_with("host:")) {
            continue;
        }
        request.push_str(line);
        request.push_str("\r\n");
    }
    let _ = write!(
        request,
        "Host: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    upstream.write_all(request.as_bytes()).unwrap();
    upstream.write_all(body).unwrap();
    let mut response = Vec::new();
    upstream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let head_lines: Vec<String> = head.lines().map(str::to_owned).collect();
    let content_type = header(&head_lines, "content-type")
        .unwrap_or_else(|| "application/x-amz-json-1.1".to_owned());
    let chunked = header(&head_lines, "transfer-encoding").is_some_and(|t| t == "chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, content_type, body)
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}
