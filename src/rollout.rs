//! Roll-out: check the service before anything is written, point it at the new revision, watch
//! the deployment with our own poll loop, and when it fails say why: the service's last events,
//! the stopped tasks of the new deployment with their reasons, and a diagnosis.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    DeploymentControllerType, DeploymentRolloutState, DesiredStatus, Service,
};

use crate::aws;
use crate::diagnose;
use crate::error::Error;
use crate::inputs::Rollout;
use crate::output::{self, Stream};

/// What the service looked like before the update.
#[derive(Debug)]
pub struct Before {
    pub task_definition: Option<String>,
    pub desired_count: i32,
    /// When the PRIMARY deployment started (epoch seconds).
    running_since: Option<i64>,
    /// The PRIMARY deployment's id and rollout state.
    primary: Option<(String, Option<DeploymentRolloutState>)>,
    /// Events already there, so that only new ones are printed.
    seen_events: HashSet<String>,
}

/// How the roll-out ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The service already ran the revision; nothing was updated.
    AlreadyRunning,
    /// Updated; not waited for.
    Started { deployment: String },
    /// Updated and complete.
    Completed { deployment: String },
}

impl Outcome {
    pub fn deployment(&self) -> Option<&str> {
        match self {
            Outcome::AlreadyRunning => None,
            Outcome::Started { deployment } | Outcome::Completed { deployment } => Some(deployment),
        }
    }

    pub fn state(&self) -> &'static str {
        match self {
            Outcome::AlreadyRunning => "unchanged",
            Outcome::Started { .. } => "started",
            Outcome::Completed { .. } => "completed",
        }
    }
}

fn describe_error(rollout: &Rollout, what: &str) -> String {
    format!(
        "service `{}` in cluster `{}`: {what}",
        rollout.service, rollout.cluster
    )
}

async fn describe(client: &aws_sdk_ecs::Client, rollout: &Rollout) -> Result<Service, Error> {
    let output = client
        .describe_services()
        .cluster(&rollout.cluster)
        .services(&rollout.service)
        .send()
        .await
        .map_err(|err| {
            Error::Aws(describe_error(
                rollout,
                &format!("DescribeServices failed: {}", aws::describe(&err)),
            ))
        })?;
    if let Some(failure) = output.failures().first() {
        return Err(Error::Aws(describe_error(
            rollout,
            &format!(
                "not found ({})",
                failure.reason().unwrap_or("no reason given")
            ),
        )));
    }
    output
        .services()
        .first()
        .cloned()
        .ok_or_else(|| Error::Aws(describe_error(rollout, "not found")))
}

/// Checks, before anything is registered, that the service exists, is ACTIVE and is driven by the
/// ECS deployment controller.
pub async fn check(client: &aws_sdk_ecs::Client, rollout: &Rollout) -> Result<Before, Error> {
    let service = describe(client, rollout).await?;
    let status = service.status().unwrap_or("UNKNOWN");
    if status != "ACTIVE" {
        return Err(Error::Aws(describe_error(
            rollout,
            &format!("its status is {status}; only an ACTIVE service can be updated"),
        )));
    }
    if let Some(controller) = service.deployment_controller() {
        let kind = controller.r#type();
        if *kind != DeploymentControllerType::Ecs {
            return Err(Error::Aws(describe_error(
                rollout,
                &format!(
                    "it uses the {} deployment controller; ecs-secrets drives ECS rolling deployments only. Register with `deploy` (no `service`) and hand the revision to that controller",
                    kind.as_str()
                ),
            )));
        }
    }
    Ok(Before {
        task_definition: service.task_definition().map(str::to_owned),
        desired_count: service.desired_count(),
        running_since: service
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .and_then(|d| d.created_at())
            .map(aws_smithy_types::DateTime::secs),
        primary: service
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .map(|d| {
                (
                    d.id().unwrap_or_default().to_owned(),
                    d.rollout_state().cloned(),
                )
            }),
        seen_events: service
            .events()
            .iter()
            .filter_map(|e| e.id().map(str::to_owned))
            .collect(),
    })
}

/// The newest change of a referenced secret or parameter: the placeholder and when (epoch s).
pub type LastChange = Option<(String, i64)>;

