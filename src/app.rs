//! The pipeline, top to bottom: template → references → resolve → render → validate → plan →
//! register → report. No SDK types here.

use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use std::collections::HashMap;

use serde_json::Value;
use tracing::{info, warn};

use crate::artifacts;
use crate::aws::Aws;
use crate::check;
use crate::ci::github;
use crate::ecs::{self, Revision};
use crate::error::{Error, Problem, Problems};
use crate::inputs::{Command, Inputs, ReportFormat, Rollout};
use crate::mask::{MIN_MASKED_LEN, Secret};
use crate::output;
use crate::placeholder::Reference;
use crate::plan;
use crate::policy;
use crate::resolve;
use crate::rollout;
use crate::taskdef::{self, Rendered};

/// What a run did, for the report and the CI outputs.
#[derive(Debug)]
pub struct Report {
    pub family: String,
    /// The revision registered, or the unchanged one reused; `None` for `render` and dry runs.
    pub revision: Option<Revision>,
    /// Whether the definition differs from the family's latest revision.
    pub changed: bool,
    /// Where the rendered definition was written.
    pub rendered: Option<PathBuf>,
    /// The service rolled out to, and what happened to it.
    pub service: Option<String>,
    pub rollout: Option<rollout::Outcome>,
    /// Each container's image and secret references, for the step summary.
    pub containers: Vec<ContainerSummary>,
}

/// What a run leaves for the report.
#[derive(Debug)]
pub enum Done {
    /// One definition's report.
    One(Report),
    /// A manifest's reports, one per service.
    Many(Vec<Report>),
    /// The command printed its own output (`check`, `policy`, `export`).
    Own,
}

impl Report {
    fn empty() -> Self {
        Self {
            family: String::new(),
            revision: None,
            changed: false,
            rendered: None,
            service: None,
            rollout: None,
            containers: Vec::new(),
        }
    }
}

/// A container as the summary shows it: names and references, never values.
#[derive(Debug)]
pub struct ContainerSummary {
    pub name: String,
    pub image: String,
    /// `secrets[]` and `logConfiguration.secretOptions[]`: name → `valueFrom`.
    pub secrets: Vec<(String, String)>,
}

impl ContainerSummary {
    fn of(rendered: &Rendered) -> Vec<Self> {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        taskdef::containers(&rendered.body)
            .enumerate()
            .map(|(i, c)| Self {
                name: text(c.get("name")),
                image: text(c.get("image")),
                secrets: taskdef::secret_entries(i, c)
                    .into_iter()
                    .map(|e| {
                        let owned = |v: Option<&str>| v.unwrap_or_default().to_owned();
                        (owned(e.name), owned(e.value_from))
                    })
                    .collect(),
            })
            .collect()
    }
}

