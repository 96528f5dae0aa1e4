//! The report of `render` and `deploy`: on stdout (`key=value` lines, shell `export` lines or
//! JSON), as step outputs and as a step summary. None of it carries a secret value: ARNs, names,
//! revision numbers and references only, so it is written exactly (see `output::write_exact`).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use crate::aws::ecs::Revision;
use crate::ci::{Ci, github};
use crate::output::{self, Stream};
use crate::rollout;
use crate::template::{self, Rendered};

/// How the report is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Lines,
    Shell,
    Json,
}

/// What a run did with one definition.
#[derive(Debug)]
pub struct Outputs {
    pub family: String,
    /// The revision registered, or the unchanged one reused; `None` for `render` and dry runs.
    pub revision: Option<Revision>,
    /// Whether the definition differs from the family's latest revision (`deploy` only).
    pub changed: Option<bool>,
    /// Where the rendered definition was written.
    pub rendered: Option<PathBuf>,
    /// The service rolled out to, and what happened to it.
    pub service: Option<String>,
    pub rollout: Option<rollout::Outcome>,
    /// Each container's image and secret references, for the step summary.
    pub containers: Vec<ContainerSummary>,
    /// A manifest's service that failed (the error, redacted) or was never started
    /// (`fail-fast`).
    pub failure: Option<Failure>,
    /// The one-off tasks started (`run-task`).
    pub run_task: Option<Vec<String>>,
    /// The CodeDeploy deployment started, for a service on the `CODE_DEPLOY` controller.
    pub codedeploy_deployment: Option<String>,
}

/// Why a manifest's service is not deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Failed(String),
    /// Not started: an earlier service failed and `fail-fast` is set.
    Skipped,
}

/// A container as the summary shows it: names and references, never values.
#[derive(Debug)]
pub struct ContainerSummary {
    pub name: String,
    pub image: String,
    /// `secrets[]` and `logConfiguration.secretOptions[]`: name → `valueFrom`.
    pub secrets: Vec<(String, String)>,
}

impl Outputs {
    /// The report of a rendered definition, before anything is done with it.
    pub fn of(rendered: &Rendered) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        let containers = template::containers(&rendered.body)
            .enumerate()
            .map(|(i, c)| ContainerSummary {
                name: text(c.get("name")),
                image: text(c.get("image")),
                secrets: template::secret_entries(i, c)
                    .into_iter()
                    .map(|e| {
                        let owned = |v: Option<&str>| v.unwrap_or_default().to_owned();
                        (owned(e.name), owned(e.value_from))
                    })
                    .collect(),
            })
            .collect();
        Self {
            family: rendered.family().to_owned(),
            revision: None,
            changed: None,
            rendered: None,
            service: None,
            rollout: None,
            containers,
            failure: None,
            run_task: None,
            codedeploy_deployment: None,
        }
    }

    /// What happened to it, in one word: `failed`, `skipped`, `deployed`, `unchanged`, or (a
    /// dry run) `planned`.
    pub fn outcome(&self) -> &'static str {
        let moved = matches!(
            self.rollout,
            Some(
                rollout::Outcome::Started { .. }
                    | rollout::Outcome::Completed { .. }
                    | rollout::Outcome::Baking { .. }
            )
        );
        match (&self.failure, &self.revision, self.changed) {
            (Some(Failure::Failed(_)), _, _) => "failed",
            (Some(Failure::Skipped), _, _) => "skipped",
            (None, None, _) => "planned",
            // The service moved, even to a revision that did not change.
            (None, Some(_), _) if moved => "deployed",
            (None, Some(_), Some(false)) => "unchanged",
            (None, Some(_), _) => "deployed",
        }
    }

    /// The outputs, in their order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&str, String)> = vec![("family", self.family.clone())];
        if let Some(revision) = &self.revision {
            pairs.push(("task-definition-arn", revision.arn.clone()));
            pairs.push(("task-definition-revision", revision.revision.to_string()));
        }
        if let Some(changed) = self.changed {
            pairs.push(("changed", changed.to_string()));
        }
        if let Some(service) = &self.service {
            pairs.push(("service", service.clone()));
        }
        if let Some(outcome) = &self.rollout {
            pairs.push(("rollout", outcome.state().to_owned()));
            if let Some(deployment) = outcome.deployment() {
                pairs.push(("deployment-id", deployment.to_owned()));
            }
        }
        if let Some(id) = &self.codedeploy_deployment {
            // The deploy action's name for it.
            pairs.push(("codedeploy-deployment-id", id.clone()));
        }
        if let Some(path) = &self.rendered {
            pairs.push(("task-definition", path.display().to_string()));
        }
        if let Some(arns) = &self.run_task {
            // A JSON array, as the deploy action's `run-task-arn`.
            pairs.push((
                "run-task-arn",
                serde_json::to_string(arns).expect("JSON serialises"),
            ));
        }
        match &self.failure {
            Some(Failure::Failed(error)) => {
                pairs.push(("outcome", "failed".to_owned()));
                pairs.push(("error", error.clone()));
            }
            Some(Failure::Skipped) => pairs.push(("outcome", "skipped".to_owned())),
            None => {}
        }
        pairs
    }
}

/// Prints one definition's report on `stream` in `format`, and on GitHub as step outputs and a
/// summary titled `ecs-secrets {command}`.
pub fn print(report: &Outputs, format: Format, command: &str, stream: Stream, ci: &Ci) {
    let pairs = report.pairs();
    let text = match format {
        Format::Lines => lines(&pairs, ""),
        Format::Shell => shell(&pairs, ""),
        Format::Json => {
            let map: serde_json::Map<String, Value> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect();
            serde_json::to_string_pretty(&map).expect("JSON serialises") + "\n"
        }
    };
    // Exact, not redacted: the report holds names, ARNs and numbers from AWS's answers.
    output::write_exact(stream, &text);
    ci.set_outputs(&pairs);
    ci.summarise(&summary(report, command, &pairs));
}

