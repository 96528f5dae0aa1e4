//! The final report: `key=value` lines on stdout, and step outputs on GitHub.

use tracing::warn;

use crate::app::Report;
use crate::ci::github;
use crate::inputs::Inputs;
use crate::output;

pub fn print(report: &Report, inputs: &Inputs) {
    let mut pairs: Vec<(&str, String)> = vec![("family", report.family.clone())];
    if let Some(revision) = &report.revision {
        pairs.push(("task-definition-arn", revision.arn.clone()));
        pairs.push(("task-definition-revision", revision.revision.to_string()));
    }
    if inputs.command == crate::inputs::Command::Deploy {
        pairs.push(("changed", report.changed.to_string()));
    }
    if let (Some(target), Some(outcome)) = (&inputs.rollout, &report.rollout) {
        pairs.push(("service", target.service.clone()));
        pairs.push(("rollout", outcome.state().to_owned()));
        if let Some(deployment) = outcome.deployment() {
            pairs.push(("deployment-id", deployment.to_owned()));
        }
    }
    if let Some(path) = &report.rendered {
        pairs.push(("task-definition", path.display().to_string()));
    }
    let stdout_is_rendered =
        inputs.command == crate::inputs::Command::Render && report.rendered.is_none();
    for (key, value) in &pairs {
        let line = format!("{key}={value}");
        if stdout_is_rendered {
            output::err(&line);
        } else {
            output::out(&line);
        }
    }
    if let Some(path) = inputs.ci.github.as_ref().and_then(|g| g.output.as_ref())
        && let Err(e) = github::set_outputs(path, &pairs)
    {
        warn!(file = %path.display(), "cannot write step outputs: {e}");
    }
}