pub async fn run(inputs: &Inputs) -> Result<Done, Error> {
    if inputs.ci.codebuild {
        info!(
            "on CodeBuild: CodeBuild masks only the secrets it injects itself; values this tool fetches are protected by its own redaction"
        );
    }

    if inputs.command == Command::Export {
        return export(inputs).await.map(|()| Done::Own);
    }
    match (inputs.command, &inputs.manifest) {
        (Command::Deploy, Some(path)) => {
            return deploy_many(inputs, path).await.map(Done::Many);
        }
        (Command::Check, Some(path)) => {
            return check_many(inputs, path).await.map(|()| Done::Own);
        }
        // The inputs refuse a manifest for the other commands.
        _ => {}
    }

    // Template → references. Everything that can be wrong without AWS fails here, before any call.
    let mut template = taskdef::load(&inputs.task_definition)?;
    taskdef::apply_inputs(&mut template, inputs, &inputs.images)?;
    let slots = taskdef::slots(&template)?;
    // `check` and `policy` read metadata only: no secret value.
    let read_values = matches!(inputs.command, Command::Render | Command::Deploy);
    let (aws, resolved) = resolve_all(inputs, &slots, read_values).await?;
    #[cfg(debug_assertions)]
    if inputs.environment.contains_key("ECS_SECRETS_DEBUG_PANIC") {
        // Debug builds only, for the leak suite: a panic whose message carries a value must
        // still print `***`. Only a value long enough to be masked is used.
        let value = resolved
            .values()
            .find(|r| r.secret && r.text.expose().len() >= MIN_MASKED_LEN)
            .map(|r| r.text.expose());
        panic!(
            "debug panic carrying a value: {}",
            value.unwrap_or_default()
        );
    }

    // Render and validate.
    let mut rendered = taskdef::render(template, &slots, &resolved);
    taskdef::validate(&rendered, &inputs.task_definition)?;
    check_shape(&rendered, &inputs.task_definition)?;

    let mut report = Report {
        family: rendered.family().to_owned(),
        revision: None,
        changed: true,
        rendered: None,
        service: None,
        rollout: None,
        containers: ContainerSummary::of(&rendered),
    };
    match inputs.command {
        Command::Render => {
            // Every file staged before the first one is in place; stdout last.
            let staged = stage_files(inputs, &rendered, &mut report)?;
            if inputs.output.is_none() {
                artifacts::print_rendered(&rendered)?;
            }
            commit_files(staged, &rendered, &report)?;
        }
        Command::Deploy => {
            let aws = loaded(aws);
            if inputs.preflight && !inputs.dry_run {
                preflight(inputs, &aws, &rendered, &mut check::Roles::default()).await?;
            }
            // The newest change of anything referenced, for `redeploy-on-secret-change`.
            let last_change = slots
                .iter()
                .flat_map(taskdef::Slot::references)
                .filter_map(|(reference, raw, _)| {
                    Some((raw.to_owned(), resolved.get(reference)?.changed_at?))
                })
                .max_by_key(|(_, at)| *at);
            // The service is checked before anything is written.
            let target = match &inputs.rollout {
                Some(target) => Some((target, rollout::check(&aws.ecs(), target).await?)),
                None => None,
            };
            deploy(
                inputs,
                target,
                &aws,
                &mut rendered,
                last_change,
                &mut report,
                true,
            )
            .await?;
        }
        Command::Check => {
            check(inputs, &loaded(aws), &rendered).await?;
            return Ok(Done::Own);
        }
        Command::Export => unreachable!("export returns before the template"),
        Command::Policy => {
            let policies = policies(inputs, &loaded(aws), &rendered, &slots, &resolved).await;
            // Exact: ARNs and actions, no value (a redactor that knew a value as common as the
            // Region would corrupt every ARN).
            output::write_exact(output::Stream::Stdout, &policies);
            return Ok(Done::Own);
        }
    }
    Ok(Done::One(report))
}

/// Each manifest entry with its loaded template and the range of its placeholders in the slots.
type Prepared<'a> = Vec<(
    &'a crate::manifest::Entry,
    taskdef::Template,
    std::ops::Range<usize>,
)>;

/// Loads every template of the manifest with its inputs, and collects all their placeholders.
fn prepare_many<'a>(
    inputs: &Inputs,
    entries: &'a [crate::manifest::Entry],
) -> Result<(Prepared<'a>, Vec<taskdef::Slot>), Error> {
    let mut prepared = Vec::new();
    let mut all_slots = Vec::new();
    let mut used_images = std::collections::BTreeSet::new();
    for entry in entries {
        let mut template = taskdef::load(&entry.task_definition)?;
        // A named `image` input applies to the templates that have that container.
        let names: Vec<&str> = taskdef::containers(&template.body)
            .filter_map(|c| c.get("name").and_then(Value::as_str))
            .collect();
        let global = inputs.images.iter().filter(|image| match &image.container {
            Some(name) => names.contains(&name.as_str()),
            None => true,
        });
        used_images.extend(global.clone().filter_map(|i| i.container.clone()));
        let images: Vec<_> = global.chain(&entry.images).cloned().collect();
        taskdef::apply_inputs(&mut template, inputs, &images)?;
        let slots = taskdef::slots(&template)?;
        let range = all_slots.len()..all_slots.len() + slots.len();
        all_slots.extend(slots);
        prepared.push((entry, template, range));
    }
    if let Some(unused) = inputs
        .images
        .iter()
        .filter_map(|i| i.container.as_ref())
        .find(|name| !used_images.contains(*name))
    {
        return Err(Error::Usage(format!(
            "input `image`: no template of the manifest has a container named `{unused}`"
        )));
    }
    Ok((prepared, all_slots))
}

