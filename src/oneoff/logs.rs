//! A one-off task's CloudWatch Logs, printed while it runs. Its lines can carry the values of the
//! secrets the task receives (a migration that prints its connection string), and the redactor
//! masks only values it knows: so every such value is read and learnt first, and when one cannot
//! be read, no line is printed (the log group is named instead).

use futures_util::future::join_all;
use serde_json::{Map, Value};
use tracing::warn;

use super::short;
use crate::aws::{Aws, Failure, secretsmanager, ssm};
use crate::ci::Ci;
use crate::output;
use crate::reference::{Arn, Parameter, SecretId};
use crate::template;

/// One container's log stream of the task: `awslogs` with a group and a stream prefix names it
/// `prefix/container/task-id`.
struct LogStream {
    container: String,
    client: crate::aws::call::Client,
    group: String,
    name: String,
    /// Where the last read ended.
    token: Option<String>,
    /// It could not be read; not tried again.
    broken: bool,
}

/// The task's CloudWatch Logs, read on at each poll and printed through the redactor.
pub(super) struct Logs {
    streams: Vec<LogStream>,
}

impl Logs {
    /// The streams of the task's containers that log to `awslogs` with a stream prefix; none
    /// when a value the task receives cannot be read to be masked.
    pub(super) async fn of(aws: &Aws, body: &Map<String, Value>, arns: &[String], ci: &Ci) -> Self {
        let mut streams = Vec::new();
        for container in template::containers(body) {
            let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
            let Some(log) = container.get("logConfiguration") else {
                continue;
            };
            if log.get("logDriver").and_then(Value::as_str) != Some("awslogs") {
                continue;
            }
            let option = |key: &str| {
                log.pointer(&format!("/options/{key}"))
                    .and_then(Value::as_str)
            };
            let (Some(group), Some(prefix)) =
                (option("awslogs-group"), option("awslogs-stream-prefix"))
            else {
                tracing::info!(
                    container = name,
                    "its awslogs configuration has no group or stream prefix, so its log stream cannot be named: not streamed"
                );
                continue;
            };
            let client = aws.logs(option("awslogs-region"));
            for arn in arns {
                streams.push(LogStream {
                    container: name.to_owned(),
                    client: client.clone(),
                    group: group.to_owned(),
                    name: format!("{prefix}/{name}/{}", short(arn)),
                    token: None,
                    broken: false,
                });
            }
        }
        if streams.is_empty() {
            return Self { streams };
        }
        if let Err(unreadable) = learn_values(aws, body, ci).await {
            let groups: Vec<&str> = streams.iter().map(|s| s.group.as_str()).collect();
            warn!(
                "the task's log lines are not printed: {unreadable}, so they could not be masked; read them in CloudWatch Logs (log group `{}`)",
                groups.first().copied().unwrap_or_default()
            );
            streams.clear();
        }
        Self { streams }
    }

    /// Prints the lines written since the last read; returns whether there were any.
    pub(super) async fn print_new(&mut self) -> bool {
        let mut any = false;
        for stream in self.streams.iter_mut().filter(|s| !s.broken) {
            match crate::aws::logs::read_on(
                &stream.client,
                &stream.group,
                &stream.name,
                stream.token.as_deref(),
            )
            .await
            {
                Ok((lines, token)) => {
                    any |= !lines.is_empty();
                    for line in lines {
                        output::err(&format!("  [{}] {}", stream.container, printable(&line)));
                    }
                    stream.token = token;
                }
                Err(failure) => {
                    tracing::warn!(
                        "the log stream `{}` of container `{}` cannot be read ({failure}); the task is followed without it",
                        stream.name,
                        stream.container
                    );
                    stream.broken = true;
                }
            }
        }
        any
    }

    /// After the task stopped: the lines not yet printed (CloudWatch Logs can lag behind).
    pub(super) async fn drain(&mut self) {
        for _ in 0..20 {
            if !self.print_new().await {
                return;
            }
        }
    }
}

/// A log line without the control characters that would drive a terminal.
fn printable(line: &str) -> String {
    line.trim_end_matches(['\n', '\r'])
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Reads the value of every secret and parameter the task receives (`secrets`,
/// `logConfiguration.secretOptions`) and teaches it to the redactor (and GitHub's masking);
/// `Err` says which one cannot be read, and why.
async fn learn_values(aws: &Aws, body: &Map<String, Value>, ci: &Ci) -> Result<(), String> {
    let mut sources: Vec<String> = template::containers(body)
        .enumerate()
        .flat_map(|(i, c)| template::secret_entries(i, c))
        .filter_map(|e| e.value_from.map(str::to_owned))
        .collect();
    sources.sort();
    sources.dedup();
    let reads = sources
        .iter()
        .map(|source| async move { (source, read_value(aws, source).await) });
    for (source, read) in join_all(reads).await {
        match read {
            Ok(value) => ci.protect(&value, source),
            Err(why) => return Err(format!("the value of `{source}` cannot be read ({why})")),
        }
    }
    Ok(())
}

/// The value a `valueFrom` names: a Secrets Manager ARN (its version as written), else a
/// Parameter Store parameter (name or ARN), decrypted.
async fn read_value(aws: &Aws, source: &str) -> Result<crate::mask::Secret, String> {
    let secret = Arn::parse(source).is_some_and(|arn| arn.service == "secretsmanager");
    if secret {
        let id = SecretId::parse(source)?;
        let client = aws.secretsmanager(id.region());
        let fetched = secretsmanager::get(
            &client,
            &id.id,
            id.version_stage.as_deref(),
            id.version_id.as_deref(),
        )
        .await
        .map_err(|f: Failure| f.to_string())?;
        return Ok(fetched.value);
    }
    let parameter = Parameter::parse(source)?;
    let client = aws.ssm(parameter.region());
    let name = parameter.request_name();
    let (_, fetched) = ssm::get_parameters(&client, std::slice::from_ref(&name), true)
        .await
        .pop()
        .ok_or("no answer")?;
    fetched
        .map_err(|f| f.to_string())?
        .value
        .ok_or_else(|| "no value in the answer".to_owned())
}
