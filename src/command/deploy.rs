//! `deploy`: one template, or every service of a manifest. Everything is resolved, rendered,
//! validated, preflighted and every service checked before the first write; then each
//! definition is planned against the family's latest revision, its files staged, registered
//! (or the unchanged revision reused), its files put in place, its service rolled out, and old
//! revisions pruned. A manifest's services go side by side; one that fails does not stop the
//! others, and the run fails if any did.

use std::path::PathBuf;

use futures_util::StreamExt as _;
use serde_json::Value;
use tracing::{info, warn};

use crate::artifacts::{self, Staged};
use crate::aws::ecs::{self, Latest, NotRegistered, Revision};
use crate::aws::{Aws, Failure};
use crate::check::Roles;
use crate::ci::Ci;
use crate::error::Error;
use crate::manifest::Entry;
use crate::output::{self, Stream};
use crate::plan;
use crate::prepare::{self, Definition, Definitions, Reads, Templates};
use crate::report::{self, Outputs};
use crate::rollout::{self, Before, LastChange, Target};
use crate::template::{self, Rendered};

#[allow(clippy::struct_excessive_bools)] // independent switches, each an input of its own
pub struct Deploy {
    pub definitions: Definitions,
    /// The rendered file (a single template only).
    pub output: Option<PathBuf>,
    pub artifacts: artifacts::Targets,
    pub format: report::Format,
    pub skip_unchanged: bool,
    pub plan: bool,
    pub dry_run: bool,
    pub preflight: bool,
    pub keep_revisions: Option<usize>,
    /// The cluster of `service`, and of a manifest's services that name none.
    pub cluster: String,
    /// The service of a single template.
    pub service: Option<String>,
    pub rollout: rollout::Settings,
    /// A manifest: start no further service once one failed.
    pub fail_fast: bool,
    /// A one-off task of the new revision before the service moves (`run-task`).
    pub run_task: Option<crate::oneoff::Settings>,
    /// False for `run`: the service lends the one-off task its network, and is not updated.
    pub update_service: bool,
}

/// One definition, ready to be deployed.
struct Planned {
    definition: Definition,
    target: Option<(Target, Before)>,
    last_change: LastChange,
}

/// Services of a manifest deployed at once, whatever `max-concurrency` allows the lookups. The
/// ECS writes keep to ECS's own rates whatever this says (`aws::pace`: registrations 20 at once,
/// then one a second); more services at once would only wait for tokens, and poll more services
/// while they roll out.
const SERVICES_AT_ONCE: usize = 8;