/// Resolves every placeholder of `slots`: `env` locally, then AWS in one batched pass (values
/// only when `read_values`; `check` and `policy` read metadata), then refuses secret values in
/// plain text unless allowed. Returns the AWS set-up for what follows.
async fn resolve_all(
    inputs: &Inputs,
    slots: &[taskdef::Slot],
    read_values: bool,
) -> Result<(Option<Aws>, HashMap<Reference, taskdef::Resolved>), Error> {
    let protect = |secret: &Secret, label: &str| protect(inputs, secret, label);
    let mut resolved = resolve::resolve_local(
        slots,
        &inputs.environment,
        inputs.allow_plaintext_secrets,
        &protect,
    )?;
    let remote = slots
        .iter()
        .flat_map(taskdef::Slot::references)
        .any(|(reference, _, _)| !matches!(reference, Reference::Env { .. }));
    // A render of `env` placeholders only needs no AWS at all, not even a Region.
    if inputs.command == Command::Render && !remote {
        return Ok((None, resolved));
    }
    let aws = Aws::load(inputs.region.as_deref(), inputs.limits).await?;
    let mode = resolve::Mode {
        decrypt: inputs.allow_plaintext_secrets && read_values,
        read_secret_values: read_values,
    };
    resolved.extend(resolve::resolve_remote(slots, &aws, mode, &protect).await?);
    resolve::refuse_plaintext(slots, &resolved, inputs.allow_plaintext_secrets)?;
    Ok((Some(aws), resolved))
}

/// The AWS set-up of a command that always makes calls (every command but `render`).
fn loaded(aws: Option<Aws>) -> Aws {
    aws.expect("resolve_all loads AWS for every command but a render without AWS references")
}

/// `deploy` of a manifest: every template prepared and every reference resolved in one batched
/// pass, every service checked, all before the first write; then each service deployed (at most
/// `max-concurrency` at once). One failing service does not stop the others; the run fails if
/// any failed, and the report covers each.
async fn deploy_many(inputs: &Inputs, path: &Path) -> Result<Vec<Report>, Error> {
    let entries = crate::manifest::load(path)?;
    let (prepared, all_slots) = prepare_many(inputs, &entries)?;
    let (aws, resolved) = resolve_all(inputs, &all_slots, true).await?;
    let aws = loaded(aws);

    let client = aws.ecs();
    let mut ready = Vec::new();
    let mut roles = check::Roles::default();
    for (entry, template, range) in prepared {
        let rendered = taskdef::render(template, &all_slots[range.clone()], &resolved);
        taskdef::validate(&rendered, &entry.task_definition)?;
        check_shape(&rendered, &entry.task_definition)?;
        if inputs.preflight && !inputs.dry_run {
            preflight(inputs, &aws, &rendered, &mut roles).await?;
        }
        let target = entry.service.as_ref().map(|service| Rollout {
            service: service.clone(),
            cluster: entry
                .cluster
                .clone()
                .unwrap_or_else(|| inputs.rollout_settings.cluster.clone()),
            ..inputs.rollout_settings.clone()
        });
        let before = match &target {
            Some(target) => Some(rollout::check(&client, target).await?),
            None => None,
        };
        let last_change = all_slots[range]
            .iter()
            .flat_map(taskdef::Slot::references)
            .filter_map(|(reference, raw, _)| {
                Some((raw.to_owned(), resolved.get(reference)?.changed_at?))
            })
            .max_by_key(|(_, at)| *at);
        ready.push((rendered, target, before, last_change));
    }

    let aws = &aws;
    let runs = ready
        .into_iter()
        .map(|(mut rendered, target, before, last_change)| async move {
            let mut report = Report {
                family: rendered.family().to_owned(),
                containers: ContainerSummary::of(&rendered),
                ..Report::empty()
            };
            report.changed = true;
            let target = target.as_ref().zip(before);
            let result = deploy(
                inputs,
                target,
                aws,
                &mut rendered,
                last_change,
                &mut report,
                false,
            )
            .await;
            (report, result)
        });
    let outcomes: Vec<(Report, Result<(), Error>)> = futures_util::stream::iter(runs)
        .buffer_unordered(inputs.limits.concurrency)
        .collect()
        .await;
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|(report, result)| {
            result
                .as_ref()
                .err()
                .map(|e| format!("`{}`: {e}", report.family))
        })
        .collect();
    let reports: Vec<Report> = outcomes.into_iter().map(|(report, _)| report).collect();
    if failures.is_empty() {
        Ok(reports)
    } else {
        crate::report::print_many(&reports, inputs);
        Err(Error::Rollout(format!(
            "{} of {} services failed:\n  {}",
            failures.len(),
            entries.len(),
            failures.join("\n  ")
        )))
    }
}

