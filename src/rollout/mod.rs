//! Roll-out: check the service before anything is written, point it at the new revision, watch
//! the deployment with our own poll loop ([`watch`]) around a pure reading of the service's state
//! ([`state`]), and when it fails say why ([`forensics`]).

pub mod codedeploy;
mod forensics;
mod state;
mod watch;

use std::collections::HashSet;
use std::time::Duration;

use crate::aws::Aws;
use crate::aws::ecs::{self, NoService, Service};
use crate::ci::Ci;
use crate::error::Error;
use crate::output;

/// How to roll out, whichever service.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::struct_excessive_bools)] // independent switches, each an input of its own
pub struct Settings {
    pub desired_count: Option<i32>,
    pub force_new_deployment: bool,
    pub redeploy_on_secret_change: bool,
    pub wait: bool,
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// When time runs out while the deployment is in its bake time: succeed with a warning
    /// (production traffic is on the new revision) instead of failing.
    pub succeed_while_baking: bool,
    /// `enable-ecs-managed-tags`; `None`: the service keeps its own.
    pub managed_tags: Option<bool>,
    /// `propagate-tags`; `None`: the service keeps its own.
    pub propagate_tags: Option<String>,
    /// For a service on the `CODE_DEPLOY` controller.
    pub codedeploy: codedeploy::Settings,
}

/// The service to roll out to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub cluster: String,
    pub service: String,
}

impl Target {
    fn error(&self, what: &str) -> String {
        format!(
            "service `{}` in cluster `{}`: {what}",
            self.service, self.cluster
        )
    }
}

/// What the service is read for: a deployment needs a CodeDeploy AppSpec, a rollback does not,
/// and a one-off task (`run`) needs neither AppSpec nor deployment group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Deploy,
    Rollback,
    Run,
}

/// What the service looked like before the update.
#[derive(Debug, Clone)]
pub struct Before {
    pub task_definition: Option<String>,
    pub desired_count: i32,
    /// When the PRIMARY deployment started (epoch seconds).
    running_since: Option<i64>,
    /// The PRIMARY deployment's id and rollout state.
    primary: Option<(String, Option<String>)>,
    /// Events already there, so that only new ones are printed.
    seen_events: HashSet<String>,
    /// The service's `awsvpc` network, where a one-off task runs.
    pub awsvpc: Option<serde_json::Value>,
    /// The service deployment current before the update: one that UpdateService names again
    /// (a count-only change starts none) is not ours.
    current_service_deployment: Option<String>,
    /// The service's deployments, for `rollback` without the service-deployment API.
    deployments: Vec<ecs::Deployment>,
    /// How the service launches its tasks, for a one-off task launched the same way:
    /// `launchType`, `capacityProviderStrategy`, `platformVersion`.
    pub launch: (Option<String>, Option<serde_json::Value>, Option<String>),
    /// A service on the `CODE_DEPLOY` controller: its deployment, ready to start.
    pub code_deploy: Option<codedeploy::Prepared>,
}

impl Before {
    /// The service deployment ECS named as current before anything was done.
    pub fn current_service_deployment(&self) -> Option<&str> {
        self.current_service_deployment.as_deref()
    }

    pub fn deployments(&self) -> &[ecs::Deployment] {
        &self.deployments
    }
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
    /// Updated, all traffic on the new revision, still in its bake time when the wait ended
    /// (`succeed-while-baking`).
    Baking { deployment: String },
}

impl Outcome {
    pub fn deployment(&self) -> Option<&str> {
        match self {
            Outcome::AlreadyRunning => None,
            Outcome::Started { deployment }
            | Outcome::Completed { deployment }
            | Outcome::Baking { deployment } => Some(deployment),
        }
    }

    pub fn state(&self) -> &'static str {
        match self {
            Outcome::AlreadyRunning => "unchanged",
            Outcome::Started { .. } => "started",
            Outcome::Completed { .. } => "completed",
            Outcome::Baking { .. } => "baking",
        }
    }
}

