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
use crate::command::init::Init;
use crate::command::policy::Policy;
use crate::command::render::Render;
use crate::error::Error;
use crate::prepare::{Definitions, ReadAhead, Registered, Templates};
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
        return Ok(Command::Export(export(raw, aws, &environment)?));
    }
    if name == Name::Init {
        return Ok(Command::Init(init(raw, aws)?));
    }
    if name == Name::Rollback {
        let service = raw.text("service").ok_or_else(|| {
            Error::Usage("`rollback` needs `service` (and `cluster`, default `default`)".to_owned())
        })?;
        return Ok(Command::Rollback(crate::command::rollback::Rollback {
            target: Target {
                cluster: raw.text_or_default("cluster").to_owned(),
                service: service.to_owned(),
            },
            settings: rollout_settings(raw)?,
            aws,
        }));
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
        Name::Run => Command::Deploy(Box::new(run(raw, definitions)?)),
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
            run_task: raw
                .bool("run-task")?
                .then(|| raw.text_or_default("cluster").to_owned()),
            codedeploy: rollout_settings(raw)?.codedeploy,
            codepipeline: match raw.text_or_default("for") {
                "ci" => false,
                "codepipeline" => true,
                other => {
                    return Err(Error::Usage(format!(
                        "input `for` is `ci` or `codepipeline`, not `{other}`"
                    )));
                }
            },
        }),
        Name::Export | Name::Init | Name::Rollback => {
            unreachable!("export, init and rollback have no template")
        }
    })
}

fn deploy(raw: &Raw, mut definitions: Definitions) -> Result<Deploy, Error> {
    let output = raw.text("output").map(PathBuf::from);
    if output.as_deref() == Some(Path::new("-")) {
        return Err(Error::Usage(
            "input `output`: `deploy` prints its report on stdout; give the rendered file a path"
                .to_owned(),
        ));
    }
    let (skip_unchanged, plan, dry_run) = (
        raw.bool("skip-unchanged")?,
        raw.bool("plan")?,
        raw.bool("dry-run")?,
    );
    let cluster = raw.text_or_default("cluster").to_owned();
    let service = raw.text("service").map(str::to_owned);
    definitions.read_ahead = Some(ReadAhead {
        cluster: cluster.clone(),
        service: service.clone(),
        latest: skip_unchanged || plan || dry_run,
    });
    Ok(Deploy {
        definitions,
        output,
        artifacts: artifact_targets(raw),
        format: format(raw)?,
        skip_unchanged,
        plan,
        dry_run,
        preflight: raw.bool("preflight")?,
        keep_revisions: raw.whole("keep-revisions")?.map(|n| n as usize),
        cluster,
        service,
        rollout: rollout_settings(raw)?,
        fail_fast: raw.bool("fail-fast")?,
        run_task: run_task(raw)?,
        update_service: true,
    })
}

/// `run`: a deploy that registers (or reuses) the revision and runs it once, waiting for it unless
/// `wait-for-task-stopped` is `false`; `service` only lends its network and launch settings.
fn run(raw: &Raw, definitions: Definitions) -> Result<Deploy, Error> {
    let mut one_off = one_off(raw)?;
    one_off.wait = raw.text("wait-for-task-stopped").is_none() || one_off.wait;
    Ok(Deploy {
        run_task: Some(one_off),
        update_service: false,
        ..deploy(raw, definitions)?
    })
}

/// `run-task` and its inputs.
fn run_task(raw: &Raw) -> Result<Option<crate::oneoff::Settings>, Error> {
    if !raw.bool("run-task")? {
        return Ok(None);
    }
    if raw.text("manifest").is_some() {
        return Err(Error::Usage(
            "input `run-task` runs one task before one service moves; with a manifest every service would run it: deploy that service on its own with `run-task`".to_owned(),
        ));
    }
    one_off(raw).map(Some)
}