/// `export`: values as variables, to the destinations asked for; the report names them only.
async fn export(inputs: &Inputs) -> Result<(), Error> {
    let settings = &inputs.export;
    if settings.ids.iter().all(|l| l.trim().is_empty()) {
        return Err(Error::Usage("`export` needs `secret-ids`".to_owned()));
    }
    let github_env = inputs
        .ci
        .github
        .as_ref()
        .and_then(|g| g.env.as_ref())
        .filter(|_| settings.github_env);
    if github_env.is_none() && settings.env_file.is_none() && !settings.stdout {
        return Err(Error::Usage(
            "`export` has nowhere to put the values: give `env-file`, run on GitHub (`GITHUB_ENV`), or set `export-to-stdout`"
                .to_owned(),
        ));
    }
    let aws = Aws::load(inputs.region.as_deref(), inputs.limits).await?;
    let protect = |secret: &Secret, label: &str| protect(inputs, secret, label);
    let variables = crate::export::fetch(
        &aws,
        &settings.ids,
        settings.casing,
        settings.parse_json,
        &protect,
    )
    .await?;
    let pairs: Vec<(String, &str)> = variables
        .iter()
        .map(|v| (v.name.clone(), v.value.expose()))
        .collect();
    // The env file staged first, GITHUB_ENV appended, then the file put in place: when that
    // fails, GITHUB_ENV is cut back to what it was, and nothing of the run is left behind.
    let mut staged = artifacts::Staged::default();
    if let Some(path) = &settings.env_file {
        let text = pairs.iter().fold(String::new(), |mut text, (name, value)| {
            text.push_str(name);
            text.push('=');
            text.push_str(&crate::report::shell_quote(value));
            text.push('\n');
            text
        });
        staged.file(path, text.as_bytes(), true)?;
    }
    let appended = match github_env {
        Some(path) => Some((
            path,
            github::set_values(path, &pairs).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?,
        )),
        None => None,
    };
    if let Err(error) = staged.commit() {
        if let Some((path, before)) = appended {
            github::truncate(path, before);
        }
        return Err(error);
    }
    if settings.stdout {
        for (name, value) in &pairs {
            // Asked for in so many words: the values go out as they are.
            output::write_unredacted_line(
                output::Stream::Stdout,
                &format!("export {name}={}", crate::report::shell_quote(value)),
            );
        }
    }
    let names: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
    output::err(&format!(
        "export: {} variable{}: {} (values not shown)",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    ));
    Ok(())
}

/// `check`: the report on stdout; an error when anything failed.
async fn check(inputs: &Inputs, aws: &Aws, rendered: &Rendered) -> Result<(), Error> {
    let checked = check_one(inputs, aws, rendered, &mut check::Roles::default()).await;
    // The JSON report is exact (machine-readable, and a check reports no value); the text report
    // is read by people and redacted like the log.
    match inputs.report_format {
        ReportFormat::Json => output::write_exact(output::Stream::Stdout, &checked.json()),
        _ => output::write(output::Stream::Stdout, checked.text().as_bytes()),
    }
    check_outcome(checked.failed())
}