fn timestamp(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// Points the service at `revision` and, when asked, waits for the deployment to finish.
pub async fn run(
    client: &aws_sdk_ecs::Client,
    rollout: &Rollout,
    before: Before,
    revision: &str,
    last_change: LastChange,
    execution_role: Option<&str>,
    github: bool,
) -> Result<Outcome, Error> {
    let count_changes = rollout
        .desired_count
        .is_some_and(|count| count != before.desired_count);
    let already_running = before.task_definition.as_deref() == Some(revision);
    let mut force = rollout.force_new_deployment;
    if let (true, true, Some((reference, changed)), Some(since)) = (
        already_running,
        rollout.redeploy_on_secret_change,
        &last_change,
        before.running_since,
    ) && *changed > since
    {
        output::err(&format!(
            "rollout: `{reference}` changed at {} after the running deployment started at {}; forcing a new deployment so tasks read the new value",
            timestamp(*changed),
            timestamp(since)
        ));
        force = true;
    }
    if already_running && !force && !count_changes {
        return already_running_outcome(client, rollout, before, revision, execution_role).await;
    }
    let updated = client
        .update_service()
        .cluster(&rollout.cluster)
        .service(&rollout.service)
        .task_definition(revision)
        .set_desired_count(rollout.desired_count)
        .force_new_deployment(force)
        .send()
        .await
        .map_err(|err| {
            Error::Aws(describe_error(
                rollout,
                &format!(
                    "UpdateService failed: {}; the service stays on {}; the new revision is {revision}",
                    aws::describe(&err),
                    before.task_definition.as_deref().unwrap_or("its previous revision")
                ),
            ))
        })?;
    let deployment = updated
        .service()
        .and_then(|s| {
            s.deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY") && d.task_definition() == Some(revision))
        })
        .and_then(|d| d.id())
        .unwrap_or_default()
        .to_owned();
    output::err(&format!(
        "rollout: service `{}` in cluster `{}` now deploys {revision} (deployment {deployment})",
        rollout.service, rollout.cluster
    ));
    if !rollout.wait {
        return Ok(Outcome::Started { deployment });
    }
    if github {
        crate::ci::github::group(&format!("Waiting for service `{}`", rollout.service));
    }
    let result = wait(
        client,
        rollout,
        before.seen_events,
        revision,
        &deployment,
        execution_role,
    )
    .await;
    if github {
        crate::ci::github::end_group();
    }
    result.map(|()| Outcome::Completed { deployment })
}

/// The service already points at the revision: watch a roll-out under way, report a failed one,
/// or leave it alone.
async fn already_running_outcome(
    client: &aws_sdk_ecs::Client,
    rollout: &Rollout,
    before: Before,
    revision: &str,
    execution_role: Option<&str>,
) -> Result<Outcome, Error> {
    match &before.primary {
        // A roll-out of this revision is under way (a run that timed out, say): watch it.
        Some((id, Some(DeploymentRolloutState::InProgress))) if rollout.wait => {
            output::err(&format!(
                "rollout: service `{}` is already rolling out {revision} (deployment {id}); waiting for it",
                rollout.service
            ));
            let deployment = id.clone();
            wait(
                client,
                rollout,
                before.seen_events,
                revision,
                &deployment,
                execution_role,
            )
            .await?;
            return Ok(Outcome::Completed { deployment });
        }
        Some((id, Some(DeploymentRolloutState::Failed))) => {
            return Err(Error::Rollout(format!(
                "service `{}` points at {revision}, but its deployment {id} FAILED; run with `force-new-deployment` to try again",
                rollout.service
            )));
        }
        _ => {}
    }
    output::err(&format!(
        "rollout: service `{}` already runs {revision}; nothing to roll out",
        rollout.service
    ));
    Ok(Outcome::AlreadyRunning)
}

/// The poll loop: prints each change of state and each new service event.
async fn wait(
    client: &aws_sdk_ecs::Client,
    rollout: &Rollout,
    mut seen_events: HashSet<String>,
    revision: &str,
    deployment_id: &str,
    execution_role: Option<&str>,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut last_state = String::new();
    // On a terminal the state is a live line; on CI, one line per change.
    let live = std::io::stderr().is_terminal();
    let clear = if live { "\x1b[K" } else { "" };
    let mut events = Vec::new();
    loop {
        let service = describe(client, rollout).await?;
        events.extend(new_events(&service, &mut seen_events, clear));
        let ours = service.deployments().iter().find(|d| {
            if deployment_id.is_empty() {
                d.task_definition() == Some(revision)
            } else {
                d.id() == Some(deployment_id)
            }
        });
        let failure = match ours {
            None => Some(
                "the deployment is gone: the service rolled back to its previous revision"
                    .to_owned(),
            ),
            Some(d) => {
                let rollout_state = d.rollout_state();
                let state = format!(
                    "  {}: {} running {}/{} pending {}{}",
                    d.id().unwrap_or("deployment"),
                    rollout_state.map_or("-", DeploymentRolloutState::as_str),
                    d.running_count(),
                    d.desired_count(),
                    d.pending_count(),
                    if d.failed_tasks() > 0 {
                        format!(" failed tasks {}", d.failed_tasks())
                    } else {
                        String::new()
                    },
                );
                if state != last_state {
                    show_state(live, &state);
                    last_state = state;
                }
                let primary = d.status() == Some("PRIMARY");
                let complete = match rollout_state {
                    Some(DeploymentRolloutState::Completed) => true,
                    Some(_) => false,
                    None => service.deployments().len() == 1,
                };
                if rollout_state == Some(&DeploymentRolloutState::Failed) {
                    Some(format!(
                        "the deployment failed{}",
                        d.rollout_state_reason()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ))
                } else if !primary {
                    Some("the deployment is no longer PRIMARY: the service rolled back to its previous revision (deployment circuit breaker)".to_owned())
                } else if complete && d.running_count() == d.desired_count() {
                    output::err(&format!(
                        "{clear}rollout: completed in {}s",
                        started.elapsed().as_secs()
                    ));
                    return Ok(());
                } else {
                    None
                }
            }
        };
        let failure = failure.or_else(|| {
            (started.elapsed() >= rollout.timeout).then(|| {
                format!(
                    "the deployment did not complete within {} minutes",
                    rollout.timeout.as_secs_f64() / 60.0
                )
            })
        });
        if let Some(failure) = failure {
            let forensics = forensics(
                client,
                rollout,
                revision,
                deployment_id,
                &events,
                execution_role,
            )
            .await;
            if live {
                output::write(Stream::Stderr, b"\n");
            }
            return Err(Error::Rollout(format!(
                "roll-out of {revision} to service `{}` failed: {failure}{forensics}",
                rollout.service
            )));
        }
        tokio::time::sleep(rollout.poll_interval.max(Duration::from_millis(10))).await;
    }
}

/// Prints and returns the service events not seen before, oldest first.
fn new_events(service: &Service, seen: &mut HashSet<String>, clear: &str) -> Vec<String> {
    let mut fresh: Vec<String> = service
        .events()
        .iter()
        .filter(|e| e.id().is_some_and(|id| seen.insert(id.to_owned())))
        .filter_map(|e| e.message().map(str::to_owned))
        .collect();
    fresh.reverse(); // ECS lists the newest first
    for event in &fresh {
        output::err(&format!("{clear}  event: {event}"));
    }
    fresh
}

/// On a terminal, one line that updates in place (the carriage return releases it through the
/// redactor); on CI, one line per change.
fn show_state(live: bool, state: &str) {
    if live {
        output::write(Stream::Stderr, format!("\x1b[K{state}\r").as_bytes());
    } else {
        output::err(state);
    }
}

/// The last service events, the stopped tasks of the new deployment and a diagnosis.
async fn forensics(
    client: &aws_sdk_ecs::Client,
    rollout: &Rollout,
    revision: &str,
    deployment_id: &str,
    events: &[String],
    execution_role: Option<&str>,
) -> String {
    let mut text = String::new();
    let mut reasons: Vec<String> = Vec::new();
    if !events.is_empty() {
        text.push_str("\n  last service events:");
        for event in events.iter().rev().take(8).rev() {
            let _ = write!(text, "\n    {event}");
        }
        reasons.extend(events.iter().rev().take(8).cloned());
    }
    match stopped_tasks(client, rollout, revision, deployment_id).await {
        Ok(tasks) if !tasks.is_empty() => {
            text.push_str("\n  stopped tasks of the new deployment:");
            for (task, reason, containers) in tasks {
                let _ = write!(text, "\n    task {task}: {reason}");
                for (name, container_reason) in &containers {
                    let _ = write!(text, "\n      container `{name}`: {container_reason}");
                    reasons.push(container_reason.clone());
                }
                reasons.push(reason);
            }
        }
        Ok(_) => text.push_str("\n  no stopped task of the new deployment was found"),
        Err(reason) => {
            let _ = write!(text, "\n  could not read the stopped tasks: {reason}");
        }
    }
    // The most specific explanation first: task reasons are more precise than events.
    let mut diagnoses: Vec<diagnose::Diagnosis> = Vec::new();
    for reason in reasons.iter().rev() {
        if let Some(d) = diagnose::explain(reason, execution_role)
            && !diagnoses.contains(&d)
        {
            diagnoses.push(d);
        }
    }
    for d in diagnoses.iter().take(3) {
        let _ = write!(text, "\n  diagnosis: {}\n  fix: {}", d.cause, d.fix);
    }
    text
}

type StoppedTask = (String, String, Vec<(String, String)>);

async fn stopped_tasks(
    client: &aws_sdk_ecs::Client,
    rollout: &Rollout,
    revision: &str,
    deployment_id: &str,
) -> Result<Vec<StoppedTask>, String> {
    let listed = client
        .list_tasks()
        .cluster(&rollout.cluster)
        .service_name(&rollout.service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|err| aws::describe(&err))?;
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = client
        .describe_tasks()
        .cluster(&rollout.cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|err| aws::describe(&err))?;
    Ok(described
        .tasks()
        .iter()
        .filter(|t| {
            t.task_definition_arn() == Some(revision)
                || (!deployment_id.is_empty() && t.started_by() == Some(deployment_id))
        })
        .take(5)
        .map(|t| {
            let id = t
                .task_arn()
                .and_then(|a| a.rsplit('/').next())
                .unwrap_or("?")
                .to_owned();
            let reason = t.stopped_reason().unwrap_or("no reason given").to_owned();
            let containers = t
                .containers()
                .iter()
                .filter_map(|c| {
                    let reason = c.reason().map(str::to_owned).or_else(|| {
                        c.exit_code()
                            .filter(|code| *code != 0)
                            .map(|code| format!("exit code {code}"))
                    })?;
                    Some((c.name().unwrap_or("?").to_owned(), reason))
                })
                .collect();
            (id, reason, containers)
        })
        .collect())
}
