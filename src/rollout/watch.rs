//! The poll loops: every `poll-interval`, our deployment's state, each change of its progress and
//! each new service event printed, until it completes, fails or time runs out. The
//! service-deployment API follows any strategy (rolling, blue/green, linear, canary); where it
//! does not answer, the service's own deployments are read instead.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use tracing::warn;

use super::state::{self, Reading};
use super::{Outcome, Rollout, describe, forensics, short_arn};
use crate::aws::ecs::{self, Service, ServiceDeployment, Updated};
use crate::error::Error;
use crate::output::{self, Stream};

/// Polls without finding our deployment after which it is said that it cannot be identified.
const UNIDENTIFIED_POLLS: u32 = 3;

/// How a watched deployment ended well.
pub(super) enum Watched {
    Completed,
    /// Still in its bake time when the wait ended, and `succeed-while-baking` is set.
    Baking,
}

impl Watched {
    pub(super) fn outcome(self, deployment: String) -> Outcome {
        match self {
            Watched::Completed => Outcome::Completed { deployment },
            Watched::Baking => Outcome::Baking { deployment },
        }
    }
}

impl Rollout<'_> {
    /// Watches the deployment `UpdateService` started: through the service-deployment API when
    /// ECS named one and answers it, else through the service's deployments.
    pub(super) async fn watch_any(
        &self,
        mut seen_events: HashSet<String>,
        updated: &Updated,
    ) -> Result<Watched, Error> {
        if let Some(arn) = &updated.service_deployment
            && let Some(watched) =
                Box::pin(self.watch_service_deployment(&mut seen_events, arn, &updated.deployment))
                    .await?
        {
            return Ok(watched);
        }
        Box::pin(self.watch(seen_events, &updated.deployment)).await
    }

    /// Follows one service deployment; `Ok(None)` when the API does not answer its first call
    /// (an older endpoint, a missing permission), so that the caller reads the service instead.
    async fn watch_service_deployment(
        &self,
        seen_events: &mut HashSet<String>,
        arn: &str,
        deployment_id: &str,
    ) -> Result<Option<Watched>, Error> {
        let started = Instant::now();
        let live = std::io::stderr().is_terminal();
        let clear = if live { "\x1b[K" } else { "" };
        let mut last_state = String::new();
        let mut events = Vec::new();
        let mut first = true;
        loop {
            let (deployment, service) = tokio::join!(
                ecs::describe_service_deployment(self.client, arn),
                describe(self.client, self.target)
            );
            let Some(deployment) = self.answered(deployment, arn, first)? else {
                return Ok(None);
            };
            first = false;
            events.extend(new_events(&service?, seen_events, clear));
            let progress = service_progress(arn, &deployment);
            if progress != last_state {
                show_state(live, &progress);
                last_state = progress;
            }
            let failure = match deployment_reading(&deployment) {
                Reading::Completed => {
                    output::err(&format!(
                        "{clear}rollout: completed in {}s",
                        started.elapsed().as_secs()
                    ));
                    return Ok(Some(Watched::Completed));
                }
                Reading::Failed(why) => why,
                Reading::Going | Reading::Unidentified => {
                    if started.elapsed() < self.settings.timeout {
                        tokio::time::sleep(
                            self.settings.poll_interval.max(Duration::from_millis(10)),
                        )
                        .await;
                        continue;
                    }
                    match self.out_of_time(&deployment, clear) {
                        Ok(watched) => return Ok(Some(watched)),
                        Err(why) => why,
                    }
                }
            };
            return Err(self.failed(&failure, deployment_id, &events, live).await);
        }
    }

    /// The roll-out's error: why, with the forensics (events, stopped tasks, diagnosis).
    pub(super) async fn failed(
        &self,
        why: &str,
        deployment_id: &str,
        events: &[String],
        live: bool,
    ) -> Error {
        let forensics = forensics::gather(self, deployment_id, events).await;
        if live {
            output::write(Stream::Stderr, b"\n");
        }
        Error::Rollout(format!(
            "roll-out of {} to service `{}` failed: {why}{forensics}",
            self.revision, self.target.service
        ))
    }

    /// One `DescribeServiceDeployments` answer: the deployment; `Ok(None)` on the first poll
    /// when the API does not answer or does not know it (the caller reads the service instead);
    /// later, an error.
    fn answered(
        &self,
        answer: Result<Option<ServiceDeployment>, crate::aws::Failure>,
        arn: &str,
        first: bool,
    ) -> Result<Option<ServiceDeployment>, Error> {
        match answer {
            Ok(Some(deployment)) => Ok(Some(deployment)),
            Ok(None) if first => {
                warn!(
                    "DescribeServiceDeployments does not know deployment {}; following the service's deployments instead",
                    short_arn(arn)
                );
                Ok(None)
            }
            Err(failure) if first => {
                warn!(
                    "DescribeServiceDeployments does not answer ({failure}); following the service's deployments instead"
                );
                Ok(None)
            }
            Ok(None) => Err(Error::Rollout(format!(
                "roll-out of {} to service `{}`: ECS no longer knows deployment {}",
                self.revision,
                self.target.service,
                short_arn(arn)
            ))),
            Err(failure) => Err(Error::Aws(format!(
                "roll-out of {} to service `{}`: DescribeServiceDeployments failed: {failure}; the deployment goes on without being watched",
                self.revision, self.target.service
            ))),
        }
    }

    /// Time ran out: in bake time, success with a warning when `succeed-while-baking` says so;
    /// otherwise the failure, saying where the deployment stood.
    fn out_of_time(&self, deployment: &ServiceDeployment, clear: &str) -> Result<Watched, String> {
        let minutes = self.settings.timeout.as_secs_f64() / 60.0;
        if deployment.stage.as_deref() != Some("BAKE_TIME") {
            return Err(format!(
                "the deployment did not complete within {minutes} minutes (status {}{})",
                deployment.status,
                deployment
                    .stage
                    .as_deref()
                    .map(|s| format!(", stage {s}"))
                    .unwrap_or_default()
            ));
        }
        let bake = deployment
            .bake_minutes
            .map(|m| format!(" (bake time {m} minutes)"))
            .unwrap_or_default();
        if self.settings.succeed_while_baking {
            output::err(&format!(
                "{clear}rollout: still in bake time{bake} after {minutes} minutes; all traffic is on the new revision, and ECS can still roll it back until the bake time ends (succeeding: `succeed-while-baking`)"
            ));
            return Ok(Watched::Baking);
        }
        Err(format!(
            "the deployment was still in its bake time{bake} after {minutes} minutes: all traffic is on the new revision, and ECS can still roll it back; raise `wait-for-minutes` above the bake time, or set `succeed-while-baking` to succeed at this point"
        ))
    }

    /// Watches deployment `deployment_id` (or, without one, the deployment of the revision)
    /// through the service's own deployments.
    pub(super) async fn watch(
        &self,
        mut seen_events: HashSet<String>,
        deployment_id: &str,
    ) -> Result<Watched, Error> {
        let started = Instant::now();
        let mut identified = false;
        let mut unidentified_polls = 0;
        let mut last_state = String::new();
        // On a terminal the state is a live line; on CI, one line per change.
        let live = std::io::stderr().is_terminal();
        let clear = if live { "\x1b[K" } else { "" };
        let mut events = Vec::new();
        loop {
            let service = describe(self.client, self.target).await?;
            events.extend(new_events(&service, &mut seen_events, clear));
            if let Some(d) = state::ours(&service, self.revision, deployment_id) {
                identified = true;
                let progress = state::progress(d);
                if progress != last_state {
                    show_state(live, &progress);
                    last_state = progress;
                }
            }
            let failure = match state::read(&service, self.revision, deployment_id) {
                Reading::Completed => {
                    output::err(&format!(
                        "{clear}rollout: completed in {}s",
                        started.elapsed().as_secs()
                    ));
                    return Ok(Watched::Completed);
                }
                Reading::Failed(why) => Some(why),
                // Gone after it was seen: rolled back. Never seen: ECS's answer does not name
                // it (an emulator, an older endpoint), and nothing can be said of its fate.
                Reading::Unidentified if identified => Some(
                    "the deployment is gone: the service rolled back to its previous revision"
                        .to_owned(),
                ),
                Reading::Unidentified => {
                    unidentified_polls += 1;
                    (unidentified_polls >= UNIDENTIFIED_POLLS || started.elapsed() >= self.settings.timeout).then(|| {
                        format!(
                            "the deployment cannot be identified in ECS's answer (no deployment of the service carries {}); it was not followed, and whether it completes is unknown: look at the service in the ECS console",
                            if deployment_id.is_empty() { format!("the revision {}", self.revision) } else { format!("id {deployment_id} or the revision") }
                        )
                    })
                }
                Reading::Going => (started.elapsed() >= self.settings.timeout).then(|| {
                    format!(
                        "the deployment did not complete within {} minutes",
                        self.settings.timeout.as_secs_f64() / 60.0
                    )
                }),
            };
            if let Some(failure) = failure {
                return Err(self.failed(&failure, deployment_id, &events, live).await);
            }
            tokio::time::sleep(self.settings.poll_interval.max(Duration::from_millis(10))).await;
        }
    }
}