/// How a one-off task runs: the `run-task-*` inputs.
fn one_off(raw: &Raw) -> Result<crate::oneoff::Settings, Error> {
    let json = |name: &'static str| -> Result<Option<serde_json::Value>, Error> {
        raw.text(name)
            .map(|text| {
                serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .filter(serde_json::Value::is_array)
                    .ok_or_else(|| Error::Usage(format!("input `{name}`: expected a JSON array")))
            })
            .transpose()
    };
    let command = command_words(raw, "run-task-command")?;
    let choice = |name: &'static str, allowed: &[&str]| -> Result<Option<String>, Error> {
        match raw.text(name).map(str::trim) {
            None => Ok(None),
            Some(value) if allowed.contains(&value) => Ok(Some(value.to_owned())),
            Some(value) => Err(Error::Usage(format!(
                "input `{name}`: `{value}`; expected {}",
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
        }
    };
    let containers = raw.list("container-name");
    let rollout = rollout_settings(raw)?;
    Ok(crate::oneoff::Settings {
        before_deploy: raw.bool("run-task-before-deploy")?,
        wait: raw.bool("wait-for-task-stopped")?,
        started_by: raw.text_or_default("run-task-started-by").to_owned(),
        launch_type: choice("run-task-launch-type", &["FARGATE", "EC2", "EXTERNAL"])?,
        capacity_provider_strategy: json("run-task-capacity-provider-strategy")?,
        subnets: raw.list("run-task-subnets"),
        security_groups: raw.list("run-task-security-groups"),
        assign_public_ip: choice("run-task-assign-public-IP", &["ENABLED", "DISABLED"])?,
        container_overrides: json("run-task-container-overrides")?,
        command,
        container: (containers.len() == 1).then(|| containers[0].clone()),
        tags: json("run-task-tags")?,
        timeout: rollout.timeout,
        poll_interval: rollout.poll_interval,
    })
}

/// `shard`: `K/N`, with a manifest only.
fn shard(raw: &Raw) -> Result<Option<crate::manifest::Shard>, Error> {
    let Some(text) = raw.text("shard") else {
        return Ok(None);
    };
    if raw.text("manifest").is_none() {
        return Err(Error::Usage(
            "input `shard` splits a manifest's services: give `manifest` too".to_owned(),
        ));
    }
    crate::manifest::Shard::parse(text)
        .map(Some)
        .map_err(|e| Error::Usage(format!("input `shard`: {e}")))
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
    // The deploy action drops empty values unless named here; this tool drops only nulls, so
    // every key it could name is kept anyway.
    let keep = raw.list("keep-null-value-keys");
    if !keep.is_empty() {
        tracing::debug!(keys = %keep.join(", "), "keep-null-value-keys: empty values are always kept");
    }
    Ok(Definitions {
        templates: templates(name, raw)?,
        overrides: Overrides {
            images,
            container_names: raw.list("container-name"),
            environment: raw.assignments("environment-variables")?,
            secrets: raw.assignments("secrets")?,
            tags: raw.assignments("tags")?,
            command: command_words(raw, "command")?,
            env_files: env_files(raw)?,
            log_driver: log_driver(raw)?,
            log_options: raw.assignments("log-configuration-options")?,
            docker_labels: raw.assignments("docker-labels")?,
            task_role_arn: role_arn(raw, "task-role-arn")?,
            execution_role_arn: role_arn(raw, "execution-role-arn")?,
        },
        allow_plaintext_secrets: raw.bool("allow-plaintext-secrets")?,
        shard: shard(raw)?,
        fresh_metadata: name == Name::Deploy && raw.bool("redeploy-on-secret-change")?,
        environment,
        aws,
        read_ahead: None,
    })
}

/// One template, a manifest (`deploy` and `check`; not with the inputs that write one
/// definition's files), or a registered revision.
fn templates(name: Name, raw: &Raw) -> Result<Templates, Error> {
    let from_service = from_service(raw)?;
    let given: Vec<&str> = [
        "task-definition",
        "manifest",
        "task-definition-arn",
        "task-definition-family",
    ]
    .into_iter()
    .filter(|input| raw.text(input).is_some())
    .chain(
        from_service
            .is_some()
            .then_some("task-definition-from-service"),
    )
    .collect();
    if let [first, second, ..] = given.as_slice() {
        return Err(Error::Usage(format!(
            "inputs `{first}` and `{second}` are given together; each names the task definition to start from: give one of them"
        )));
    }
    if raw.text("task-definition-revision").is_some()
        && raw.text("task-definition-family").is_none()
    {
        return Err(Error::Usage(
            "input `task-definition-revision` needs `task-definition-family`: a revision alone names no task definition".to_owned(),
        ));
    }
    if let Some(target) = from_service {
        return Ok(Templates::Registered(Registered::Service(target)));
    }
    if matches!(name, Name::Render | Name::Check) && raw.text("service").is_some() {
        return Err(Error::Usage(format!(
            "input `service` with `{}` names the service whose revision to start from: set `task-definition-from-service` too, or leave `service` out",
            name.as_str()
        )));
    }
    if let Some(registered) = named_revision(raw)? {
        return Ok(Templates::Registered(registered));
    }
    match (raw.text("task-definition"), raw.text("manifest")) {
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
        // A file wins; a value that is no file and reads as an ARN, `FAMILY` or
        // `FAMILY:REVISION` names a registered revision.
        (Some(value), _) if !Path::new(value).is_file() && registered_name(value) => Ok(
            Templates::Registered(Registered::Definition(value.to_owned())),
        ),
        (Some(path), _) => Ok(Templates::One(PathBuf::from(path))),
        (None, None) => Err(Error::Usage(format!(
            "input `task-definition` is required{}: pass `--task-definition PATH` (or a registered revision: an ARN, `FAMILY` or `FAMILY:REVISION`) or set `INPUT_TASK-DEFINITION` / `ECS_SECRETS_TASK_DEFINITION`",
            if matches!(name, Name::Deploy | Name::Check) {
                " (or `manifest`, or `task-definition-from-service`)"
            } else {
                ""
            }
        ))),
    }
}

/// The render action's `task-definition-arn`, or `task-definition-family` (with
/// `task-definition-revision`).
fn named_revision(raw: &Raw) -> Result<Option<Registered>, Error> {
    if let Some(arn) = raw.text("task-definition-arn") {
        if !registered_name(arn) {
            return Err(Error::Usage(format!(
                "input `task-definition-arn`: `{arn}` is not a task-definition ARN (arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION)"
            )));
        }
        return Ok(Some(Registered::Definition(arn.to_owned())));
    }
    if let Some(family) = raw.text("task-definition-family") {
        let id = match raw.whole("task-definition-revision")? {
            Some(revision) => format!("{family}:{revision}"),
            None => family.to_owned(),
        };
        if !registered_name(&id) {
            return Err(Error::Usage(format!(
                "input `task-definition-family`: `{family}` is not a family name (letters, digits, `-` and `_`, up to 255)"
            )));
        }
        return Ok(Some(Registered::Definition(id)));
    }
    Ok(None)
}

/// A task-definition ARN, `FAMILY` or `FAMILY:REVISION`, as DescribeTaskDefinition takes them.
pub fn registered_name(value: &str) -> bool {
    let family_and_revision = |text: &str| {
        let (family, revision) = match text.rsplit_once(':') {
            Some((family, revision)) => (family, Some(revision)),
            None => (text, None),
        };
        !family.is_empty()
            && family.len() <= 255
            && family
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && revision.is_none_or(|r| {
                !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()) && !r.starts_with('0')
            })
    };
    match value.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts.as_slice(), [partition, "ecs", region, account, resource]
                if partition.starts_with("aws")
                    && !region.is_empty()
                    && account.len() == 12
                    && account.chars().all(|c| c.is_ascii_digit())
                    && resource.strip_prefix("task-definition/").is_some_and(family_and_revision))
        }
        None => family_and_revision(value),
    }
}

