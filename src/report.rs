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
        ReportFormat::Lines => pairs.iter().fold(String::new(), |mut text, (key, value)| {
            let _ = writeln!(text, "{key}={value}");
            text
        }),
        ReportFormat::Shell => pairs.iter().fold(String::new(), |mut text, (key, value)| {
            let name = key.to_ascii_uppercase().replace('-', "_");
            let _ = writeln!(text, "export {name}={}", shell_quote(value));
            text
        }),
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
    output::write(stream, text.as_bytes());
    if let Some(github) = &inputs.ci.github {
        if let Some(path) = &github.output
            && let Err(e) = github::set_outputs(path, &pairs)
        {
            warn!(file = %path.display(), "cannot write step outputs: {e}");
        }
        if let Some(path) = &github.step_summary
            && let Err(e) = github::append_summary(path, &summary(report, inputs, &pairs))
        {
            warn!(file = %path.display(), "cannot write the step summary: {e}");
        }
    }
}

/// The reports of a manifest deploy: one block per service (`family.key=value` lines, or a JSON
/// array), and on GitHub a `services` output holding the JSON array.
pub fn print_many(reports: &[Report], inputs: &Inputs) {
    let all: Vec<serde_json::Map<String, serde_json::Value>> = reports
        .iter()
        .map(|report| {
            pairs(report, inputs)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect()
        })
        .collect();
    let json = serde_json::to_string_pretty(&all).expect("JSON serialises");
    let text = match inputs.report_format {
        ReportFormat::Json => json.clone() + "\n",
        _ => reports.iter().fold(String::new(), |mut text, report| {
            for (key, value) in pairs(report, inputs) {
                let _ = writeln!(text, "{}.{key}={value}", report.family);
            }
            text
        }),
    };
    output::write(output::Stream::Stdout, text.as_bytes());
    if let Some(path) = inputs.ci.github.as_ref().and_then(|g| g.output.as_ref())
        && let Err(e) = github::set_outputs(path, &[("services", json)])
    {
        warn!(file = %path.display(), "cannot write step outputs: {e}");
    }
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

/// The GitHub step summary: the result, the containers and their references.
fn summary(report: &Report, inputs: &Inputs, pairs: &[(&str, String)]) -> String {
    let mut text = format!(
        "### ecs-secrets {}: `{}`\n\n",
        inputs.command.name(),
        report.family
    );
    text.push_str("| | |\n|---|---|\n");
    for (key, value) in pairs {
        let _ = writeln!(text, "| {key} | `{}` |", value.replace('|', "\\|"));
    }
    if !report.containers.is_empty() {
        text.push_str("\n| container | image | secrets (name → reference) |\n|---|---|---|\n");
        for container in &report.containers {
            let secrets = container
                .secrets
                .iter()
                .map(|(name, reference)| format!("`{name}` → `{reference}`"))
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = writeln!(
                text,
                "| `{}` | `{}` | {secrets} |",
                container.name, container.image
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
