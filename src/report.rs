//! The final report: on stdout (`key=value` lines, shell `export` lines or JSON), as GitHub step
//! outputs, and as a GitHub step summary. None of it carries a secret value: ARNs, names,
//! revision numbers and references only.

use std::fmt::Write as _;

use tracing::warn;

use crate::app::Report;
use crate::ci::github;
use crate::inputs::{Command, Inputs, ReportFormat};
use crate::output;

pub fn print(report: &Report, inputs: &Inputs) {
    if matches!(
        inputs.command,
        Command::Check | Command::Policy | Command::Export
    ) {
        return; // their output is the report
    }
    let pairs = pairs(report, inputs);
    let text = match inputs.report_format {
        ReportFormat::Lines => lines(&pairs, ""),
        ReportFormat::Shell => shell(&pairs, ""),
        ReportFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::to_string_pretty(&map).expect("JSON serialises") + "\n"
        }
    };
    // `render` without `output` prints the definition on stdout: the report goes to stderr.
    let stdout_is_rendered = inputs.command == Command::Render && report.rendered.is_none();
    let stream = if stdout_is_rendered {
        output::Stream::Stderr
    } else {
        output::Stream::Stdout
    };
    // Exact, not redacted: the report holds names, ARNs and numbers from AWS's answers.
    output::write_exact(stream, &text);
    if let Some(github) = &inputs.ci.github {
        set_outputs(github, &pairs);
        summarise(github, &summary(report, inputs, &pairs));
    }
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

fn set_outputs(github: &crate::inputs::GitHub, pairs: &[(&str, String)]) {
    if let Some(path) = &github.output
        && let Err(e) = github::set_outputs(path, pairs)
    {
        warn!(file = %path.display(), "cannot write step outputs: {e}");
    }
}

fn summarise(github: &crate::inputs::GitHub, markdown: &str) {
    if let Some(path) = &github.step_summary
        && let Err(e) = github::append_summary(path, markdown)
    {
        warn!(file = %path.display(), "cannot write the step summary: {e}");
    }
}

/// The reports of a manifest deploy: one block per service (`family.key=value` lines, or the
/// `services` list of a JSON object), and the aggregate outputs that hold for the whole run:
/// `changed` (any service changed) and `services` (a JSON array of each service's report).
pub fn print_many(reports: &[Report], inputs: &Inputs) {
    let labels = labels(reports);
    let all: Vec<serde_json::Map<String, serde_json::Value>> = reports
        .iter()
        .map(|report| {
            pairs(report, inputs)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect()
        })
        .collect();
    let services = serde_json::to_string(&all).expect("JSON serialises");
    let changed = reports.iter().any(|r| r.changed).to_string();
    let text = match inputs.report_format {
        ReportFormat::Json => {
            let document = serde_json::json!({ "changed": changed, "services": all });
            serde_json::to_string_pretty(&document).expect("JSON serialises") + "\n"
        }
        format => {
            let mut text = String::new();
            for (report, label) in reports.iter().zip(&labels) {
                let pairs = pairs(report, inputs);
                let prefix = format!("{label}.");
                text.push_str(&match format {
                    ReportFormat::Shell => shell(&pairs, &prefix),
                    _ => lines(&pairs, &prefix),
                });
            }
            let aggregate = [("changed", changed.clone()), ("services", services.clone())];
            text.push_str(&match format {
                ReportFormat::Shell => shell(&aggregate, ""),
                _ => lines(&aggregate, ""),
            });
            text
        }
    };
    output::write_exact(output::Stream::Stdout, &text);
    if let Some(github) = &inputs.ci.github {
        set_outputs(github, &[("changed", changed), ("services", services)]);
        summarise(github, &summary_many(reports, &labels, inputs));
    }
}

/// Each report's block name: its family, or `family@service` where two share a family.
fn labels(reports: &[Report]) -> Vec<String> {
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

fn summary_many(reports: &[Report], labels: &[String], inputs: &Inputs) -> String {
    let mut text = format!(
        "### ecs-secrets {}: {} services\n\n| service | task definition | changed | rollout |\n|---|---|---|---|\n",
        inputs.command.name(),
        reports.len()
    );
    for (report, label) in reports.iter().zip(labels) {
        let arn = report.revision.as_ref().map_or("", |r| r.arn.as_str());
        let _ = writeln!(
            text,
            "| `{}` | `{}` | {} | {} |",
            github::markdown_cell(label),
            github::markdown_cell(arn),
            report.changed,
            report.rollout.as_ref().map_or("", |o| o.state()),
        );
    }
    text
}

fn pairs(report: &Report, inputs: &Inputs) -> Vec<(&'static str, String)> {
    let mut pairs: Vec<(&str, String)> = vec![("family", report.family.clone())];
    if let Some(revision) = &report.revision {
        pairs.push(("task-definition-arn", revision.arn.clone()));
        pairs.push(("task-definition-revision", revision.revision.to_string()));
    }
    if inputs.command == Command::Deploy {
        pairs.push(("changed", report.changed.to_string()));
    }
    if let (Some(service), Some(outcome)) = (&report.service, &report.rollout) {
        pairs.push(("service", service.clone()));
        pairs.push(("rollout", outcome.state().to_owned()));
        if let Some(deployment) = outcome.deployment() {
            pairs.push(("deployment-id", deployment.to_owned()));
        }
    }
    if let Some(path) = &report.rendered {
        pairs.push(("task-definition", path.display().to_string()));
    }
    pairs
}

/// The GitHub step summary: the result (exact), the containers and their references (redacted
/// cell by cell: an image could hold a value the user allowed in plain text).
fn summary(report: &Report, inputs: &Inputs, pairs: &[(&str, String)]) -> String {
    let mut text = format!(
        "### ecs-secrets {}: `{}`\n\n",
        inputs.command.name(),
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
}
