//! Front door 1: the binary as the `bootstrap` of a Lambda function on the OS-only runtime
//! (`provided.al2023`), invoked by a pipeline's Lambda invoke action. When
//! `AWS_LAMBDA_RUNTIME_API` is set and no command is given, it speaks the Lambda Runtime API:
//! take the next invocation, handle its `CodePipeline.job`, report to the pipeline, answer the
//! invocation; again, until Lambda freezes or ends the process. The event is never logged: it
//! carries the job's artifact credentials.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tracing::{error, info};

use super::{Job, Outcome, handle, report};
use crate::aws::Aws;

const VERSION: &str = "2018-06-01";

/// One exchange with the Runtime API (plain HTTP/1.1 on the function's own host, one
/// connection each): status, the request id header, body.
/// An answer of the Runtime API: status, the invocation's request id and deadline (epoch ms), body.
type Exchanged = (u16, Option<String>, Option<u64>, Vec<u8>);

fn exchange(api: &str, method: &str, path: &str, body: &[u8]) -> std::io::Result<Exchanged> {
    let mut stream = TcpStream::connect(api)?;
    let head = format!(
        "{method} /{VERSION}/runtime/{path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let bad = || std::io::Error::other("the Runtime API's answer is not HTTP");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut body = answer[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut id = None;
    let mut deadline = None;
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "lambda-runtime-aws-request-id" {
                id = Some(value.to_owned());
            } else if name == "lambda-runtime-deadline-ms" {
                deadline = value.parse().ok();
            } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    if chunked {
        body = dechunk(&body).ok_or_else(bad)?;
    }
    Ok((status, id, deadline, body))
}

/// The body of a chunked answer.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

fn post(api: &str, path: &str, body: &Value) {
    let bytes = serde_json::to_vec(body).expect("JSON serialises");
    match exchange(api, "POST", path, &bytes) {
        Ok((status, ..)) if status < 300 => {}
        Ok((status, ..)) => error!("the Runtime API answered {status} to {path}"),
        Err(e) => error!("cannot reach the Runtime API for {path}: {e}"),
    }
}

fn invocation_error(api: &str, id: &str, kind: &str, message: &str) {
    post(
        api,
        &format!("invocation/{id}/error"),
        &json!({ "errorType": kind, "errorMessage": crate::output::redact(message) }),
    );
}

/// Serves invocations until the Runtime API cannot be reached.
pub async fn serve(api: &str, aws: Result<Aws, crate::error::Error>) -> u8 {
    let aws = match aws {
        Ok(aws) => aws,
        Err(e) => {
            post(
                api,
                "init/error",
                &json!({ "errorType": "Runtime.InitError", "errorMessage": e.to_string() }),
            );
            return 1;
        }
    };
    loop {
        let (status, id, deadline, body) = match exchange(api, "GET", "invocation/next", b"") {
            Ok(next) => next,
            Err(e) => {
                error!("cannot reach the Runtime API: {e}");
                return 1;
            }
        };
        let Some(id) = id.filter(|_| status == 200) else {
            error!("the Runtime API answered {status} without an invocation");
            return 1;
        };
        invoke(api, &aws, &id, until(deadline), &body).await;
    }
}

/// When the job's run must end: the invocation's deadline less 20 s to report (`None`: no
/// deadline given).
fn until(deadline_ms: Option<u64>) -> Option<Instant> {
    let deadline_ms = deadline_ms?;
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis(),
    )
    .ok()?;
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Some(Instant::now() + left.saturating_sub(Duration::from_secs(20)))
}

/// One invocation: its job handled and reported, then the invocation answered.
async fn invoke(api: &str, aws: &Aws, id: &str, deadline: Option<Instant>, body: &[u8]) {
    let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(raw) = event.get("CodePipeline.job") else {
        invocation_error(
            api,
            id,
            "InvalidEvent",
            "the event is not a CodePipeline job (no `CodePipeline.job`)",
        );
        return;
    };
    let job = match Job::parse(raw) {
        Ok(job) => job,
        Err(message) => {
            // The pipeline is told when the job's id can be read; the invocation fails.
            if let Some(job_id) = raw.get("id").and_then(Value::as_str) {
                let job = Job::only_id(job_id);
                if let Err(failure) = report(
                    aws,
                    &job,
                    &Outcome::Failed {
                        configuration: true,
                        message: message.clone(),
                        external_id: None,
                    },
                )
                .await
                {
                    error!("cannot report job {job_id} to CodePipeline: {failure}");
                }
            }
            invocation_error(api, id, "InvalidEvent", &message);
            return;
        }
    };
    let outcome = handle(aws, &job, deadline).await;
    let told = report(aws, &job, &outcome).await;
    match told {
        Ok(()) => {
            let ok = matches!(outcome, Outcome::Succeeded { .. });
            info!(job = %job.id, succeeded = ok, "CodePipeline job reported");
            post(
                api,
                &format!("invocation/{id}/response"),
                &json!({ "job": job.id }),
            );
        }
        Err(failure) => invocation_error(
            api,
            id,
            "ReportFailed",
            &format!("cannot report job {} to CodePipeline: {failure}", job.id),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::dechunk;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n").unwrap(),
            b"Wikipedia"
        );
        assert_eq!(dechunk(b"zz\r\n"), None);
    }
}