/// `task-definition-from-service`: the revision `service` of `cluster` runs.
fn from_service(raw: &Raw) -> Result<Option<Target>, Error> {
    if !raw.bool("task-definition-from-service")? {
        return Ok(None);
    }
    let service = raw.text("service").ok_or_else(|| {
        Error::Usage(
            "input `task-definition-from-service` needs `service` (and `cluster`, default `default`): the service whose revision to start from".to_owned(),
        )
    })?;
    Ok(Some(Target {
        cluster: raw.text_or_default("cluster").to_owned(),
        service: service.to_owned(),
    }))
}

/// A command input (`command`, `run-task-command`): a JSON array of strings, or words split on
/// spaces (as the render action does).
fn command_words(raw: &Raw, input: &'static str) -> Result<Option<Vec<String>>, Error> {
    let Some(text) = raw.text(input).map(str::trim) else {
        return Ok(None);
    };
    if text.starts_with('[') {
        let words: Vec<String> = serde_json::from_str(text).map_err(|e| {
            Error::Usage(format!(
                "input `{input}`: starts with `[` but is not a JSON array of strings ({e}); write `[\"npm\", \"start\"]` or words separated by spaces"
            ))
        })?;
        return Ok(Some(words));
    }
    Ok(Some(text.split_whitespace().map(str::to_owned).collect()))
}

/// `env-files`: S3 object ARNs, one per line (placeholders allowed).
fn env_files(raw: &Raw) -> Result<Option<Vec<String>>, Error> {
    // One a line, as the render action reads them: an S3 key may hold a comma.
    let files: Vec<String> = raw
        .lines("env-files")
        .iter()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    for (i, file) in files.iter().enumerate() {
        let s3_object = file
            .strip_prefix("arn:")
            .and_then(|rest| rest.split_once(":s3:::"))
            .is_some_and(|(partition, object)| {
                partition.starts_with("aws") && object.contains('/')
            });
        if !s3_object && !file.contains("{{") {
            return Err(Error::Usage(format!(
                "input `env-files` line {}: `{file}` is not an S3 object ARN; expected `arn:aws:s3:::BUCKET/KEY.env`",
                i + 1
            )));
        }
    }
    Ok(Some(files))
}