impl Deploy {
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        let mut ready = prepare::prepare(&self.definitions, Reads::Values, true, ci).await?;
        let definitions = std::mem::take(&mut ready.definitions);
        let aws = ready.aws();
        let mut roles = Roles::default();
        let mut planned = Vec::new();
        for definition in definitions {
            if self.preflight && !self.dry_run {
                super::check::preflight(aws, &definition.rendered, &mut roles, ci).await?;
            }
            // The service is checked before anything is written.
            let target = match self.target(&definition.entry) {
                Some(target) => {
                    let purpose = if self.update_service {
                        rollout::Purpose::Deploy
                    } else {
                        rollout::Purpose::Run
                    };
                    let before = rollout::before(aws, &target, &self.rollout, purpose).await?;
                    Some((target, before))
                }
                None => None,
            };
            // A run-task request that cannot be made stops the run before the first write.
            if let Some(run) = &self.run_task {
                let service = target.as_ref().map(|(_, before)| before);
                run.request(&self.cluster, "", &definition.rendered.body, service)?;
            }
            let last_change = definition.last_change(&ready.resolved);
            planned.push(Planned {
                definition,
                target,
                last_change,
            });
        }
        match self.definitions.templates {
            Templates::One(_) | Templates::Registered(_) => {
                let one = planned.pop().expect("a single template is one definition");
                let mut report = Outputs::of(&one.definition.rendered);
                self.deploy(aws, one, true, &mut report, ci).await?;
                report::print(&report, self.format, "deploy", Stream::Stdout, ci);
                Ok(())
            }
            Templates::Manifest(_) => self.deploy_many(aws, planned, ci).await,
        }
    }

    /// Where a definition rolls out to: the entry's service (a manifest's), or `service`.
    fn target(&self, entry: &Entry) -> Option<Target> {
        let service = entry.service.as_ref().or(self.service.as_ref())?;
        Some(Target {
            cluster: entry
                .cluster
                .clone()
                .unwrap_or_else(|| self.cluster.clone()),
            service: service.clone(),
        })
    }

    /// Every service of a manifest, at most `max-concurrency` (and [`SERVICES_AT_ONCE`]) at
    /// once; the report covers each, in the manifest's order, with its outcome. One that fails
    /// does not stop the others, unless `fail-fast`: then no further service starts (those under
    /// way finish).
    async fn deploy_many(&self, aws: &Aws, planned: Vec<Planned>, ci: &Ci) -> Result<(), Error> {
        let count = planned.len();
        let failed = std::sync::atomic::AtomicBool::new(false);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let (failed, done) = (&failed, &done);
        let runs = planned.into_iter().map(|one| async move {
            let mut report = Outputs::of(&one.definition.rendered);
            if self.fail_fast && failed.load(std::sync::atomic::Ordering::SeqCst) {
                report.failure = Some(report::Failure::Skipped);
            } else if let Err(e) = self.deploy(aws, one, false, &mut report, ci).await {
                failed.store(true, std::sync::atomic::Ordering::SeqCst);
                report.failure = Some(report::Failure::Failed(output::redact(&e.to_string())));
            }
            // Progress, one line a service as each ends.
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let who = report.service.as_deref().unwrap_or(report.family.as_str());
            output::err(&format!("deploy: {n}/{count} `{who}` {}", report.outcome()));
            report
        });
        let reports: Vec<Outputs> = futures_util::stream::iter(runs)
            .buffered(aws.limits.concurrency.min(SERVICES_AT_ONCE))
            .collect()
            .await;
        report::print_many(&reports, self.format, "deploy", ci);
        let failures: Vec<String> = reports
            .iter()
            .filter_map(|r| match &r.failure {
                Some(report::Failure::Failed(error)) => Some(format!("`{}`: {error}", r.family)),
                _ => None,
            })
            .collect();
        let skipped = reports
            .iter()
            .filter(|r| r.failure == Some(report::Failure::Skipped))
            .count();
        if failures.is_empty() {
            return Ok(());
        }
        let skipped = if skipped == 0 {
            String::new()
        } else {
            format!("; {skipped} not started (fail-fast)")
        };
        Err(Error::Rollout(format!(
            "{} of {count} services failed{skipped}:\n  {}",
            failures.len(),
            failures.join("\n  ")
        )))
    }

    /// Plans, stages the files (`files`: a single template's), registers unless nothing changed
    /// or this is a dry run, puts the files in place, rolls out and prunes.
    async fn deploy(
        &self,
        aws: &Aws,
        one: Planned,
        files: bool,
        report: &mut Outputs,
        ci: &Ci,
    ) -> Result<(), Error> {
        let Planned {
            definition,
            target,
            last_change,
        } = one;
        // Named from the start: a report of a service that fails says which one.
        report.service = target.as_ref().map(|(t, _)| t.service.clone());
        let mut rendered = definition.rendered;
        let client = aws.ecs();
        let (source, latest) = self
            .baseline(aws, definition.source, &mut rendered, report)
            .await?;
        if let Some((target, before)) = &target {
            self.plan_for_service(&client, target, before, latest.as_ref(), &rendered)
                .await;
        }
        // The files, as they will be registered, staged before the registration (a deploy that
        // cannot write them registers nothing) and put in place only after it.
        let staged = files.then(|| self.stage(&rendered, report)).transpose()?;
        if self.dry_run {
            info!("dry run: registering nothing");
            if let Some(staged) = staged {
                artifacts::commit(staged, &rendered, report.rendered.as_deref())?;
            }
            return Ok(());
        }
        let reused = self.reusable(source, latest.as_ref(), report.changed);
        let reuse = reused.is_some();
        let revision = match reused {
            Some(revision) => revision,
            None => register(&client, &rendered, latest.as_ref(), aws.limits.max_attempts).await?,
        };
        report.revision = Some(revision.clone());
        if let Some(staged) = staged {
            artifacts::commit(staged, &rendered, report.rendered.as_deref()).map_err(|e| {
                Error::Aws(format!(
                    "{e}; the revision {} was registered, and the service was not updated",
                    revision.arn
                ))
            })?;
        }
        if let Some(run) = &self.run_task {
            let one = crate::oneoff::OneOff {
                aws,
                settings: run,
                cluster: self.cluster_of(target.as_ref()),
                revision: &revision.arn,
                body: &rendered.body,
                service: target.as_ref().map(|(_, before)| before),
                ci,
            };
            Box::pin(self.one_off(one, report)).await?;
        }
        if let Some(to) = target.as_ref().filter(|_| self.update_service) {
            let outcome = self
                .roll_out(&client, to, &revision.arn, &rendered, last_change, ci)
                .await?;
            if to.1.code_deploy.is_some() {
                report.codedeploy_deployment = outcome.deployment().map(str::to_owned);
            }
            report.rollout = Some(outcome);
        }
        if let (Some(keep), false) = (self.keep_revisions, reuse) {
            let cluster = self.cluster_of(target.as_ref());
            prune(&client, &report.family, keep, cluster, &revision.arn).await?;
        }
        Ok(())
    }

    /// The cluster of the service rolled out to, else `cluster`.
    fn cluster_of<'a>(&'a self, target: Option<&'a (Target, Before)>) -> &'a str {
        target.map_or(self.cluster.as_str(), |(t, _)| t.cluster.as_str())
    }

    /// Points the service at the revision and, when asked, watches the deployment.
    async fn roll_out(
        &self,
        client: &aws_sdk_ecs::Client,
        (target, before): &(Target, Before),
        revision: &str,
        rendered: &Rendered,
        last_change: LastChange,
        ci: &Ci,
    ) -> Result<rollout::Outcome, Error> {
        let rollout = rollout::Rollout {
            client,
            target,
            settings: &self.rollout,
            revision,
            execution_role: rendered
                .body
                .get("executionRoleArn")
                .and_then(Value::as_str),
            ci,
        };
        rollout.run(before.clone(), last_change).await
    }

    /// With a service that runs another revision than the family's latest, the plan also shows
    /// what changes for its tasks (the plan's own `changed` stays against the latest, which
    /// `skip-unchanged` compares with).
    async fn plan_for_service(
        &self,
        client: &aws_sdk_ecs::Client,
        target: &Target,
        before: &Before,
        latest: Option<&Latest>,
        rendered: &Rendered,
    ) {
        let Some(running) = before.task_definition.as_deref() else {
            return;
        };
        if !self.plan || latest.is_some_and(|l| l.revision.arn == running) {
            return;
        }
        match ecs::describe(client, running).await {
            Ok(Some(revision)) => {
                output::err(&format!(
                    "plan: service `{}` runs {running}, not the family's latest revision; for its tasks:",
                    target.service
                ));
                plan::print(&revision, rendered);
            }
            Ok(None) => warn!(
                revision = running,
                "the revision the service runs cannot be read"
            ),
            Err(failure) => warn!(
                revision = running,
                "the revision the service runs cannot be read: {failure}"
            ),
        }
    }

    /// `run-task`: the new revision once, in the service's cluster, launched and networked as
    /// its tasks are (or in `cluster`), before the service moves. The tasks started are in the
    /// report whatever happens next.
    async fn one_off(
        &self,
        one: crate::oneoff::OneOff<'_>,
        report: &mut Outputs,
    ) -> Result<(), Error> {
        let mut started = Vec::new();
        let result = crate::oneoff::run(&one, &mut started).await;
        report.run_task = Some(started);
        result
    }

    /// The revision to deploy without registering: the unchanged revision started from, or, when
    /// nothing changed and `skip-unchanged` holds, the family's latest revision if it is ACTIVE
    /// (the emulator answers a family with an INACTIVE one).
    fn reusable(
        &self,
        source: Option<Latest>,
        latest: Option<&Latest>,
        changed: Option<bool>,
    ) -> Option<Revision> {
        if let Some(source) = source {
            return Some(source.revision);
        }
        let latest = latest?;
        let active = latest
            .body
            .get("status")
            .and_then(Value::as_str)
            .is_none_or(|s| s == "ACTIVE");
        if changed == Some(false) && self.skip_unchanged && active {
            info!(arn = %latest.revision.arn, "unchanged; registering nothing (skip-unchanged)");
            return Some(latest.revision.clone());
        }
        None
    }

    /// What the rendered definition is compared with: the registered revision it started from,
    /// when it is unchanged (deployed as it is); else the family's latest revision.
    async fn baseline(
        &self,
        aws: &Aws,
        source: Option<Latest>,
        rendered: &mut Rendered,
        report: &mut Outputs,
    ) -> Result<(Option<Latest>, Option<Latest>), Error> {
        // Only an ACTIVE revision can be deployed as it is.
        let unchanged = source.filter(|source| {
            self.skip_unchanged
                && source.body.get("status").and_then(Value::as_str) == Some("ACTIVE")
                && template::canonical(&source.body, true)
                    == template::canonical(&rendered.body, true)
        });
        if let Some(source) = unchanged {
            info!(arn = %source.revision.arn, "the revision started from is unchanged: registering nothing");
            report.changed = Some(false);
            return Ok((Some(source), None));
        }
        Ok((None, self.latest(aws, rendered, report).await?))
    }

    /// The family's latest revision (it feeds the plan, skip-unchanged, kept tags and a
    /// lost-answer check), its tags kept, and the plan printed.
    async fn latest(
        &self,
        aws: &Aws,
        rendered: &mut Rendered,
        report: &mut Outputs,
    ) -> Result<Option<Latest>, Error> {
        report.changed = Some(true);
        if !(self.plan || self.skip_unchanged || self.dry_run) {
            return Ok(None);
        }
        let family = rendered.family().to_owned();
        // Read with the lookups (aws::Ahead), else now.
        let read = match aws.ahead.take_latest(&family).await {
            Some(read) => read,
            None => ecs::latest(&aws.ecs(), &family).await,
        };
        let latest = read.map_err(|failure| {
            Error::Aws(format!(
                "cannot read the latest revision of family `{family}` (DescribeTaskDefinition): {failure}"
            ))
        })?;
        let Some(latest) = latest else {
            output::err(&format!(
                "plan: family `{family}` has no ACTIVE revision; the first one will be registered"
            ));
            return Ok(None);
        };
        // A new revision keeps the tags of the previous one (the template and `tags` win a key).
        if let Some(Value::Array(tags)) = latest.body.get("tags") {
            let pairs: Vec<(&str, &str)> = tags
                .iter()
                .filter_map(|t| Some((t.get("key")?.as_str()?, t.get("value")?.as_str()?)))
                // `aws:` keys are reserved: RegisterTaskDefinition refuses them.
                .filter(|(key, _)| !key.starts_with("aws:"))
                .collect();
            template::merge_tags(&mut rendered.body, pairs, false);
        }
        report.changed = Some(plan::print(&latest, rendered));
        Ok(Some(latest))
    }

    /// Stages the rendered file and the CodePipeline artifacts asked for.
    fn stage(&self, rendered: &Rendered, report: &mut Outputs) -> Result<Staged, Error> {
        let mut staged = Staged::default();
        if let Some(target) = &self.output {
            artifacts::stage_rendered(&mut staged, rendered, target)?;
            report.rendered = Some(target.clone());
        }
        self.artifacts.stage(&mut staged, rendered)?;
        Ok(staged)
    }
}