/// The check of one rendered definition, annotated on GitHub.
async fn check_one(
    inputs: &Inputs,
    aws: &Aws,
    rendered: &Rendered,
    roles: &mut check::Roles,
) -> check::Report {
    let protect = |secret: &Secret, label: &str| protect(inputs, secret, label);
    let read_values: Option<crate::mask::OnSecret<'_>> = if inputs.read_values {
        Some(&protect)
    } else {
        None
    };
    let checked = check::run(aws, rendered, read_values, roles).await;
    if let Some(github) = &inputs.ci.github {
        crate::ci::github::annotate_check(github, &checked);
    }
    checked
}

fn check_outcome(failed: usize) -> Result<(), Error> {
    if failed == 0 {
        return Ok(());
    }
    Err(Error::Check(format!(
        "check failed: {failed} problem{} would stop tasks from reading their secrets",
        if failed == 1 { "" } else { "s" }
    )))
}

/// `check` of a manifest: every template resolved in one batched pass (metadata only), then each
/// checked, its report under a heading with its family and file (one JSON document for all).
async fn check_many(inputs: &Inputs, path: &Path) -> Result<(), Error> {
    let entries = crate::manifest::load(path)?;
    let (prepared, all_slots) = prepare_many(inputs, &entries)?;
    let (aws, resolved) = resolve_all(inputs, &all_slots, false).await?;
    let aws = loaded(aws);
    // Every template valid before the first report: an invalid one stops the run, not half of it.
    let mut ready = Vec::new();
    for (entry, template, range) in prepared {
        let rendered = taskdef::render(template, &all_slots[range], &resolved);
        taskdef::validate(&rendered, &entry.task_definition)?;
        check_shape(&rendered, &entry.task_definition)?;
        ready.push((entry, rendered));
    }
    let mut failed = 0;
    let mut documents = Vec::new();
    let mut roles = check::Roles::default();
    for (entry, rendered) in ready {
        let checked = check_one(inputs, &aws, &rendered, &mut roles).await;
        failed += checked.failed();
        let file = entry.task_definition.display().to_string();
        match inputs.report_format {
            ReportFormat::Json => {
                let mut document = checked.to_value();
                document["family"] = rendered.family().into();
                document["task-definition"] = file.into();
                documents.push(document);
            }
            _ => output::write(
                output::Stream::Stdout,
                format!("== {} ({file})\n{}", rendered.family(), checked.text()).as_bytes(),
            ),
        }
    }
    if inputs.report_format == ReportFormat::Json {
        let all = serde_json::json!({ "ok": failed == 0, "task-definitions": documents });
        let text = serde_json::to_string_pretty(&all).expect("JSON serialises") + "\n";
        output::write_exact(output::Stream::Stdout, &text);
    }
    check_outcome(failed)
}

/// `policy`: both policies as one JSON document.
async fn policies(
    inputs: &Inputs,
    aws: &Aws,
    rendered: &Rendered,
    slots: &[taskdef::Slot],
    resolved: &std::collections::HashMap<crate::placeholder::Reference, taskdef::Resolved>,
) -> String {
    let checked = check::run(aws, rendered, None, &mut check::Roles::default()).await;
    let region = aws.region().unwrap_or("us-east-1");
    let service = inputs
        .rollout
        .as_ref()
        .map(|r| (r.cluster.as_str(), r.service.as_str()));
    let policies = serde_json::json!({
        "execution-role": policy::execution_role(&checked.needs, region),
        "deployer": policy::deployer(
            rendered,
            slots,
            resolved,
            region,
            service,
            policy::Extras {
                preflight: inputs.preflight.then_some(checked.reads.as_slice()),
                keep_revisions: inputs.keep_revisions.is_some(),
            },
        ),
    });
    serde_json::to_string_pretty(&policies).expect("JSON serialises") + "\n"
}

/// `preflight`: the check, before anything is registered; its tree goes to stderr.
async fn preflight(
    inputs: &Inputs,
    aws: &Aws,
    rendered: &Rendered,
    roles: &mut check::Roles,
) -> Result<(), Error> {
    let checked = check::run(aws, rendered, None, roles).await;
    if checked.failed() == 0 {
        info!("preflight: the execution role can read every secret");
        return Ok(());
    }
    output::write(output::Stream::Stderr, checked.text().as_bytes());
    if let Some(github) = &inputs.ci.github {
        crate::ci::github::annotate_check(github, &checked);
    }
    Err(Error::Check(format!(
        "preflight failed ({} problem{}); nothing was registered",
        checked.failed(),
        if checked.failed() == 1 { "" } else { "s" }
    )))
}

