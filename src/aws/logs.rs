//! CloudWatch Logs: the lines of one log stream, read forward from where the last read ended, for
//! a one-off task's output while it runs.

use super::{Failure, Kind};

const SERVICE: &str = "CloudWatch Logs";

/// The next lines of a stream after `token` (from its start without one), and the token to read
/// on from. A stream that does not exist yet (the task has not started) has no lines.
pub async fn read_on(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), Failure> {
    let output = match client
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(true)
        .set_next_token(token.map(str::to_owned))
        .send()
        .await
    {
        Ok(output) => output,
        Err(err) => {
            let failure = Failure::of(SERVICE, &err);
            return if failure.is(Kind::NotFound) {
                Ok((Vec::new(), token.map(str::to_owned)))
            } else {
                Err(failure)
            };
        }
    };
    let lines = output
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_owned))
        .collect();
    Ok((
        lines,
        output
            .next_forward_token()
            .map(str::to_owned)
            .or_else(|| token.map(str::to_owned)),
    ))
}