/// The newest change of a referenced secret or parameter: the placeholder and when (epoch s).
pub type LastChange = Option<(String, i64)>;

/// Reads the service, or fails naming it.
pub async fn describe(client: &aws_sdk_ecs::Client, target: &Target) -> Result<Service, Error> {
    ecs::describe_service(client, &target.cluster, &target.service)
        .await
        .map_err(|e| no_service(target, e))
}

fn no_service(target: &Target, e: NoService) -> Error {
    Error::Aws(target.error(&match e {
        NoService::Failed(failure) => format!("DescribeServices failed: {failure}"),
        NoService::Missing(reason) => format!("not found ({reason})"),
    }))
}

/// Checks, before anything is registered, that the service exists, is ACTIVE and is driven by the
/// ECS deployment controller, or by CodeDeploy with an application and deployment group (and an
/// AppSpec) ready.
pub async fn before(
    aws: &Aws,
    target: &Target,
    settings: &Settings,
    purpose: Purpose,
) -> Result<Before, Error> {
    // Read with the lookups when the deploy started it (aws::Ahead), else now.
    let service = match aws
        .ahead
        .take_service(&target.cluster, &target.service)
        .await
    {
        Some(read) => read.map_err(|e| no_service(target, e))?,
        None => describe(&aws.ecs(), target).await?,
    };
    if service.status != "ACTIVE" {
        return Err(Error::Aws(target.error(&format!(
            "its status is {}; only an ACTIVE service can be updated",
            service.status
        ))));
    }
    let code_deploy = match service.controller.as_deref() {
        None | Some("ECS") => None,
        Some("CODE_DEPLOY") if purpose == Purpose::Run => None,
        Some("CODE_DEPLOY") => {
            Some(codedeploy::prepare(aws, target, &service, &settings.codedeploy, purpose).await?)
        }
        Some(_) if purpose == Purpose::Run => None,
        Some(kind) => {
            return Err(Error::Aws(target.error(&format!(
                "it uses the {kind} deployment controller, whose task sets ecs-secrets does not drive; register with `deploy` (no `service`) and hand the revision to that controller"
            ))));
        }
    };
    let primary = service.deployments.iter().find(|d| d.status == "PRIMARY");
    Ok(Before {
        task_definition: service.task_definition.clone(),
        desired_count: service.desired_count,
        running_since: primary.and_then(|d| d.created_at),
        primary: primary.map(|d| (d.id.clone(), d.rollout_state.clone())),
        seen_events: service.events.iter().map(|e| e.id.clone()).collect(),
        awsvpc: service.awsvpc.clone(),
        current_service_deployment: service.current_service_deployment.clone(),
        deployments: service.deployments.clone(),
        launch: (
            service.launch_type.clone(),
            service.capacity_provider_strategy.clone(),
            service.platform_version.clone(),
        ),
        code_deploy,
    })
}

/// The last part of a service-deployment ARN, which names it in the ECS console.
fn short_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn timestamp(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// One roll-out: where to, how, and what for the forensics.
pub struct Rollout<'a> {
    pub client: &'a aws_sdk_ecs::Client,
    pub target: &'a Target,
    pub settings: &'a Settings,
    pub revision: &'a str,
    pub execution_role: Option<&'a str>,
    pub ci: &'a Ci,
}

