//! CloudWatch Logs: the lines of one log stream, read forward from where the last read ended, for
//! a one-off task's output while it runs.

use serde_json::json;

use super::call::Client;
use super::{Failure, Kind};

/// The next lines of a stream after `token` (from its start without one), and the token to read
/// on from. A stream that does not exist yet (the task has not started) has no lines.
pub async fn read_on(
    client: &Client,
    group: &str,
    stream: &str,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), Failure> {
    let mut input = json!({
        "logGroupName": group,
        "logStreamName": stream,
        "startFromHead": true,
    });
    if let Some(token) = token {
        input["nextToken"] = json!(token);
    }
    let output = match client.call("GetLogEvents", &input).await {
        Ok(output) => output,
        Err(failure) if failure.is(Kind::NotFound) => {
            return Ok((Vec::new(), token.map(str::to_owned)));
        }
        Err(failure) => return Err(failure),
    };
    let lines = output["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        lines,
        output["nextForwardToken"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| token.map(str::to_owned)),
    ))
}