/// Registers the rendered definition; a lost answer is recognised by the family's latest
/// revision being this very definition.
async fn register(
    client: &aws_sdk_ecs::Client,
    rendered: &Rendered,
    latest: Option<&Latest>,
    max_attempts: u32,
) -> Result<Revision, Error> {
    let family = rendered.family();
    let tags = rendered.body.contains_key("tags");
    let ours = template::canonical(&rendered.body, tags);
    let previous = latest.map_or(0, |l| l.revision.revision);
    let landed = |candidate: &Latest| {
        candidate.revision.revision > previous && template::canonical(&candidate.body, tags) == ours
    };
    let revision = ecs::register(client, family, rendered.to_json(), max_attempts, landed)
        .await
        .map_err(|e| Error::Aws(not_registered(family, e)))?;
    info!(arn = %revision.arn, "registered revision {}", revision.revision);
    Ok(revision)
}

fn not_registered(family: &str, e: NotRegistered) -> String {
    match e {
        NotRegistered::Refused(failure) => format!(
            "ECS refused the task definition of family `{family}` (RegisterTaskDefinition): {failure}"
        ),
        NotRegistered::GaveUp(failure, attempts) => format!(
            "RegisterTaskDefinition for family `{family}` failed after {attempts} attempt{}: {failure}",
            if attempts == 1 { "" } else { "s" }
        ),
        NotRegistered::Unknown(failure, read) => format!(
            "RegisterTaskDefinition for `{family}` got no answer ({failure}), and whether it registered cannot be read: cannot read the latest revision of family `{family}` (DescribeTaskDefinition): {read}; look at the family's latest revision before running again"
        ),
    }
}