impl Rollout<'_> {
    /// Points the service at the revision and, when asked, waits for the deployment to finish.
    pub async fn run(&self, before: Before, last_change: LastChange) -> Result<Outcome, Error> {
        let (target, revision) = (self.target, self.revision);
        let count_changes = self
            .settings
            .desired_count
            .is_some_and(|count| count != before.desired_count);
        let already_running = before.task_definition.as_deref() == Some(revision);
        let force = self.settings.force_new_deployment
            || (already_running && self.secret_changed(&before, last_change.as_ref()));
        if already_running && !force && !count_changes {
            return self.already_running(before).await;
        }
        if let Some(prepared) = &before.code_deploy {
            return Box::pin(self.code_deploy(prepared, before.seen_events.clone())).await;
        }
        let change = ecs::ServiceChange {
            desired_count: self.settings.desired_count,
            force,
            managed_tags: self.settings.managed_tags,
            propagate_tags: self.settings.propagate_tags.clone(),
        };
        let updated = ecs::update_service(
            self.client,
            &target.cluster,
            &target.service,
            revision,
            &change,
        )
        .await
        .map_err(|failure| {
            Error::Aws(target.error(&format!(
                "UpdateService failed: {failure}; the service stays on {}; the new revision is {revision}",
                before
                    .task_definition
                    .as_deref()
                    .unwrap_or("its previous revision")
            )))
        })?;
        let mut updated = updated;
        // The deployment ECS named before the update is not the one this update started.
        if updated.service_deployment.is_some()
            && updated.service_deployment == before.current_service_deployment
        {
            updated.service_deployment = None;
        }
        let deployment = updated.deployment.clone();
        let named = match (&updated.service_deployment, deployment.is_empty()) {
            (Some(arn), _) => format!(" (deployment {})", short_arn(arn)),
            (None, false) => format!(" (deployment {deployment})"),
            (None, true) => String::new(),
        };
        output::err(&format!(
            "rollout: service `{}` in cluster `{}` now deploys {revision}{named}",
            target.service, target.cluster
        ));
        if !self.settings.wait {
            return Ok(Outcome::Started { deployment });
        }
        let title = format!("Waiting for service `{}`", target.service);
        let watched = self
            .ci
            .group(
                &title,
                Box::pin(self.watch_any(before.seen_events, &updated)),
            )
            .await?;
        Ok(watched.outcome(deployment))
    }

    /// `redeploy-on-secret-change`: whether a referenced secret changed after the running
    /// deployment started (said when it did).
    fn secret_changed(&self, before: &Before, last_change: Option<&(String, i64)>) -> bool {
        let (true, Some((reference, changed)), Some(since)) = (
            self.settings.redeploy_on_secret_change,
            last_change,
            before.running_since,
        ) else {
            return false;
        };
        if *changed <= since {
            return false;
        }
        output::err(&format!(
            "rollout: `{reference}` changed at {} after the running deployment started at {}; forcing a new deployment so tasks read the new value",
            timestamp(*changed),
            timestamp(since)
        ));
        true
    }

    /// The service already points at the revision: watch a roll-out under way, report a failed
    /// one, or leave it alone.
    async fn already_running(&self, before: Before) -> Result<Outcome, Error> {
        let (service, revision) = (&self.target.service, self.revision);
        match &before.primary {
            // A roll-out of this revision is under way (a run that timed out, say): watch it.
            Some((id, Some(state))) if state == "IN_PROGRESS" && self.settings.wait => {
                output::err(&format!(
                    "rollout: service `{service}` is already rolling out {revision} (deployment {id}); waiting for it"
                ));
                let deployment = id.clone();
                // The service deployment ECS names as current is this roll-out's: followed
                // through that API (any strategy), else through the service's deployments.
                let updated = ecs::Updated {
                    deployment: deployment.clone(),
                    service_deployment: before.current_service_deployment.clone(),
                };
                let watched = Box::pin(self.watch_any(before.seen_events, &updated)).await?;
                Ok(watched.outcome(deployment))
            }
            Some((id, Some(state))) if state == "FAILED" => Err(Error::Rollout(format!(
                "service `{service}` points at {revision}, but its deployment {id} FAILED; run with `force-new-deployment` to try again"
            ))),
            _ => {
                output::err(&format!(
                    "rollout: service `{service}` already runs {revision}; nothing to roll out"
                ));
                Ok(Outcome::AlreadyRunning)
            }
        }
    }
}
