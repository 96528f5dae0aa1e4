//! `check`: prove, before a deploy, that the task execution role can read every secret the
//! definition references, without reading one (unless `read-values`). The report goes to stdout;
//! on GitHub each failure and warning is also an annotation at its place in the template.
//! `preflight` is the same check inside `deploy`, its report on stderr only when it fails.

use crate::aws::Aws;
use crate::check::{self, Roles};
use crate::ci::{Annotation, Ci, Level};
use crate::error::Error;
use crate::output::{self, Stream};
use crate::prepare::{self, Definitions, Reads, Templates};
use crate::report;
use crate::template::Rendered;

pub struct Check {
    pub definitions: Definitions,
    /// Also read the values (masked), to check the JSON keys `valueFrom` names.
    pub read_values: bool,
    pub format: report::Format,
}

impl Check {
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        let ready = prepare::prepare(&self.definitions, Reads::Metadata, true, ci).await?;
        let mut roles = Roles::default();
        let mut reports = Vec::new();
        for definition in &ready.definitions {
            let report = self
                .one(ready.aws(), &definition.rendered, &mut roles, ci)
                .await;
            reports.push((definition, report));
        }
        let failed: usize = reports.iter().map(|(_, r)| r.failed()).sum();
        match (&self.definitions.templates, self.format) {
            (Templates::Manifest(_), report::Format::Json) => {
                let many = check::report::Many {
                    version: check::report::VERSION,
                    ok: failed == 0,
                    task_definitions: reports
                        .iter()
                        .map(|(definition, report)| check::report::Named {
                            family: definition.rendered.family(),
                            file: definition.entry.task_definition.display().to_string(),
                            report: report.document(),
                        })
                        .collect(),
                };
                let text = serde_json::to_string_pretty(&many).expect("JSON serialises") + "\n";
                output::write_exact(Stream::Stdout, &text);
            }
            (Templates::Manifest(_), _) => {
                for (definition, report) in &reports {
                    let heading = format!(
                        "== {} ({})\n",
                        definition.rendered.family(),
                        definition.entry.task_definition.display()
                    );
                    output::write(Stream::Stdout, (heading + &report.text()).as_bytes());
                }
            }
            // The JSON report is exact (machine-readable, and a check reports no value); the
            // text report is read by people and redacted like the log.
            (Templates::One(_) | Templates::Registered(_), report::Format::Json) => {
                output::write_exact(Stream::Stdout, &reports[0].1.json());
            }
            (Templates::One(_) | Templates::Registered(_), _) => {
                output::write(Stream::Stdout, reports[0].1.text().as_bytes());
            }
        }
        outcome(failed)
    }

    /// The check of one rendered definition, annotated on GitHub.
    async fn one(
        &self,
        aws: &Aws,
        rendered: &Rendered,
        roles: &mut Roles,
        ci: &Ci,
    ) -> check::Report {
        let protect = |secret: &crate::mask::Secret, label: &str| ci.protect(secret, label);
        let read_values: Option<crate::mask::OnSecret<'_>> = if self.read_values {
            Some(&protect)
        } else {
            None
        };
        let report = check::run(aws, rendered, read_values, roles).await;
        ci.annotate(&annotations(&report));
        report
    }
}

fn outcome(failed: usize) -> Result<(), Error> {
    if failed == 0 {
        return Ok(());
    }
    Err(Error::Check(format!(
        "check failed: {failed} problem{} would stop tasks from reading their secrets",
        if failed == 1 { "" } else { "s" }
    )))
}

/// An annotation for each failure (`::error`) and warning (`::warning`) of a check, at the
/// `valueFrom` or `executionRoleArn` it is about.
fn annotations(report: &check::Report) -> Vec<Annotation> {
    report
        .findings
        .iter()
        .filter_map(|finding| {
            let level = match finding.status {
                check::Status::Fail => Level::Error,
                check::Status::Warn => Level::Warning,
                check::Status::Ok | check::Status::Skip => return None,
            };
            let mut message = finding.message.clone();
            if let Some(fix) = &finding.fix {
                message.push_str("\nfix: ");
                message.push_str(fix);
            }
            Some(Annotation {
                level,
                location: finding.location.clone().unwrap_or_default(),
                title: "ecs-secrets check",
                message,
            })
        })
        .collect()
}

/// `preflight`: the check, before anything is registered; its tree goes to stderr when it fails.
pub async fn preflight(
    aws: &Aws,
    rendered: &Rendered,
    roles: &mut Roles,
    ci: &Ci,
) -> Result<(), Error> {
    let report = check::run(aws, rendered, None, roles).await;
    if report.failed() == 0 {
        tracing::info!("preflight: the execution role can read every secret");
        return Ok(());
    }
    output::write(Stream::Stderr, report.text().as_bytes());
    ci.annotate(&annotations(&report));
    Err(Error::Check(format!(
        "preflight failed ({} problem{}); nothing was registered",
        report.failed(),
        if report.failed() == 1 { "" } else { "s" }
    )))
}