/// Plan, then register unless nothing changed or this is a dry run.
#[allow(clippy::too_many_arguments)] // reshaped with the command modules
async fn deploy(
    inputs: &Inputs,
    target: Option<(&Rollout, rollout::Before)>,
    aws: &Aws,
    rendered: &mut Rendered,
    last_change: rollout::LastChange,
    report: &mut Report,
    files: bool,
) -> Result<(), Error> {
    let client = aws.ecs();
    // The latest revision feeds the plan, skip-unchanged, kept tags and a lost-answer check.
    let needs_latest = inputs.plan || inputs.skip_unchanged || inputs.dry_run;
    let latest = if needs_latest {
        ecs::latest(&client, &report.family).await?
    } else {
        None
    };
    // A new revision keeps the tags of the previous one (the template and `tags` win a key).
    if let Some(Value::Array(tags)) = latest.as_ref().and_then(|l| l.body.get("tags")) {
        let pairs: Vec<(&str, &str)> = tags
            .iter()
            .filter_map(|t| Some((t.get("key")?.as_str()?, t.get("value")?.as_str()?)))
            // `aws:` keys are reserved: RegisterTaskDefinition refuses them.
            .filter(|(key, _)| !key.starts_with("aws:"))
            .collect();
        taskdef::merge_tags(&mut rendered.body, pairs, false);
    }
    if let Some(latest) = &latest {
        report.changed = print_plan(latest, rendered, &report.family);
    } else if needs_latest {
        output::err(&format!(
            "plan: family `{}` has no ACTIVE revision; the first one will be registered",
            report.family
        ));
    }
    // The files, as they will be registered, staged before the registration (a deploy that
    // cannot write them registers nothing) and put in place only after it.
    let staged = if files {
        Some(stage_files(inputs, rendered, report)?)
    } else {
        None
    };
    if inputs.dry_run {
        info!("dry run: registering nothing");
        if let Some(staged) = staged {
            commit_files(staged, rendered, report)?;
        }
        return Ok(());
    }
    let reuse = !report.changed && inputs.skip_unchanged;
    let revision = if let (Some(latest), true) = (&latest, reuse) {
        info!(arn = %latest.revision.arn, "unchanged; registering nothing (skip-unchanged)");
        latest.revision.clone()
    } else {
        let tags = rendered.body.contains_key("tags");
        let ours = taskdef::canonical(&rendered.body, tags);
        let previous = latest.as_ref().map_or(0, |l| l.revision.revision);
        let landed = |candidate: &ecs::Latest| {
            candidate.revision.revision > previous
                && taskdef::canonical(&candidate.body, tags) == ours
        };
        let revision = ecs::register(
            &client,
            &report.family,
            rendered.to_json(),
            inputs.limits.max_attempts,
            landed,
        )
        .await?;
        info!(arn = %revision.arn, "registered revision {}", revision.revision);
        revision
    };
    report.revision = Some(revision.clone());
    if let Some(staged) = staged {
        commit_files(staged, rendered, report).map_err(|e| {
            Error::Aws(format!(
                "{e}; the revision {} was registered, and the service was not updated",
                revision.arn
            ))
        })?;
    }
    if let Some((target, before)) = target {
        report.service = Some(target.service.clone());
        let execution_role = rendered
            .body
            .get("executionRoleArn")
            .and_then(|v| v.as_str());
        let github = inputs.ci.github.is_some();
        report.rollout = Some(
            rollout::run(
                &client,
                target,
                before,
                &revision.arn,
                last_change,
                execution_role,
                github,
            )
            .await?,
        );
    }
    if let (Some(keep), false) = (inputs.keep_revisions, reuse) {
        let cluster = inputs
            .rollout
            .as_ref()
            .map_or(inputs.rollout_settings.cluster.as_str(), |r| {
                r.cluster.as_str()
            });
        ecs::prune(&client, &report.family, keep, cluster, &revision.arn).await?;
    }
    Ok(())
}