/// `keep-revisions`: deregisters ACTIVE revisions of `family` beyond the newest `keep`, never
/// `newest` nor one a service of `cluster` runs or is deploying (when the cluster's services
/// cannot be read, nothing).
async fn prune(
    client: &aws_sdk_ecs::Client,
    family: &str,
    keep: usize,
    cluster: &str,
    newest: &str,
) -> Result<(), Error> {
    let failed = |what: &str, failure: Failure| {
        Error::Aws(format!(
            "keep-revisions for family `{family}`: {what} failed: {failure}"
        ))
    };
    let arns = ecs::active_revisions(client, family)
        .await
        .map_err(|f| failed("ListTaskDefinitions", f))?;
    let in_use = match ecs::revisions_in_use(client, cluster).await {
        Ok(in_use) => in_use,
        Err(failure) => {
            warn!(cluster, "reading the cluster's services failed: {failure}");
            warn!(
                family,
                cluster,
                "keep-revisions: the cluster's services cannot be read, so nothing is deregistered"
            );
            return Ok(());
        }
    };
    let mut deregistered = Vec::new();
    for arn in arns.iter().skip(keep) {
        if arn == newest || in_use.contains(arn) {
            info!(arn = %arn, "kept: a service runs it");
            continue;
        }
        ecs::deregister(client, arn)
            .await
            .map_err(|f| failed("DeregisterTaskDefinition", f))?;
        deregistered.push(arn.rsplit(':').next().unwrap_or(arn).to_owned());
    }
    if !deregistered.is_empty() {
        info!(
            family,
            revisions = %deregistered.join(", "),
            "deregistered old revisions (keep-revisions {keep})"
        );
    }
    Ok(())
}