/// The line that shows a service deployment's progress.
fn service_progress(arn: &str, d: &ServiceDeployment) -> String {
    let mut line = format!("  deployment {}: {}", short_arn(arn), d.status);
    if let Some(strategy) = &d.strategy {
        let _ = write!(line, " · {strategy}");
    }
    if let Some(stage) = &d.stage {
        let _ = write!(line, " · stage {stage}");
    }
    if !d.triggered_alarms.is_empty() {
        let _ = write!(line, " · alarms fired: {}", d.triggered_alarms.join(", "));
    }
    line
}

/// What a service deployment's status says: success only on `SUCCESSFUL`; a stop or any rollback
/// is a failure with its reason and the alarms that fired.
fn deployment_reading(d: &ServiceDeployment) -> Reading {
    let because = |what: &str| {
        let mut why = what.to_owned();
        for reason in [&d.rollback_reason, &d.status_reason].into_iter().flatten() {
            let _ = write!(why, ": {reason}");
        }
        if !d.triggered_alarms.is_empty() {
            let _ = write!(why, " (alarms fired: {})", d.triggered_alarms.join(", "));
        }
        why
    };
    match d.status.as_str() {
        "SUCCESSFUL" => Reading::Completed,
        "PENDING" | "IN_PROGRESS" => Reading::Going,
        "STOPPED" => Reading::Failed(because("the deployment was stopped")),
        "STOP_REQUESTED" => Reading::Failed(because("the deployment is being stopped")),
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {
            Reading::Failed(because("the deployment is being rolled back"))
        }
        "ROLLBACK_SUCCESSFUL" => Reading::Failed(because(
            "the deployment was rolled back to the previous revision",
        )),
        "ROLLBACK_FAILED" => Reading::Failed(because(
            "the deployment failed and so did its rollback: the service may run neither revision fully",
        )),
        other => Reading::Failed(because(&format!("the deployment ended in status {other}"))),
    }
}

/// Prints and returns the service events not seen before, oldest first.
pub(super) fn new_events(
    service: &Service,
    seen: &mut HashSet<String>,
    clear: &str,
) -> Vec<String> {
    let mut fresh: Vec<String> = service
        .events
        .iter()
        .filter(|e| seen.insert(e.id.clone()))
        .map(|e| e.message.clone())
        .collect();
    fresh.reverse(); // ECS lists the newest first
    for event in &fresh {
        output::err(&format!("{clear}  event: {event}"));
    }
    fresh
}

/// On a terminal, one line that updates in place (the carriage return releases it through the
/// redactor); on CI, one line per change.
pub(super) fn show_state(live: bool, state: &str) {
    if live {
        output::write(Stream::Stderr, format!("\x1b[K{state}\r").as_bytes());
    } else {
        output::err(state);
    }
}