/// Stages the rendered file and the CodePipeline artifacts the inputs ask for.
fn stage_files(
    inputs: &Inputs,
    rendered: &Rendered,
    report: &mut Report,
) -> Result<artifacts::Staged, Error> {
    let mut staged = artifacts::Staged::default();
    if let Some(target) = inputs.output.as_deref().filter(|t| *t != Path::new("-")) {
        artifacts::stage_rendered(&mut staged, rendered, target)?;
        report.rendered = Some(target.to_owned());
    }
    artifacts::stage_pipeline_artifacts(
        &mut staged,
        rendered,
        inputs.image_definitions.as_deref(),
        inputs.codedeploy_artifacts.as_deref(),
        &inputs.container_names,
    )?;
    Ok(staged)
}

/// Puts the staged files in place and says what they hold.
fn commit_files(
    staged: artifacts::Staged,
    rendered: &Rendered,
    report: &Report,
) -> Result<(), Error> {
    for path in staged.commit()? {
        if Some(&path) == report.rendered.as_ref() {
            artifacts::report_rendered(rendered, &path);
        } else {
            info!(file = %path.display(), "wrote CodePipeline artifact");
        }
    }
    Ok(())
}

/// Prints the plan against the latest revision; returns whether anything changed (decided on
/// real values, shown masked).
fn print_plan(latest: &ecs::Latest, rendered: &Rendered, family: &str) -> bool {
    let tags = rendered.body.contains_key("tags");
    let changed =
        taskdef::canonical(&latest.body, tags) != taskdef::canonical(&rendered.body, tags);
    let revision = latest.revision.revision;
    if !changed {
        output::err(&format!(
            "plan: no change against revision {revision} of `{family}`"
        ));
        return false;
    }
    let diff = plan::diff(&latest.body, rendered, tags);
    output::err(&format!(
        "plan: {} change{} against revision {revision} of `{family}`:",
        diff.len(),
        if diff.len() == 1 { "" } else { "s" },
    ));
    for line in plan::lines(&diff) {
        output::err(&line);
    }
    true
}

/// Registers a fetched secret value with the redactor and, on GitHub, with the runner; warns,
/// naming the reference and the JSON key (never the value), about parts too short to mask and
/// parts so common that masking them masks ordinary text too.
fn protect(inputs: &Inputs, secret: &Secret, label: &str) {
    let learnt = output::protect(secret);
    if inputs.ci.github.is_some() {
        github::add_mask(&learnt.forms);
    }
    let part = |place: &str| {
        if place.is_empty() {
            format!("`{label}`")
        } else {
            format!("JSON key `{place}` of `{label}`")
        }
    };
    for place in &learnt.short {
        warn!(
            "the value of {} is shorter than {MIN_MASKED_LEN} characters and cannot be masked in logs; ecs-secrets never prints it, but other steps might",
            part(place)
        );
    }
    let runner = if inputs.ci.github.is_some() {
        "this run's log and, on GitHub, every later step's"
    } else {
        "this run's log"
    };
    for (place, why) in &learnt.common {
        warn!(
            "the value of {} is {why}: it is masked wherever that text appears in {runner}, so ordinary text shows as `***` too; the outputs are written exactly",
            part(place)
        );
    }
}

/// Checks the rendered definition against the SDK's model: type errors fail, unknown fields warn.
fn check_shape(rendered: &Rendered, source: &Path) -> Result<(), Error> {
    match ecs::check_shape(&rendered.body) {
        Ok(unknown) => {
            for field in unknown {
                warn!(field = %crate::error::visible(&field), "field is not in this version's RegisterTaskDefinition model; it is sent to ECS as written");
            }
            Ok(())
        }
        Err((path, reason)) => {
            let mut location = rendered.places.locate_field(&rendered.body, &path);
            if location.source.is_empty() {
                location.source = source.display().to_string();
            }
            location.path = path;
            Err(Error::Invalid {
                problems: Problems(vec![Problem {
                    location,
                    reference: None,
                    reason: format!("does not match the RegisterTaskDefinition shape: {reason}"),
                }]),
            })
        }
    }
}