/// The log drivers ECS takes (`LogConfiguration.logDriver`).
const LOG_DRIVERS: &[&str] = &[
    "awsfirelens",
    "awslogs",
    "fluentd",
    "gelf",
    "journald",
    "json-file",
    "splunk",
    "syslog",
];

fn log_driver(raw: &Raw) -> Result<Option<String>, Error> {
    let Some(driver) = raw.text("log-configuration-log-driver").map(str::trim) else {
        return Ok(None);
    };
    if !LOG_DRIVERS.contains(&driver) {
        return Err(Error::Usage(format!(
            "input `log-configuration-log-driver`: `{driver}` is not a log driver ECS takes; expected one of {}",
            LOG_DRIVERS
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Some(driver.to_owned()))
}

/// `task-role-arn`, `execution-role-arn`: an IAM role ARN (or a placeholder).
fn role_arn(raw: &Raw, input: &'static str) -> Result<Option<String>, Error> {
    let Some(arn) = raw.text(input).map(str::trim) else {
        return Ok(None);
    };
    let role = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":iam::"))
        .and_then(|(partition, rest)| Some((partition, rest.split_once(":role/")?)))
        .is_some_and(|(partition, (account, name))| {
            partition.starts_with("aws")
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && !name.is_empty()
        });
    if !role && !arn.contains("{{") {
        return Err(Error::Usage(format!(
            "input `{input}`: `{arn}` is not an IAM role ARN; expected `arn:aws:iam::ACCOUNT:role/NAME`"
        )));
    }
    Ok(Some(arn.to_owned()))
}

fn init(raw: &Raw, aws: aws::Settings) -> Result<Init, Error> {
    let service = raw.text("service").ok_or_else(|| {
        Error::Usage(
            "`init` needs `service` (and `cluster`, default `default`): the service whose task definition to start from".to_owned(),
        )
    })?;
    Ok(Init {
        target: Target {
            cluster: raw.text_or_default("cluster").to_owned(),
            service: service.to_owned(),
        },
        output: raw.text("output").map(PathBuf::from).ok_or_else(|| {
            Error::Usage(
                "`init` needs `output`: the path of the template to write, or `-` for stdout (the template keeps the running definition's plain-text values, so a CI log is no place for it by default)".to_owned(),
            )
        })?,
        aws,
    })
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

/// The AWS settings of a run that takes no inputs of its own (the CodePipeline front doors; a
/// job's inputs go to the run it starts): the inputs' defaults, the Region from the SDK's chain.
pub fn default_aws_settings() -> aws::Settings {
    let none = std::collections::BTreeMap::new();
    aws_settings(&Raw::collect(Name::Deploy, None, &none)).expect("the inputs' defaults are valid")
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
        succeed_while_baking: raw.bool("succeed-while-baking")?,
        managed_tags: match raw.text("enable-ecs-managed-tags") {
            Some(_) => Some(raw.bool("enable-ecs-managed-tags")?),
            None => None,
        },
        propagate_tags: match raw.text("propagate-tags").map(str::trim) {
            None => None,
            Some(value @ ("TASK_DEFINITION" | "SERVICE" | "NONE")) => Some(value.to_owned()),
            Some(other) => {
                return Err(Error::Usage(format!(
                    "input `propagate-tags`: `{other}`; expected `TASK_DEFINITION`, `SERVICE` or `NONE`"
                )));
            }
        },
        codedeploy: rollout::codedeploy::Settings {
            appspec: raw.text("codedeploy-appspec").map(PathBuf::from),
            application: raw.text("codedeploy-application").map(str::to_owned),
            group: raw.text("codedeploy-deployment-group").map(str::to_owned),
            config: raw.text("codedeploy-deployment-config").map(str::to_owned),
            description: raw
                .text("codedeploy-deployment-description")
                .map(str::to_owned),
        },
    })
}

fn export(
    raw: &Raw,
    aws: aws::Settings,
    environment: &BTreeMap<String, String>,
) -> Result<Export, Error> {
    Ok(Export {
        taken: environment.keys().cloned().collect(),
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
        outputs: raw.bool("export-to-outputs")?,
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
