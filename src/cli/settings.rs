//! Each command's settings, built once from the raw inputs and validated: later stages take
//! these, never the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Name;
use super::raw::Raw;
use crate::artifacts;
use crate::aws::{self, Limits};
use crate::command::Command;
use crate::command::check::Check;
use crate::command::deploy::Deploy;
use crate::command::export::Export;
use crate::command::policy::Policy;
use crate::command::render::Render;
use crate::error::Error;
use crate::prepare::{Definitions, Templates};
use crate::report::Format;
use crate::rollout::{self, Target};
use crate::template::{Image, Overrides};
use crate::variables::Casing;

/// The command `name` with its settings.
pub fn command(
    name: Name,
    raw: &Raw,
    environment: BTreeMap<String, String>,
) -> Result<Command, Error> {
    refuse_body_logging(&environment)?;
    let aws = aws_settings(raw)?;
    if name == Name::Export {
        return Ok(Command::Export(export(raw, aws)?));
    }
    let definitions = definitions(name, raw, environment, aws)?;
    Ok(match name {
        Name::Render => Command::Render(Render {
            definitions,
            output: raw.text("output").filter(|o| *o != "-").map(PathBuf::from),
            artifacts: artifact_targets(raw),
            format: format(raw)?,
        }),
        Name::Deploy => Command::Deploy(Box::new(deploy(raw, definitions)?)),
        Name::Check => Command::Check(Check {
            definitions,
            read_values: raw.bool("read-values")?,
            format: format(raw)?,
        }),
        Name::Policy => Command::Policy(Policy {
            definitions,
            service: raw.text("service").map(|service| Target {
                cluster: raw.text_or_default("cluster").to_owned(),
                service: service.to_owned(),
            }),
            preflight: raw.bool("preflight")?,
            keep_revisions: raw.whole("keep-revisions")?.is_some(),
        }),
        Name::Export => unreachable!("export has no template"),
    })
}

fn deploy(raw: &Raw, definitions: Definitions) -> Result<Deploy, Error> {
    let output = raw.text("output").map(PathBuf::from);
    if output.as_deref() == Some(Path::new("-")) {
        return Err(Error::Usage(
            "input `output`: `deploy` prints its report on stdout; give the rendered file a path"
                .to_owned(),
        ));
    }
    Ok(Deploy {
        definitions,
        output,
        artifacts: artifact_targets(raw),
        format: format(raw)?,
        skip_unchanged: raw.bool("skip-unchanged")?,
        plan: raw.bool("plan")?,
        dry_run: raw.bool("dry-run")?,
        preflight: raw.bool("preflight")?,
        keep_revisions: raw.whole("keep-revisions")?.map(|n| n as usize),
        cluster: raw.text_or_default("cluster").to_owned(),
        service: raw.text("service").map(str::to_owned),
        rollout: rollout_settings(raw)?,
    })
}

/// The templates, the overrides, and how placeholders are resolved.
fn definitions(
    name: Name,
    raw: &Raw,
    environment: BTreeMap<String, String>,
    aws: aws::Settings,
) -> Result<Definitions, Error> {
    let images = raw
        .list("image")
        .iter()
        .map(|item| Image::parse(item))
        .collect::<Result<Vec<_>, _>>()?;
    if images.iter().filter(|i| i.container.is_none()).count() > 1 {
        return Err(Error::Usage(
            "input `image`: more than one image without a container; write `container=uri`"
                .to_owned(),
        ));
    }
    Ok(Definitions {
        templates: templates(name, raw)?,
        overrides: Overrides {
            images,
            container_names: raw.list("container-name"),
            environment: raw.assignments("environment-variables")?,
            secrets: raw.assignments("secrets")?,
            tags: raw.assignments("tags")?,
        },
        allow_plaintext_secrets: raw.bool("allow-plaintext-secrets")?,
        environment,
        aws,
    })
}

