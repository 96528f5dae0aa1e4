//! `rollback`: put a service back on the revision it ran before. A service deployment in
//! progress is stopped with rollback (`StopServiceDeployment`, type `ROLLBACK`) and watched until
//! ECS says the rollback succeeded; a finished one is undone by rolling out the revision it
//! replaced (from the service deployment's source revision, or, where that API does not answer,
//! from the service's older deployment), watched like any roll-out.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use tracing::warn;

use crate::aws::ecs::{self, ServiceDeployment};
use crate::aws::{self, Aws};
use crate::ci::Ci;
use crate::error::Error;
use crate::output::{self, Stream};
use crate::rollout::{self, Before, Target};

pub struct Rollback {
    pub target: Target,
    pub settings: rollout::Settings,
    pub aws: aws::Settings,
}

impl Rollback {
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        let aws = Aws::load(&self.aws).await?;
        let client = aws.ecs();
        let before = rollout::before(
            &aws,
            &self.target,
            &self.settings,
            rollout::Purpose::Rollback,
        )
        .await?;
        if let Some(prepared) = &before.code_deploy {
            let state = prepared.roll_back(&self.target, &self.settings).await?;
            self.report("", state, ci);
            return Ok(());
        }
        let current = match before.current_service_deployment() {
            Some(arn) => match ecs::describe_service_deployment(&client, arn).await {
                Ok(Some(deployment)) => Some((arn.to_owned(), deployment)),
                Ok(None) => None,
                Err(failure) => {
                    warn!(
                        "DescribeServiceDeployments does not answer ({failure}); reading the service's deployments instead"
                    );
                    None
                }
            },
            None => None,
        };
        if let Some((arn, deployment)) = &current
            && matches!(deployment.status.as_str(), "PENDING" | "IN_PROGRESS")
        {
            return self.stop_with_rollback(&client, arn, ci).await;
        }
        let previous = match &current {
            Some((_, deployment)) => self.source_revision(&client, deployment).await?,
            None => previous_from_deployments(&before),
        }
        .ok_or_else(|| {
            Error::Rollout(format!(
                "service `{}` in cluster `{}`: the revision it ran before cannot be told (no deployment in progress, and ECS names no earlier revision); deploy the revision you want with `deploy --task-definition FAMILY:REVISION`",
                self.target.service, self.target.cluster
            ))
        })?;
        output::err(&format!(
            "rollback: service `{}` goes back to {previous}",
            self.target.service
        ));
        let rollout = rollout::Rollout {
            client: &client,
            target: &self.target,
            settings: &self.settings,
            revision: &previous,
            execution_role: None,
            ci,
        };
        let outcome = Box::pin(rollout.run(before, None)).await?;
        self.report(&previous, outcome.state(), ci);
        Ok(())
    }

    /// The revision the finished deployment replaced.
    async fn source_revision(
        &self,
        client: &aws_sdk_ecs::Client,
        deployment: &ServiceDeployment,
    ) -> Result<Option<String>, Error> {
        let Some(revision) = deployment.source_revisions.first() else {
            return Ok(None);
        };
        ecs::revision_task_definition(client, revision)
            .await
            .map_err(|f| {
                Error::Aws(format!(
                    "cannot read service revision {revision} (DescribeServiceRevisions): {f}"
                ))
            })
    }

    /// Stops the deployment in progress with rollback and, when asked, waits until ECS says the
    /// rollback succeeded.
    async fn stop_with_rollback(
        &self,
        client: &aws_sdk_ecs::Client,
        arn: &str,
        ci: &Ci,
    ) -> Result<(), Error> {
        ecs::stop_with_rollback(client, arn).await.map_err(|f| {
            Error::Aws(format!(
                "StopServiceDeployment of {arn} failed: {f}; the deployment goes on"
            ))
        })?;
        output::err(&format!(
            "rollback: deployment {} of service `{}` stopped with rollback",
            short(arn),
            self.target.service
        ));
        if !self.settings.wait {
            self.report("", "rolling-back", ci);
            return Ok(());
        }
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let deployment = ecs::describe_service_deployment(client, arn)
                .await
                .map_err(|f| Error::Aws(format!("DescribeServiceDeployments failed: {f}")))?
                .ok_or_else(|| {
                    Error::Rollout(format!("ECS no longer knows deployment {}", short(arn)))
                })?;
            if deployment.status != last {
                output::err(&format!(
                    "  deployment {}: {}",
                    short(arn),
                    deployment.status
                ));
                last.clone_from(&deployment.status);
            }
            match deployment.status.as_str() {
                "ROLLBACK_SUCCESSFUL" => {
                    output::err("rollback: completed");
                    self.report("", "rolled-back", ci);
                    return Ok(());
                }
                "ROLLBACK_FAILED" => {
                    return Err(Error::Rollout(format!(
                        "the rollback of service `{}` failed{}",
                        self.target.service,
                        deployment
                            .status_reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    )));
                }
                _ if started.elapsed() >= self.settings.timeout => {
                    return Err(Error::Rollout(format!(
                        "the rollback of service `{}` did not finish within {} minutes (status {last})",
                        self.target.service,
                        self.settings.timeout.as_secs_f64() / 60.0
                    )));
                }
                _ => {
                    tokio::time::sleep(self.settings.poll_interval.max(Duration::from_millis(10)))
                        .await;
                }
            }
        }
    }

    /// `service=…`, the revision gone back to (when one was rolled out) and the outcome.
    fn report(&self, revision: &str, state: &str, ci: &Ci) {
        let mut pairs = vec![("service", self.target.service.clone())];
        if !revision.is_empty() {
            pairs.push(("task-definition-arn", revision.to_owned()));
        }
        pairs.push(("rollout", state.to_owned()));
        let text = pairs.iter().fold(String::new(), |mut text, (k, v)| {
            let _ = writeln!(text, "{k}={v}");
            text
        });
        output::write_exact(Stream::Stdout, &text);
        ci.set_outputs(&pairs);
    }
}

/// Without the service-deployment API: the task definition of the service's older deployment,
/// while one is still there (a roll-out in progress).
fn previous_from_deployments(before: &Before) -> Option<String> {
    let current = before.task_definition.as_deref();
    before
        .deployments()
        .iter()
        .filter(|d| d.status != "PRIMARY")
        .filter_map(|d| d.task_definition.clone())
        .find(|td| Some(td.as_str()) != current)
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
