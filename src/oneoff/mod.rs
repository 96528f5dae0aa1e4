//! One-off tasks (`run-task`, the deploy action's name and meaning): the new revision run once
//! before the service moves, with exactly the secrets the service will get, a database migration
//! say (or on its own: `run`). Run in the service's network when it has one; waited for until
//! STOPPED when asked (and always with `run-task-before-deploy`), its containers' CloudWatch Logs
//! printed as they come, through the redactor (a migration's output can carry a value); an
//! essential container that exits non-zero, or a task that stops without its containers' exit
//! codes, is a failure that stops the roll-out.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

mod logs;

use crate::aws::Aws;
use crate::aws::ecs::{self, Task};
use crate::ci::Ci;
use crate::error::Error;
use crate::output;
use crate::rollout::Before;
use crate::template;

/// A RunTask idempotency token (at most 64 characters): the revision and this run.
fn client_token(revision: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let revision: String = revision
        .rsplit('/')
        .next()
        .unwrap_or(revision)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(30)
        .collect();
    format!("ecs-secrets-{revision}-{}-{nanos}", std::process::id())
        .chars()
        .take(64)
        .collect()
}

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
    /// How the task is launched: the inputs, else as the service's tasks are, else (no service)
    /// the deploy action's `FARGATE`.
    fn launch(&self, request: &mut Value, service: Option<&Before>) {
        let (service_launch, service_strategy, platform) =
            service.map(|b| b.launch.clone()).unwrap_or_default();
        match (&self.capacity_provider_strategy, &self.launch_type) {
            (Some(strategy), _) => request["capacityProviderStrategy"] = strategy.clone(),
            (None, Some(launch)) => request["launchType"] = json!(launch),
            (None, None) => match (service_strategy, service_launch, service) {
                (Some(strategy), _, _) => request["capacityProviderStrategy"] = strategy,
                (None, Some(launch), _) => request["launchType"] = json!(launch),
                (None, None, None) => request["launchType"] = json!("FARGATE"),
                // A service with neither: the cluster's default capacity provider strategy.
                (None, None, Some(_)) => {}
            },
        }
        if let Some(platform) = platform {
            request["platformVersion"] = json!(platform);
        }
    }

    /// The task's `awsvpc` network: the service's, each field the inputs give replaced.
    fn network(&self, request: &mut Value, service: Option<&Before>) -> Result<(), Error> {
        let mut network = service
            .and_then(|b| b.awsvpc.clone())
            .unwrap_or_else(|| json!({}));
        if !self.subnets.is_empty() {
            network["subnets"] = json!(self.subnets);
        }
        if !self.security_groups.is_empty() {
            network["securityGroups"] = json!(self.security_groups);
        }
        if let Some(public) = &self.assign_public_ip {
            network["assignPublicIp"] = json!(public);
        }
        let subnets = network
            .get("subnets")
            .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
        if subnets {
            request["networkConfiguration"] = json!({ "awsvpcConfiguration": network });
        } else if !self.security_groups.is_empty() || self.assign_public_ip.is_some() {
            return Err(Error::Usage(
                "input `run-task-security-groups` / `run-task-assign-public-IP` need subnets: give `run-task-subnets`, or a `service` whose network has them".to_owned(),
            ));
        }
        Ok(())
    }

    /// Waited for: asked, or needed to decide whether the service may move.
    pub fn waits(&self) -> bool {
        self.wait || self.before_deploy
    }

    /// The RunTask request: the revision, where to run it (launched and networked as the
    /// service's tasks are, the inputs winning field by field), what to override. Checked before
    /// anything is registered (with an empty revision).
    pub fn request(
        &self,
        cluster: &str,
        revision: &str,
        body: &Map<String, Value>,
        service: Option<&Before>,
    ) -> Result<Value, Error> {
        let mut request = json!({
            "cluster": cluster,
            "taskDefinition": revision,
            "count": 1,
            "startedBy": self.started_by,
            // Idempotent: a retry after a lost answer starts no second task.
            "clientToken": client_token(revision),
        });
        self.launch(&mut request, service);
        self.network(&mut request, service)?;
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

/// One one-off task to run: how, where, which revision (and its body), the service whose network
/// it borrows.
pub struct OneOff<'a> {
    pub aws: &'a Aws,
    pub settings: &'a Settings,
    pub cluster: &'a str,
    pub revision: &'a str,
    pub body: &'a Map<String, Value>,
    pub service: Option<&'a Before>,
    pub ci: &'a Ci,
}

/// Runs the one-off task of `revision` in `cluster` (in `awsvpc`, the service's network, unless
/// subnets are given) and, when it waits, until it stopped; the tasks' ARNs go to `started`.
pub async fn run(one: &OneOff<'_>, started: &mut Vec<String>) -> Result<(), Error> {
    let OneOff {
        aws,
        settings,
        cluster,
        revision,
        body,
        service,
        ci,
    } = *one;
    let request = settings.request(cluster, revision, body, service)?;
    let client = &aws.ecs();
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
    started.clone_from(&arns);
    if settings.waits() {
        let mut logs = logs::Logs::of(aws, body, &arns, ci).await;
        wait(client, settings, cluster, &arns, body, &mut logs)
            .await
            .map_err(|e| match e {
                Error::Rollout(text) => Error::Rollout(format!(
                    "{text}\n  the task: {} (startedBy `{}`)",
                    arns.join(", "),
                    settings.started_by
                )),
                other => other,
            })?;
    }
    Ok(())
}

/// Polls the tasks until every one STOPPED, then judges them.
async fn wait(
    client: &aws_sdk_ecs::Client,
    settings: &Settings,
    cluster: &str,
    arns: &[String],
    body: &Map<String, Value>,
    logs: &mut logs::Logs,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        logs.print_new().await;
        let tasks = ecs::describe_tasks(client, cluster, arns).await.map_err(|f| {
            Error::Rollout(format!(
                "run-task: DescribeTasks failed ({f}); the task may still be running, and the service was not updated"
            ))
        })?;
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
            logs.drain().await;
            return judge(&tasks, body);
        }
        if started.elapsed() >= settings.timeout {
            return Err(Error::Rollout(format!(
                "run-task: the task did not stop within {} minutes ({last}) and may still be running; the service was not updated",
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

pub(crate) fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