/// The reports of a manifest deploy: one block per service (`family.key=value` lines, or the
/// `services` list of a JSON object), and the outputs that hold for the whole run: `changed`
/// (any service changed) and `services` (a JSON array of each service's report).
pub fn print_many(reports: &[Outputs], format: Format, command: &str, ci: &Ci) {
    let labels = labels(reports);
    let all: Vec<serde_json::Map<String, Value>> = reports
        .iter()
        .map(|report| {
            report
                .pairs()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect()
        })
        .collect();
    let services = serde_json::to_string(&all).expect("JSON serialises");
    let changed = reports.iter().any(|r| r.changed == Some(true)).to_string();
    let aggregate = [("changed", changed), ("services", services)];
    let text = match format {
        Format::Json => {
            let document = serde_json::json!({ "changed": aggregate[0].1, "services": all });
            serde_json::to_string_pretty(&document).expect("JSON serialises") + "\n"
        }
        Format::Lines | Format::Shell => {
            let block = if format == Format::Shell {
                shell
            } else {
                lines
            };
            let mut text = String::new();
            for (report, label) in reports.iter().zip(&labels) {
                text.push_str(&block(&report.pairs(), &format!("{label}.")));
            }
            text + &block(&aggregate, "")
        }
    };
    output::write_exact(Stream::Stdout, &text);
    ci.set_outputs(&aggregate);
    ci.summarise(&summary_many(reports, &labels, command));
}

fn lines(pairs: &[(&str, String)], prefix: &str) -> String {
    pairs.iter().fold(String::new(), |mut text, (key, value)| {
        let _ = writeln!(text, "{prefix}{key}={value}");
        text
    })
}

fn shell(pairs: &[(&str, String)], prefix: &str) -> String {
    pairs.iter().fold(String::new(), |mut text, (key, value)| {
        let name = format!("{prefix}{key}")
            .to_ascii_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let _ = writeln!(text, "export {name}={}", shell_quote(value));
        text
    })
}

/// Each report's block name: its family, or `family@service` where two share a family.
fn labels(reports: &[Outputs]) -> Vec<String> {
    let shared = |family: &str| reports.iter().filter(|r| r.family == family).count() > 1;
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| match (&r.service, shared(&r.family)) {
            (_, false) => r.family.clone(),
            (Some(service), true) => format!("{}@{service}", r.family),
            (None, true) => format!("{}#{}", r.family, i + 1),
        })
        .collect()
}

fn summary_many(reports: &[Outputs], labels: &[String], command: &str) -> String {
    let mut text = format!(
        "### ecs-secrets {command}: {} services\n\n| service | outcome | task definition | changed | rollout |\n|---|---|---|---|---|\n",
        reports.len()
    );
    for (report, label) in reports.iter().zip(labels) {
        let arn = report.revision.as_ref().map_or("", |r| r.arn.as_str());
        let _ = writeln!(
            text,
            "| `{}` | {} | `{}` | {} | {} |",
            github::markdown_cell(label),
            report.outcome(),
            github::markdown_cell(arn),
            report.changed.unwrap_or(false),
            report.rollout.as_ref().map_or("", |o| o.state()),
        );
    }
    text
}

/// The GitHub step summary: the result (exact), the containers and their references (redacted
/// cell by cell: an image could hold a value the user allowed in plain text).
fn summary(report: &Outputs, command: &str, pairs: &[(&str, String)]) -> String {
    let mut text = format!(
        "### ecs-secrets {command}: `{}`\n\n",
        github::markdown_cell(&report.family)
    );
    text.push_str("| | |\n|---|---|\n");
    for (key, value) in pairs {
        let _ = writeln!(text, "| {key} | `{}` |", github::markdown_cell(value));
    }
    if !report.containers.is_empty() {
        text.push_str("\n| container | image | secrets (name → reference) |\n|---|---|---|\n");
        for container in &report.containers {
            let secrets = container
                .secrets
                .iter()
                .map(|(name, reference)| {
                    format!("`{}` → `{}`", github::cell(name), github::cell(reference))
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = writeln!(
                text,
                "| `{}` | `{}` | {secrets} |",
                github::cell(&container.name),
                github::cell(&container.image)
            );
        }
    }
    text
}

/// Single-quotes a value for POSIX shells.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }

    fn report(family: &str, service: Option<&str>) -> Outputs {
        Outputs {
            family: family.into(),
            revision: Some(Revision {
                arn: format!("arn:aws:ecs:us-east-1:1:task-definition/{family}:3"),
                revision: 3,
            }),
            changed: Some(true),
            rendered: None,
            service: service.map(str::to_owned),
            rollout: None,
            containers: Vec::new(),
            failure: None,
            run_task: None,
            codedeploy_deployment: None,
        }
    }

    #[test]
    fn outputs_name_the_revision_and_shell_names_are_variables() {
        let pairs = report("web", None).pairs();
        assert_eq!(
            lines(&pairs, ""),
            "family=web\ntask-definition-arn=arn:aws:ecs:us-east-1:1:task-definition/web:3\ntask-definition-revision=3\nchanged=true\n"
        );
        assert!(shell(&pairs, "web.").contains("export WEB_TASK_DEFINITION_REVISION='3'\n"));
    }

    #[test]
    fn services_that_share_a_family_get_labels_of_their_own() {
        let reports = [
            report("web", Some("a")),
            report("web", Some("b")),
            report("api", None),
        ];
        assert_eq!(labels(&reports), ["web@a", "web@b", "api"]);
    }
}
