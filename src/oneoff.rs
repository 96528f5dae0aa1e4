//! One-off tasks (`run-task`, the deploy action's name and meaning): the new revision run once
//! before the service moves, with exactly the secrets the service will get, a database migration
//! say. Run in the service's network when it has one; waited for until STOPPED when asked (and
//! always with `run-task-before-deploy`); an essential container that exits non-zero, or a task
//! that stops without its containers' exit codes, is a failure that stops the roll-out.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::aws::ecs::{self, Task};
use crate::error::Error;
use crate::output;
use crate::template;

/// How to run the one-off task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Run it before `UpdateService`, wait for it, and update the service only when it
    /// succeeded.
    pub before_deploy: bool,
    /// `wait-for-task-stopped`.
    pub wait: bool,
    pub started_by: String,
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
    /// `run-task-container-overrides`: RunTask's `containerOverrides`, as given.
    pub container_overrides: Option<Value>,
    /// `run-task-command`: the command of the container `container`.
    pub command: Option<Vec<String>>,
    /// The container the command is for (`container-name`, or the only container).
    pub container: Option<String>,
    pub tags: Option<Value>,
    pub timeout: Duration,
    pub poll_interval: Duration,
}

impl Settings {
    /// Waited for: asked, or needed to decide whether the service may move.
    pub fn waits(&self) -> bool {
        self.wait || self.before_deploy
    }

    /// The RunTask request: the revision, where to run it, what to override.
    fn request(
        &self,
        cluster: &str,
        revision: &str,
        body: &Map<String, Value>,
        awsvpc: Option<&Value>,
    ) -> Result<Value, Error> {
        let mut request = json!({
            "cluster": cluster,
            "taskDefinition": revision,
            "count": 1,
            "startedBy": self.started_by,
        });
        match &self.capacity_provider_strategy {
            Some(strategy) => request["capacityProviderStrategy"] = strategy.clone(),
            None => {
                request["launchType"] = json!(
                    self.launch_type
                        .clone()
                        .unwrap_or_else(|| "FARGATE".to_owned())
                );
            }
        }
        let network = if self.subnets.is_empty() && self.security_groups.is_empty() {
            awsvpc.cloned()
        } else {
            let mut config =
                json!({ "subnets": self.subnets, "securityGroups": self.security_groups });
            config["assignPublicIp"] = json!(
                self.assign_public_ip
                    .clone()
                    .unwrap_or_else(|| "DISABLED".to_owned())
            );
            Some(config)
        };
        if let Some(config) = network {
            request["networkConfiguration"] = json!({ "awsvpcConfiguration": config });
        }
        let mut overrides: Vec<Value> = match &self.container_overrides {
            Some(Value::Array(list)) => list.clone(),
            Some(_) => {
                return Err(Error::Usage(
                    "input `run-task-container-overrides`: expected a JSON array of container overrides".to_owned(),
                ));
            }
            None => Vec::new(),
        };
        if let Some(command) = &self.command {
            let names = template::container_names(body);
            let name = match (&self.container, names.as_slice()) {
                (Some(name), _) => name.clone(),
                (None, [only]) => only.clone(),
                (None, _) => {
                    return Err(Error::Usage(format!(
                        "input `run-task-command` needs `container-name`: the definition has {} containers",
                        names.len()
                    )));
                }
            };
            match overrides.iter_mut().find(|o| o["name"] == json!(name)) {
                Some(existing) => existing["command"] = json!(command),
                None => overrides.push(json!({ "name": name, "command": command })),
            }
        }
        request["overrides"] = json!({ "containerOverrides": overrides });
        if let Some(tags) = &self.tags {
            request["tags"] = tags.clone();
        }
        Ok(request)
    }
}

/// Runs the one-off task of `revision` in `cluster` (in `awsvpc`, the service's network, unless
/// subnets are given) and, when it waits, until it stopped; returns the tasks' ARNs.
pub async fn run(
    client: &aws_sdk_ecs::Client,
    settings: &Settings,
    cluster: &str,
    revision: &str,
    body: &Map<String, Value>,
    awsvpc: Option<&Value>,
) -> Result<Vec<String>, Error> {
    let request = settings.request(cluster, revision, body, awsvpc)?;
    let bytes = bytes::Bytes::from(serde_json::to_vec(&request).expect("JSON serialises"));
    let arns = ecs::run_task(client, revision, bytes)
        .await
        .map_err(|failure| {
            Error::Rollout(format!(
                "run-task of {revision} in cluster `{cluster}` failed: {failure}"
            ))
        })?;
    output::err(&format!(
        "run-task: started {} in cluster `{cluster}` ({})",
        arns.iter()
            .map(|a| a.rsplit('/').next().unwrap_or(a))
            .collect::<Vec<_>>()
            .join(", "),
        revision
    ));
    if settings.waits() {
        wait(client, settings, cluster, &arns, body).await?;
    }
    Ok(arns)
}

/// Polls the tasks until every one STOPPED, then judges them.
async fn wait(
    client: &aws_sdk_ecs::Client,
    settings: &Settings,
    cluster: &str,
    arns: &[String],
    body: &Map<String, Value>,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let tasks = ecs::describe_tasks(client, cluster, arns)
            .await
            .map_err(|f| Error::Aws(format!("run-task: DescribeTasks failed: {f}")))?;
        let state = tasks
            .iter()
            .map(|t| format!("{} {}", short(&t.arn), t.last_status))
            .collect::<Vec<_>>()
            .join(", ");
        if state != last {
            output::err(&format!("  run-task: {state}"));
            last = state;
        }
        if !tasks.is_empty() && tasks.iter().all(|t| t.last_status == "STOPPED") {
            return judge(&tasks, body);
        }
        if started.elapsed() >= settings.timeout {
            return Err(Error::Rollout(format!(
                "run-task: the task did not stop within {} minutes ({last}); the service was not updated",
                settings.timeout.as_secs_f64() / 60.0
            )));
        }
        tokio::time::sleep(settings.poll_interval.max(Duration::from_millis(10))).await;
    }
}

/// Success when every essential container exited 0.
fn judge(tasks: &[Task], body: &Map<String, Value>) -> Result<(), Error> {
    let essential: Vec<String> = template::containers(body)
        .filter(|c| c.get("essential") != Some(&Value::Bool(false)))
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let mut problems = Vec::new();
    for task in tasks {
        for (name, code, reason) in task
            .containers
            .iter()
            .filter(|(n, ..)| essential.contains(n))
        {
            match code {
                Some(0) => {}
                Some(code) => problems.push(format!(
                    "container `{name}` of task {} exited with code {code}",
                    short(&task.arn)
                )),
                None => problems.push(format!(
                    "container `{name}` of task {} has no exit code: the task stopped ({}{}){}",
                    short(&task.arn),
                    task.stop_code.as_deref().unwrap_or("no stop code"),
                    task.stopped_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default(),
                    reason
                        .as_deref()
                        .map(|r| format!("; {r}"))
                        .unwrap_or_default()
                )),
            }
        }
    }
    if problems.is_empty() {
        output::err("run-task: every essential container exited 0");
        return Ok(());
    }
    Err(Error::Rollout(format!(
        "run-task failed, so the service was not updated:\n  {}",
        problems.join("\n  ")
    )))
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