/// One template, or a manifest (`deploy` and `check`; not with the inputs that write one
/// definition's files).
fn templates(name: Name, raw: &Raw) -> Result<Templates, Error> {
    match (raw.text("task-definition"), raw.text("manifest")) {
        (Some(_), Some(_)) => Err(Error::Usage(
            "inputs `task-definition` and `manifest` are given together; a manifest names its own templates: give one of them"
                .to_owned(),
        )),
        (None, Some(manifest)) => {
            for input in ["output", "image-definitions", "codedeploy-artifacts"] {
                if raw.text(input).is_some() {
                    return Err(Error::Usage(format!(
                        "input `{input}` writes one definition's file, and a manifest has many: run those services without the manifest to get it"
                    )));
                }
            }
            Ok(Templates::Manifest(PathBuf::from(manifest)))
        }
        (Some(path), None) => Ok(Templates::One(PathBuf::from(path))),
        (None, None) => Err(Error::Usage(format!(
            "input `task-definition` is required{}: pass `--task-definition PATH` or set `INPUT_TASK-DEFINITION` / `ECS_SECRETS_TASK_DEFINITION`",
            if matches!(name, Name::Deploy | Name::Check) {
                " (or `manifest`)"
            } else {
                ""
            }
        ))),
    }
}

fn artifact_targets(raw: &Raw) -> artifacts::Targets {
    artifacts::Targets {
        image_definitions: raw.text("image-definitions").map(PathBuf::from),
        codedeploy: raw.text("codedeploy-artifacts").map(PathBuf::from),
        container_names: raw.list("container-name"),
    }
}

fn format(raw: &Raw) -> Result<Format, Error> {
    match raw.text_or_default("report-format") {
        "lines" => Ok(Format::Lines),
        "shell" => Ok(Format::Shell),
        "json" => Ok(Format::Json),
        other => Err(Error::Usage(format!(
            "input `report-format`: `{other}`; expected `lines`, `shell` or `json`"
        ))),
    }
}

fn aws_settings(raw: &Raw) -> Result<aws::Settings, Error> {
    let number =
        |name| -> Result<f64, Error> { Ok(raw.number(name)?.expect("limits have defaults")) };
    Ok(aws::Settings {
        region: raw.text("region").map(str::to_owned),
        limits: Limits {
            max_attempts: raw.whole("max-attempts")?.expect("a default"),
            timeout: Duration::from_secs_f64(number("aws-timeout")?),
            concurrency: raw.whole("max-concurrency")?.expect("a default") as usize,
            requests_per_second: number("max-requests-per-second")?,
        },
    })
}

fn rollout_settings(raw: &Raw) -> Result<rollout::Settings, Error> {
    let seconds = |name: &'static str, scale: f64| -> Result<Duration, Error> {
        Ok(Duration::from_secs_f64(
            raw.number(name)?.unwrap_or_default() * scale,
        ))
    };
    Ok(rollout::Settings {
        desired_count: raw
            .whole("desired-count")?
            .map(|n| i32::try_from(n).expect("the range fits")),
        force_new_deployment: raw.bool("force-new-deployment")?,
        redeploy_on_secret_change: raw.bool("redeploy-on-secret-change")?,
        wait: raw.bool("wait-for-service-stability")?,
        timeout: seconds("wait-for-minutes", 60.0)?,
        poll_interval: seconds("poll-interval", 1.0)?,
    })
}

fn export(raw: &Raw, aws: aws::Settings) -> Result<Export, Error> {
    Ok(Export {
        ids: raw.lines("secret-ids"),
        casing: match raw.text_or_default("name-transformation") {
            "uppercase" => Casing::Uppercase,
            "lowercase" => Casing::Lowercase,
            "none" => Casing::None,
            other => {
                return Err(Error::Usage(format!(
                    "input `name-transformation`: `{other}`; expected `uppercase`, `lowercase` or `none`"
                )));
            }
        },
        parse_json: raw.bool("parse-json-secrets")?,
        env_file: raw.text("env-file").map(PathBuf::from),
        github_env: raw.bool("export-to-github-env")?,
        stdout: raw.bool("export-to-stdout")?,
        aws,
    })
}

/// The SDK's body-logging switches would print secret values: refused, not silently unset.
fn refuse_body_logging(environment: &BTreeMap<String, String>) -> Result<(), Error> {
    for variable in ["LOG_SENSITIVE_BODIES", "LOG_SIGNABLE_BODY"] {
        let set = environment
            .get(variable)
            .is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("false"));
        if set {
            return Err(Error::Usage(format!(
                "`{variable}` is set: it makes the AWS SDK log request and response bodies, secret values included; unset it"
            )));
        }
    }
    Ok(())
}
