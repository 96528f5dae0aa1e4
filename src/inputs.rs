//! The one place that reads flags and the environment: the table of inputs, the raw values from
//! their three sources, and the validated [`Inputs`] every later stage takes.
//!
//! Each input can be given as a flag (`--task-definition`), as GitHub's `INPUT_TASK-DEFINITION`
//! (or `INPUT_TASK_DEFINITION`), or as `ECS_SECRETS_TASK_DEFINITION`, in that order of precedence.
//! An empty value means unset, as GitHub passes inputs nobody set.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value.
    Text,
    /// `true` or `false` (also `yes`/`no`, `1`/`0`); a bare flag means `true`.
    Bool,
    /// Several values: a repeated flag, or one per line (or comma-separated) in the environment.
    List,
    /// Multi-line `NAME=VALUE` text; the flag may be repeated.
    Lines,
}

/// One input of the tool: the single source of truth for flags, environment names, the README
/// table and action.yml.
#[derive(Debug)]
pub struct InputSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// The commands that use it: a flag for another command is a usage error; the same input
    /// from the environment is ignored (GitHub sets every input of an action).
    pub commands: &'static [Command],
    /// For numbers: the values accepted.
    pub range: Option<Range>,
    pub default: Option<&'static str>,
    pub description: &'static str,
}

/// The values a numeric input accepts.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    /// Whole numbers only.
    pub whole: bool,
    pub unit: &'static str,
}

impl InputSpec {
    /// The commands it applies to, for the docs: `all`, or `deploy, policy`.
    pub fn applies_to(&self) -> String {
        if self.commands.len() == ALL.len() {
            return "all".to_owned();
        }
        self.commands
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The description, with the range of a number.
    pub fn full_description(&self) -> String {
        match &self.range {
            Some(range) => format!("{} Accepts {}.", self.description, range.describe()),
            None => self.description.to_owned(),
        }
    }
}

impl Range {
    /// `1 to 20`, `0.01 to 300 seconds`, `a whole number from 1 to 20`.
    pub fn describe(&self) -> String {
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        if self.whole {
            format!("a whole number from {} to {}{unit}", self.min, self.max)
        } else {
            format!("from {} to {}{unit}", self.min, self.max)
        }
    }

    fn admits(&self, n: f64) -> bool {
        n.is_finite() && n >= self.min && n <= self.max && (!self.whole || n.fract() == 0.0)
    }
}

const ALL: &[Command] = &[
    Command::Render,
    Command::Deploy,
    Command::Check,
    Command::Policy,
    Command::Export,
];
const TEMPLATE: &[Command] = &[
    Command::Render,
    Command::Deploy,
    Command::Check,
    Command::Policy,
];
const MANY: &[Command] = &[Command::Deploy, Command::Check];
const FILES: &[Command] = &[Command::Render, Command::Deploy];
const REPORTS: &[Command] = &[Command::Render, Command::Deploy, Command::Check];
const DEPLOY: &[Command] = &[Command::Deploy];
const CHECK: &[Command] = &[Command::Check];
const PREFLIGHT: &[Command] = &[Command::Deploy, Command::Policy];
const SERVICE: &[Command] = &[Command::Deploy, Command::Policy];
const EXPORT: &[Command] = &[Command::Export];

pub const INPUTS: &[InputSpec] = &[
    InputSpec {
        name: "task-definition",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Path of the task-definition template: JSON or YAML, in the RegisterTaskDefinition shape or the `describe-task-definition` output. Required.",
    },
    InputSpec {
        name: "manifest",
        kind: Kind::Text,
        commands: MANY,
        range: None,
        default: None,
        description: "`deploy` (or `check`) of many services in one run: a YAML or JSON file listing `services:` entries, each with `task-definition` and optionally `service`, `cluster` and `image`. References of all of them are resolved in one batched pass.",
    },
    InputSpec {
        name: "image",
        kind: Kind::List,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Image to set, `container=uri` (repeatable, one per line); a bare `uri` applies to `container-name`, or to the only container.",
    },
    InputSpec {
        name: "container-name",
        kind: Kind::List,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Container(s) that a bare `image`, `environment-variables` and `secrets` apply to; defaults to the only container.",
    },
    InputSpec {
        name: "environment-variables",
        kind: Kind::Lines,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "`NAME=value` lines merged into the containers' `environment` by name (placeholders allowed).",
    },
    InputSpec {
        name: "secrets",
        kind: Kind::Lines,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "`NAME=valueFrom` lines merged into the containers' `secrets` by name, e.g. `DB_PASSWORD={{secretsmanager-arn:prod/db:password}}`.",
    },
    InputSpec {
        name: "allow-plaintext-secrets",
        kind: Kind::Bool,
        commands: TEMPLATE,
        range: None,
        default: Some("false"),
        description: "Allow secret values (Secrets Manager, SecureString) to land in plain text in the task definition. Off: only `-arn` references are accepted for secrets.",
    },
    InputSpec {
        name: "skip-unchanged",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("true"),
        description: "Register nothing when the rendered definition equals the family's latest ACTIVE revision; report that revision.",
    },
    InputSpec {
        name: "output",
        kind: Kind::Text,
        commands: FILES,
        range: None,
        default: None,
        description: "Where to write the rendered task definition (`-` for stdout). `render` writes to stdout by default.",
    },
    InputSpec {
        name: "report-format",
        kind: Kind::Text,
        commands: REPORTS,
        range: None,
        default: Some("lines"),
        description: "How the report is printed on stdout: `lines` (`key=value`), `shell` (`export TASK_DEFINITION_ARN='…'` lines to `eval` or source, e.g. for CodeBuild `exported-variables`) or `json`.",
    },
    InputSpec {
        name: "max-attempts",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 1.0,
            max: 20.0,
            whole: true,
            unit: "",
        }),
        default: Some("5"),
        description: "Attempts per AWS call: throttling, 5xx answers and lost connections are retried with capped exponential backoff and jitter; access denied, validation and not-found never are.",
    },
    InputSpec {
        name: "aws-timeout",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 1.0,
            max: 3600.0,
            whole: false,
            unit: "seconds",
        }),
        default: Some("60"),
        description: "Seconds one AWS call may take, retries included, before the run fails with a clear error.",
    },
    InputSpec {
        name: "max-concurrency",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 1.0,
            max: 256.0,
            whole: true,
            unit: "",
        }),
        default: Some("8"),
        description: "AWS calls in flight at once while resolving references.",
    },
    InputSpec {
        name: "max-requests-per-second",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 0.1,
            max: 10000.0,
            whole: false,
            unit: "",
        }),
        default: Some("20"),
        description: "Rate bound for Parameter Store calls, in any one-second window (its default quota is 40 a second, shared by the whole account and Region). Secrets Manager's quotas are far higher: its calls are bounded by `max-concurrency` only.",
    },
    InputSpec {
        name: "region",
        kind: Kind::Text,
        commands: ALL,
        range: None,
        default: None,
        description: "AWS Region; defaults to the SDK's (`AWS_REGION`, profile). References by ARN use their own Region.",
    },
    InputSpec {
        name: "plan",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("true"),
        description: "Read the family's latest revision to print the plan (a diff). Off, with `skip-unchanged` off too, `deploy` makes no call but the registration.",
    },
    InputSpec {
        name: "read-values",
        kind: Kind::Bool,
        commands: CHECK,
        range: None,
        default: Some("false"),
        description: "`check`: also read secret values (with this run's credentials, masked) to check the JSON keys that `valueFrom` names.",
    },
    InputSpec {
        name: "preflight",
        kind: Kind::Bool,
        commands: PREFLIGHT,
        range: None,
        default: Some("false"),
        description: "Before registering, run `check` (the execution role can read every secret) and register nothing when it fails.",
    },
    InputSpec {
        name: "dry-run",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "Resolve, render, validate and print the plan, but register nothing.",
    },
    InputSpec {
        name: "tags",
        kind: Kind::Lines,
        commands: FILES,
        range: None,
        default: None,
        description: "`key=value` lines added to the task definition's tags; the previous revision's tags are kept.",
    },
    InputSpec {
        name: "keep-revisions",
        kind: Kind::Text,
        commands: SERVICE,
        range: Some(Range {
            min: 1.0,
            max: 1000.0,
            whole: true,
            unit: "",
        }),
        default: None,
        description: "After registering, deregister ACTIVE revisions of the family beyond the newest N, never one a service of `cluster` runs.",
    },
    InputSpec {
        name: "image-definitions",
        kind: Kind::Text,
        commands: FILES,
        range: None,
        default: None,
        description: "Write `imagedefinitions.json` (`[{\"name\", \"imageUri\"}]`) for the CodePipeline ECS standard deploy action to this path.",
    },
    InputSpec {
        name: "codedeploy-artifacts",
        kind: Kind::Text,
        commands: FILES,
        range: None,
        default: None,
        description: "Write `taskdef.json` and `appspec.yaml` (`<TASK_DEFINITION>`) for the CodePipeline CodeDeployToECS action into this directory.",
    },
    InputSpec {
        name: "secret-ids",
        kind: Kind::Lines,
        commands: EXPORT,
        range: None,
        default: None,
        description: "`export`: one `[ALIAS,]ID` a line: a secret name or ARN (`:json-key:version-stage:version-id` allowed), a prefix `name*`, a parameter `/name` or `ssm:name` (`:version`/`:label` allowed), or a parameter path `/path/` (recursive).",
    },
    InputSpec {
        name: "name-transformation",
        kind: Kind::Text,
        commands: EXPORT,
        range: None,
        default: Some("uppercase"),
        description: "`export`: variable names `uppercase`, `lowercase` or `none`; characters outside `[A-Za-z0-9_]` become `_`, a leading digit gets a `_` prefix.",
    },
    InputSpec {
        name: "parse-json-secrets",
        kind: Kind::Bool,
        commands: EXPORT,
        range: None,
        default: Some("false"),
        description: "`export`: flatten JSON secrets into `NAME_KEY_SUBKEY` variables (non-string leaves as their JSON text).",
    },
    InputSpec {
        name: "env-file",
        kind: Kind::Text,
        commands: EXPORT,
        range: None,
        default: None,
        description: "`export`: write `NAME='value'` lines to this file (mode 0600), to source in CodeBuild or any CI.",
    },
    InputSpec {
        name: "export-to-github-env",
        kind: Kind::Bool,
        commands: EXPORT,
        range: None,
        default: Some("true"),
        description: "`export` on GitHub: set the variables for later steps through `GITHUB_ENV` (each value masked first).",
    },
    InputSpec {
        name: "export-to-stdout",
        kind: Kind::Bool,
        commands: EXPORT,
        range: None,
        default: Some("false"),
        description: "`export`: print `export NAME='value'` lines on stdout, values in clear. Only when you mean it.",
    },
    InputSpec {
        name: "cluster",
        kind: Kind::Text,
        commands: SERVICE,
        range: None,
        default: Some("default"),
        description: "ECS cluster of `service`.",
    },
    InputSpec {
        name: "service",
        kind: Kind::Text,
        commands: SERVICE,
        range: None,
        default: None,
        description: "ECS service to update to the new revision (checked before anything is registered); none: register only.",
    },
    InputSpec {
        name: "desired-count",
        kind: Kind::Text,
        commands: DEPLOY,
        range: Some(Range {
            min: 0.0,
            max: 5000.0,
            whole: true,
            unit: "",
        }),
        default: None,
        description: "Desired task count to set on the service; unset keeps the service's own.",
    },
    InputSpec {
        name: "force-new-deployment",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "Start a new deployment even when the service already runs the revision (picks up rotated secrets).",
    },
    InputSpec {
        name: "redeploy-on-secret-change",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "When the definition is unchanged but a referenced secret or parameter changed after the running deployment started, force a new deployment so tasks read the new value.",
    },
    InputSpec {
        name: "wait-for-service-stability",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("true"),
        description: "Wait until the new deployment is complete, and fail with the reason when it is rolled back, fails or times out.",
    },
    InputSpec {
        name: "wait-for-minutes",
        kind: Kind::Text,
        commands: DEPLOY,
        range: Some(Range {
            min: 0.001,
            max: 1440.0,
            whole: false,
            unit: "minutes",
        }),
        default: Some("30"),
        description: "How long to wait for the roll-out, in minutes.",
    },
    InputSpec {
        name: "poll-interval",
        kind: Kind::Text,
        commands: DEPLOY,
        range: Some(Range {
            min: 0.01,
            max: 300.0,
            whole: false,
            unit: "seconds",
        }),
        default: Some("10"),
        description: "Seconds between polls of the service while waiting.",
    },
];

/// What the run is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Resolve and write the rendered definition; no AWS write.
    Render,
    /// Render and register the new revision.
    Deploy,
    /// Prove the execution role can read every secret, reading none.
    Check,
    /// Print least-privilege policies for the execution role and the CI role.
    Policy,
    /// Export secret and parameter values as environment variables.
    Export,
}

impl Command {
    const ALL: [(&'static str, Command); 5] = [
        ("render", Command::Render),
        ("deploy", Command::Deploy),
        ("check", Command::Check),
        ("policy", Command::Policy),
        ("export", Command::Export),
    ];

    fn named(name: &str) -> Option<Command> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(n, _)| n)
    }
}

/// An image override: `container=uri`, or a bare uri.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub container: Option<String>,
    pub uri: String,
}

/// One `NAME=value` line of a multi-line input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: String,
    /// 1-based line within the input.
    pub line: usize,
    /// 1-based column of the value within that line.
    pub column: usize,
}

/// How the report is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Lines,
    Shell,
    Json,
}

/// The service to roll the new revision out to.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub cluster: String,
    pub service: String,
    pub desired_count: Option<i32>,
    pub force_new_deployment: bool,
    pub redeploy_on_secret_change: bool,
    pub wait: bool,
    pub timeout: std::time::Duration,
    pub poll_interval: std::time::Duration,
}

/// How hard to try with AWS, and how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_attempts: u32,
    pub timeout: std::time::Duration,
    pub concurrency: usize,
    pub requests_per_second: f64,
}

/// What `export` exports, and where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub ids: Vec<String>,
    pub casing: crate::export::Casing,
    pub parse_json: bool,
    pub env_file: Option<PathBuf>,
    pub github_env: bool,
    pub stdout: bool,
}

/// Where the tool runs, as far as output is concerned.
#[derive(Debug, Clone, Default)]
pub struct Ci {
    /// On GitHub Actions: the path of `GITHUB_OUTPUT`, if set.
    pub github: Option<GitHub>,
    /// On AWS `CodeBuild`.
    pub codebuild: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GitHub {
    pub output: Option<PathBuf>,
    pub env: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_WORKSPACE`, to make annotation paths relative to the repository.
    pub workspace: Option<PathBuf>,
}

/// The validated inputs. Built once, at the edge; later stages never read the environment.
/// Its `Debug` leaves out the environment, which holds credentials.
#[allow(clippy::struct_excessive_bools)] // independent switches, each an input of its own
pub struct Inputs {
    pub command: Command,
    pub task_definition: PathBuf,
    pub images: Vec<Image>,
    pub container_names: Vec<String>,
    pub environment_variables: Vec<Assignment>,
    pub secrets: Vec<Assignment>,
    pub allow_plaintext_secrets: bool,
    pub skip_unchanged: bool,
    pub output: Option<PathBuf>,
    pub report_format: ReportFormat,
    pub region: Option<String>,
    pub limits: Limits,
    pub export: Export,
    pub dry_run: bool,
    pub plan: bool,
    pub read_values: bool,
    pub preflight: bool,
    /// Set when a `service` is given (`deploy`; `policy` uses its names).
    pub rollout: Option<Rollout>,
    /// The roll-out settings for a manifest's services (service name empty).
    pub rollout_settings: Rollout,
    pub manifest: Option<PathBuf>,
    pub tags: Vec<Assignment>,
    pub keep_revisions: Option<usize>,
    pub image_definitions: Option<PathBuf>,
    pub codedeploy_artifacts: Option<PathBuf>,
    /// The process environment, for `{{env:…}}` placeholders.
    pub environment: BTreeMap<String, String>,
    pub ci: Ci,
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs")
            .field("command", &self.command)
            .field("task_definition", &self.task_definition)
            .field("images", &self.images)
            .field("container_names", &self.container_names)
            .field("environment_variables", &self.environment_variables.len())
            .field("secrets", &self.secrets.len())
            .field("allow_plaintext_secrets", &self.allow_plaintext_secrets)
            .field("skip_unchanged", &self.skip_unchanged)
            .field("output", &self.output)
            .field("report_format", &self.report_format)
            .field("region", &self.region)
            .field("limits", &self.limits)
            .field("export", &self.export.ids.len())
            .field("dry_run", &self.dry_run)
            .field("plan", &self.plan)
            .field("read_values", &self.read_values)
            .field("preflight", &self.preflight)
            .field("rollout", &self.rollout)
            .field("manifest", &self.manifest)
            .field("tags", &self.tags.len())
            .field("keep_revisions", &self.keep_revisions)
            .field("image_definitions", &self.image_definitions)
            .field("codedeploy_artifacts", &self.codedeploy_artifacts)
            .field("ci", &self.ci)
            .finish_non_exhaustive()
    }
}

/// Logging options, read before anything else so that errors in the inputs are logged the same way.
#[derive(Debug, Clone)]
pub struct Logging {
    pub verbosity: i8,
    pub rust_log: Option<String>,
    pub color: bool,
}

/// The outcome of parsing the command line.
pub enum Parsed {
    Run(Box<Inputs>, Logging),
    /// `--help` or `--version`: print and exit 0.
    Print(String),
}

fn command_line() -> clap::Command {
    let mut subcommands = Vec::new();
    for (name, about) in [
        (
            "render",
            "Resolve placeholders and write the rendered task definition; no AWS write",
        ),
        (
            "deploy",
            "Render, validate and register the new task-definition revision",
        ),
        (
            "check",
            "Prove that the task execution role can read every secret, without reading one",
        ),
        (
            "policy",
            "Print least-privilege IAM policies for the execution role and the CI role",
        ),
        (
            "export",
            "Export secret and parameter values as environment variables for a later step",
        ),
    ] {
        let mut sub = clap::Command::new(name).about(about);
        let command = Command::named(name).expect("every subcommand is a command");
        for spec in INPUTS {
            // Every flag is known to every subcommand, so that one given to a command that does
            // not use it gets a message naming the commands that do; help shows only its own.
            sub = sub.arg(flag(spec).hide(!spec.commands.contains(&command)));
        }
        subcommands.push(sub);
    }
    clap::Command::new("ecs-secrets")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Deploy Amazon ECS task definitions whose secrets are resolved at deploy time, never hard-coded")
        .after_help("Every input is also read from INPUT_<NAME> (GitHub Actions) and ECS_SECRETS_<NAME>.\nExit codes: 0 success, 1 the job failed, 2 bad input or usage.")
        .subcommands(subcommands)
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::Count)
                .global(true)
                .display_order(1000)
                .help("More output (-v debug, -vv trace)"),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::Count)
                .global(true)
                .display_order(1000)
                .help("Less output (warnings and errors only)"),
        )
}

fn flag(spec: &InputSpec) -> Arg {
    let arg = Arg::new(spec.name)
        .long(spec.name)
        .help(spec.full_description());
    match spec.kind {
        Kind::Text => arg.value_name("VALUE").action(ArgAction::Set),
        Kind::Bool => arg
            .value_name("BOOL")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .action(ArgAction::Set),
        Kind::List | Kind::Lines => arg.value_name("VALUE").action(ArgAction::Append),
    }
}

/// Parses flags and the environment into validated inputs.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Parsed, Error> {
    let environment: BTreeMap<String, String> = env
        .into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let matches = match command_line().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(err) => {
            use clap::error::ErrorKind;
            return match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Parsed::Print(err.render().to_string()))
                }
                _ => Err(Error::Usage(err.render().to_string().trim_end().to_owned())),
            };
        }
    };
    let verbosity = i8::try_from(matches.get_count("verbose")).unwrap_or(i8::MAX)
        - i8::try_from(matches.get_count("quiet")).unwrap_or(i8::MAX);
    let logging = Logging {
        verbosity,
        rust_log: environment
            .get("RUST_LOG")
            .filter(|v| !v.is_empty())
            .cloned(),
        color: false,
    };
    let expected = "expected `render`, `deploy`, `check`, `policy` or `export`";
    let (command, sub) = match matches.subcommand() {
        Some((name, sub)) => (
            Command::named(name).expect("clap knows only these"),
            Some(sub),
        ),
        None => match lookup_env(&environment, "command").as_deref() {
            Some(name) => match Command::named(name.trim()) {
                Some(command) => (command, None),
                None => {
                    return Err(Error::Usage(format!(
                        "unknown command `{name}`; {expected}"
                    )));
                }
            },
            None => {
                return Err(Error::Usage(format!(
                    "no command given; {expected}\n\n{}",
                    command_line().render_usage()
                )));
            }
        },
    };
    if let Some(sub) = sub {
        refuse_flags_of_other_commands(command, sub)?;
    }
    let raw = Raw::collect(command, sub, &environment);
    let inputs = Inputs::validate(command, &raw, environment)?;
    Ok(Parsed::Run(Box::new(inputs), logging))
}

/// A flag given for a command that does not use it is a mistake worth saying (`render --service`
/// would otherwise be silently ignored).
fn refuse_flags_of_other_commands(command: Command, matches: &ArgMatches) -> Result<(), Error> {
    for spec in INPUTS.iter().filter(|s| !s.commands.contains(&command)) {
        if matches.value_source(spec.name) == Some(clap::parser::ValueSource::CommandLine) {
            let users: Vec<String> = spec
                .commands
                .iter()
                .map(|c| format!("`{}`", c.name()))
                .collect();
            let users = match users.as_slice() {
                [one] => one.clone(),
                [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                [] => String::new(),
            };
            return Err(Error::Usage(format!(
                "input `{}` applies to {users}, not `{}`",
                spec.name,
                command.name()
            )));
        }
    }
    Ok(())
}

/// Raw values by input name, from the first source that gives a non-empty value.
struct Raw {
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Raw {
    /// The inputs `command` uses; the others are left out, wherever they came from.
    fn collect(
        command: Command,
        matches: Option<&ArgMatches>,
        environment: &BTreeMap<String, String>,
    ) -> Self {
        let mut values = BTreeMap::new();
        for spec in INPUTS.iter().filter(|s| s.commands.contains(&command)) {
            let from_flags: Vec<String> = matches
                .and_then(|m| m.get_many::<String>(spec.name))
                .map(|v| v.filter(|s| !s.is_empty()).cloned().collect())
                .unwrap_or_default();
            let found = if from_flags.is_empty() {
                lookup_env(environment, spec.name).map_or_else(Vec::new, |v| vec![v])
            } else {
                from_flags
            };
            if !found.is_empty() {
                values.insert(spec.name, found);
            }
        }
        Self { values }
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    fn bool(&self, name: &'static str) -> Result<bool, Error> {
        let spec = spec(name);
        let value = self.text(name).or(spec.default).unwrap_or("false");
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(true),
            "false" | "no" | "0" | "off" => Ok(false),
            _ => Err(Error::Usage(format!(
                "input `{name}`: `{value}` is not a boolean; expected `true` or `false`"
            ))),
        }
    }

    /// Items of a list input: every line (or comma-separated item) of every value.
    fn list(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|value| value.split(['\n', ',']))
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A number, for inputs that take one, within the input's range; `None` when unset.
    fn number(&self, name: &'static str) -> Result<Option<f64>, Error> {
        let spec = spec(name);
        let Some(text) = self.text(name).or(spec.default) else {
            return Ok(None);
        };
        let range = spec.range.expect("numeric inputs have a range");
        match text.trim().parse::<f64>() {
            Ok(number) if range.admits(number) => Ok(Some(number)),
            Ok(number) if number.is_finite() => Err(Error::Usage(format!(
                "input `{name}`: `{}` is out of range; expected {}",
                text.trim(),
                range.describe()
            ))),
            _ => Err(Error::Usage(format!(
                "input `{name}`: `{}` is not a number; expected {}",
                text.trim(),
                range.describe()
            ))),
        }
    }

    /// A whole number within the input's range.
    fn whole(&self, name: &'static str) -> Result<Option<u32>, Error> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(self.number(name)?.map(|n| n as u32))
    }

    fn rollout(&self, command: Command) -> Result<Option<Rollout>, Error> {
        let Some(service) = self.text("service") else {
            return Ok(None);
        };
        if !matches!(command, Command::Deploy | Command::Policy) {
            return Ok(None);
        }
        let mut rollout = self.rollout_settings()?;
        service.clone_into(&mut rollout.service);
        Ok(Some(rollout))
    }

    /// The roll-out settings, for the `service` input or a manifest's services.
    fn rollout_settings(&self) -> Result<Rollout, Error> {
        let seconds = |name: &'static str, scale: f64| -> Result<std::time::Duration, Error> {
            let number = self.number(name)?.unwrap_or_default() * scale;
            Ok(std::time::Duration::from_secs_f64(number))
        };
        Ok(Rollout {
            cluster: self
                .text("cluster")
                .or(spec("cluster").default)
                .unwrap_or("default")
                .to_owned(),
            service: String::new(),
            desired_count: self
                .whole("desired-count")?
                .map(|n| i32::try_from(n).expect("the range fits")),
            force_new_deployment: self.bool("force-new-deployment")?,
            redeploy_on_secret_change: self.bool("redeploy-on-secret-change")?,
            wait: self.bool("wait-for-service-stability")?,
            timeout: seconds("wait-for-minutes", 60.0)?,
            poll_interval: seconds("poll-interval", 1.0)?,
        })
    }

    fn limits(&self) -> Result<Limits, Error> {
        let number =
            |name| -> Result<f64, Error> { Ok(self.number(name)?.expect("limits have defaults")) };
        Ok(Limits {
            max_attempts: self.whole("max-attempts")?.expect("a default"),
            timeout: std::time::Duration::from_secs_f64(number("aws-timeout")?),
            concurrency: self.whole("max-concurrency")?.expect("a default") as usize,
            requests_per_second: number("max-requests-per-second")?,
        })
    }

    fn export(&self) -> Result<Export, Error> {
        Ok(Export {
            ids: self
                .values
                .get("secret-ids")
                .into_iter()
                .flatten()
                .flat_map(|v| v.lines())
                .map(str::to_owned)
                .collect(),
            casing: match self.text("name-transformation").unwrap_or("uppercase") {
                "uppercase" => crate::export::Casing::Uppercase,
                "lowercase" => crate::export::Casing::Lowercase,
                "none" => crate::export::Casing::None,
                other => {
                    return Err(Error::Usage(format!(
                        "input `name-transformation`: `{other}`; expected `uppercase`, `lowercase` or `none`"
                    )));
                }
            },
            parse_json: self.bool("parse-json-secrets")?,
            env_file: self.text("env-file").map(PathBuf::from),
            github_env: self.bool("export-to-github-env")?,
            stdout: self.bool("export-to-stdout")?,
        })
    }

    fn assignments(&self, name: &str) -> Result<Vec<Assignment>, Error> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let mut line_number = 0;
        for value in self.values.get(name).into_iter().flatten() {
            for line in value.lines() {
                line_number += 1;
                let trimmed = line.trim();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let Some((key, value)) = line.split_once('=') else {
                    problems.push(format!(
                        "input `{name}` line {line_number}: expected `NAME=value`"
                    ));
                    continue;
                };
                if key.trim().is_empty() {
                    problems.push(format!("input `{name}` line {line_number}: empty name"));
                    continue;
                }
                // Columns count characters, as in template positions.
                let value_start = key.chars().count()
                    + 1
                    + (value.chars().count() - value.trim_start().chars().count());
                let key = key.trim();
                out.push(Assignment {
                    name: key.to_owned(),
                    value: value.trim().to_owned(),
                    line: line_number,
                    column: value_start + 1,
                });
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(Error::Usage(problems.join("\n")))
        }
    }
}

fn spec(name: &str) -> &'static InputSpec {
    INPUTS
        .iter()
        .find(|s| s.name == name)
        .expect("every input read is in the table")
}

/// `INPUT_TASK-DEFINITION`, then `INPUT_TASK_DEFINITION`, then `ECS_SECRETS_TASK_DEFINITION`.
fn lookup_env(environment: &BTreeMap<String, String>, name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let underscored = upper.replace('-', "_");
    [
        format!("INPUT_{upper}"),
        format!("INPUT_{underscored}"),
        format!("ECS_SECRETS_{underscored}"),
    ]
    .iter()
    .filter_map(|key| environment.get(key))
    .find(|value| !value.trim().is_empty())
    .cloned()
}

/// The template's path: required, except for `export` and for a manifest, which only `deploy`
/// and `check` take.
fn task_definition(command: Command, raw: &Raw) -> Result<PathBuf, Error> {
    match (raw.text("task-definition"), raw.text("manifest")) {
        (Some(_), Some(_)) => Err(Error::Usage(
            "inputs `task-definition` and `manifest` are given together; a manifest names its own templates: give one of them"
                .to_owned(),
        )),
        (None, Some(_)) => {
            for name in ["output", "image-definitions", "codedeploy-artifacts"] {
                if raw.text(name).is_some() {
                    return Err(Error::Usage(format!(
                        "input `{name}` writes one definition's file, and a manifest has many: run those services without the manifest to get it"
                    )));
                }
            }
            Ok(PathBuf::new())
        }
        (Some(path), _) => Ok(PathBuf::from(path)),
        (None, None) if command == Command::Export => Ok(PathBuf::new()),
        (None, None) => Err(Error::Usage(
            "input `task-definition` is required: pass `--task-definition PATH` or set `INPUT_TASK-DEFINITION` / `ECS_SECRETS_TASK_DEFINITION`"
                .to_owned(),
        )),
    }
}

impl Inputs {
    fn validate(
        command: Command,
        raw: &Raw,
        environment: BTreeMap<String, String>,
    ) -> Result<Self, Error> {
        refuse_body_logging(&environment)?;
        let task_definition = task_definition(command, raw)?;
        let export = raw.export()?;
        let output = raw.text("output").map(PathBuf::from);
        if command == Command::Deploy && output.as_deref() == Some(std::path::Path::new("-")) {
            return Err(Error::Usage(
                "input `output`: `deploy` prints its report on stdout; give the rendered file a path"
                    .to_owned(),
            ));
        }
        let images = raw
            .list("image")
            .into_iter()
            .map(|item| parse_image(&item))
            .collect::<Result<Vec<_>, _>>()?;
        if images.iter().filter(|i| i.container.is_none()).count() > 1 {
            return Err(Error::Usage(
                "input `image`: more than one image without a container; write `container=uri`"
                    .to_owned(),
            ));
        }
        let ci = Ci {
            github: (environment.get("GITHUB_ACTIONS").map(String::as_str) == Some("true")).then(
                || {
                    let path = |name: &str| {
                        environment
                            .get(name)
                            .filter(|p| !p.is_empty())
                            .map(PathBuf::from)
                    };
                    GitHub {
                        output: path("GITHUB_OUTPUT"),
                        env: path("GITHUB_ENV"),
                        step_summary: path("GITHUB_STEP_SUMMARY"),
                        workspace: path("GITHUB_WORKSPACE"),
                    }
                },
            ),
            codebuild: environment.contains_key("CODEBUILD_BUILD_ID"),
        };
        Ok(Self {
            command,
            task_definition,
            images,
            container_names: raw.list("container-name"),
            environment_variables: raw.assignments("environment-variables")?,
            secrets: raw.assignments("secrets")?,
            allow_plaintext_secrets: raw.bool("allow-plaintext-secrets")?,
            skip_unchanged: raw.bool("skip-unchanged")?,
            output,
            report_format: match raw.text("report-format").unwrap_or("lines") {
                "lines" => ReportFormat::Lines,
                "shell" => ReportFormat::Shell,
                "json" => ReportFormat::Json,
                other => {
                    return Err(Error::Usage(format!(
                        "input `report-format`: `{other}`; expected `lines`, `shell` or `json`"
                    )));
                }
            },
            region: raw.text("region").map(str::to_owned),
            limits: raw.limits()?,
            export,
            dry_run: raw.bool("dry-run")?,
            plan: raw.bool("plan")?,
            read_values: raw.bool("read-values")?,
            preflight: raw.bool("preflight")?,
            rollout: raw.rollout(command)?,
            rollout_settings: raw.rollout_settings()?,
            manifest: raw.text("manifest").map(PathBuf::from),
            tags: raw.assignments("tags")?,
            keep_revisions: raw.whole("keep-revisions")?.map(|n| n as usize),
            image_definitions: raw.text("image-definitions").map(PathBuf::from),
            codedeploy_artifacts: raw.text("codedeploy-artifacts").map(PathBuf::from),
            environment,
            ci,
        })
    }
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

pub fn parse_image(item: &str) -> Result<Image, Error> {
    let (container, uri) = match item.split_once('=') {
        Some((container, uri)) => (Some(container.trim().to_owned()), uri.trim()),
        None => (None, item),
    };
    if uri.is_empty() || uri.chars().any(char::is_whitespace) {
        return Err(Error::Usage(format!(
            "input `image`: `{item}` is not `container=uri` or `uri`"
        )));
    }
    Ok(Image {
        container: container.filter(|c| !c.is_empty()),
        uri: uri.to_owned(),
    })
}

/// The inputs table of the README (and, later, the source of action.yml).
#[cfg(test)]
pub fn markdown_table() -> String {
    use std::fmt::Write as _;
    let mut table = String::from(
        "| input | flag | commands | default | description |\n|---|---|---|---|---|\n",
    );
    for spec in INPUTS {
        let flag = match spec.kind {
            Kind::Bool => format!("`--{}[=BOOL]`", spec.name),
            Kind::List | Kind::Lines => format!("`--{} VALUE` (repeatable)", spec.name),
            Kind::Text => format!("`--{} VALUE`", spec.name),
        };
        let default = spec.default.map_or_else(String::new, |d| format!("`{d}`"));
        let _ = writeln!(
            table,
            "| `{}` | {flag} | {} | {default} | {} |",
            spec.name,
            spec.applies_to(),
            spec.full_description().replace('|', "\\|")
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `inputs:` block of action.yml, as the table defines it.
    fn action_inputs_yaml() -> String {
        use std::fmt::Write as _;
        let mut yaml = String::from("inputs:\n");
        yaml.push_str("  command:\n    description: \"What to run: `deploy`, `render`, `check`, `policy` or `export`.\"\n    required: false\n    default: \"deploy\"\n");
        for spec in INPUTS {
            let description = serde_json::to_string(&format!(
                "[{}] {}",
                spec.applies_to(),
                spec.full_description()
            ))
            .unwrap();
            let required = spec.name == "task-definition";
            let _ = write!(
                yaml,
                "  {}:\n    description: {description}\n    required: {required}\n",
                spec.name
            );
            if let Some(default) = spec.default {
                let _ = writeln!(yaml, "    default: \"{default}\"");
            }
        }
        yaml
    }

    #[test]
    fn action_yml_inputs_match_the_inputs() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml"))
            .expect("action.yml");
        let action: serde_json::Value = serde_yaml_ng::from_str(&text).expect("action.yml is YAML");
        let expected: serde_json::Value = serde_yaml_ng::from_str(&action_inputs_yaml()).unwrap();
        assert!(
            action["inputs"] == expected["inputs"],
            "action.yml's inputs are out of date; replace them with:\n{}",
            action_inputs_yaml()
        );
    }

    #[test]
    fn readme_inputs_table_matches_the_inputs() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let start = readme
            .find("<!-- inputs:start -->\n")
            .expect("inputs:start marker")
            + 22;
        let end = readme
            .find("<!-- inputs:end -->")
            .expect("inputs:end marker");
        let expected = markdown_table();
        assert!(
            readme[start..end] == expected,
            "README.md's inputs table is out of date; replace it with:\n{expected}"
        );
    }

    #[test]
    fn refuses_sdk_body_logging() {
        let err = run(
            &["deploy", "--task-definition=a.json"],
            &[("LOG_SENSITIVE_BODIES", "true")],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`LOG_SENSITIVE_BODIES` is set"),
            "{err}"
        );
    }

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Inputs, Error> {
        let args = std::iter::once("ecs-secrets")
            .chain(args.iter().copied())
            .map(OsString::from);
        let env = env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        match parse(args, env)? {
            Parsed::Run(inputs, _) => Ok(*inputs),
            Parsed::Print(text) => panic!("unexpected print: {text}"),
        }
    }

    #[test]
    fn reads_github_hyphenated_and_underscored_and_ecs_secrets_names() {
        let inputs = run(
            &["deploy"],
            &[
                ("INPUT_TASK-DEFINITION", "a.json"),
                ("INPUT_DRY_RUN", "true"),
                ("ECS_SECRETS_REGION", "eu-west-1"),
            ],
        )
        .unwrap();
        assert_eq!(inputs.task_definition, PathBuf::from("a.json"));
        assert!(inputs.dry_run);
        assert_eq!(inputs.region.as_deref(), Some("eu-west-1"));
        assert!(inputs.skip_unchanged, "default is true");
    }

    #[test]
    fn flag_wins_over_environment_and_empty_means_unset() {
        let inputs = run(
            &[
                "deploy",
                "--task-definition",
                "flag.json",
                "--skip-unchanged=false",
            ],
            &[
                ("INPUT_TASK-DEFINITION", "env.json"),
                ("INPUT_OUTPUT", ""),
                ("INPUT_ALLOW-PLAINTEXT-SECRETS", ""),
            ],
        )
        .unwrap();
        assert_eq!(inputs.task_definition, PathBuf::from("flag.json"));
        assert!(!inputs.skip_unchanged);
        assert_eq!(inputs.output, None);
        assert!(!inputs.allow_plaintext_secrets);
    }

    #[test]
    fn command_can_come_from_the_environment() {
        let inputs = run(
            &[],
            &[
                ("INPUT_COMMAND", "render"),
                ("INPUT_TASK-DEFINITION", "a.json"),
            ],
        )
        .unwrap();
        assert_eq!(inputs.command, Command::Render);
    }

    #[test]
    fn parses_images_and_assignment_lines_with_positions() {
        let inputs = run(
            &[
                "deploy",
                "--task-definition=a.json",
                "--image",
                "web=repo/web:1",
                "--image",
                "sidecar=repo/side:2",
            ],
            &[(
                "INPUT_SECRETS",
                "# comment\nDB_PASSWORD={{secretsmanager-arn:prod/db:password}}\n  API_KEY = /app/key",
            )],
        )
        .unwrap();
        assert_eq!(inputs.images.len(), 2);
        assert_eq!(inputs.images[0].container.as_deref(), Some("web"));
        assert_eq!(inputs.secrets.len(), 2);
        assert_eq!(inputs.secrets[0].line, 2);
        assert_eq!(inputs.secrets[0].column, 13);
        assert_eq!(inputs.secrets[1].name, "API_KEY");
        assert_eq!(inputs.secrets[1].value, "/app/key");
        assert_eq!(inputs.secrets[1].column, 13);
    }

    #[test]
    fn a_flag_the_command_does_not_use_is_refused_but_the_same_input_from_the_environment_is_ignored()
     {
        let err = run(
            &["render", "--task-definition=a.json", "--service", "web"],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "input `service` applies to `deploy` and `policy`, not `render`"
        );
        let err = run(&["export", "--secret-ids=x", "--dry-run"], &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("input `dry-run` applies to `deploy`, not `export`"),
            "{err}"
        );
        let inputs = run(
            &["render", "--task-definition=a.json"],
            &[("INPUT_SERVICE", "web"), ("INPUT_WAIT-FOR-MINUTES", "0")],
        )
        .unwrap();
        assert!(inputs.rollout.is_none());
    }

    #[test]
    fn every_number_has_a_range() {
        for spec in INPUTS.iter().filter(|s| s.range.is_some()) {
            let err = run(
                &[
                    "deploy",
                    "--task-definition=a.json",
                    &format!("--{}=-1", spec.name),
                ],
                &[],
            );
            // `-1` may read as a flag to clap; the environment reaches the range check.
            let err = err.err().or_else(|| {
                run(
                    &["deploy", "--task-definition=a.json"],
                    &[(&*format!("INPUT_{}", spec.name.to_ascii_uppercase()), "1e9")],
                )
                .err()
            });
            let err = err.unwrap_or_else(|| panic!("`{}` takes any number", spec.name));
            assert_eq!(err.exit_code(), 2, "{}: {err}", spec.name);
        }
        for (name, value) in [
            ("poll-interval", "0"),
            ("wait-for-minutes", "0"),
            ("max-attempts", "2.5"),
            ("max-concurrency", "0"),
            ("keep-revisions", "0"),
            ("desired-count", "x"),
        ] {
            let err = run(
                &[
                    "deploy",
                    "--task-definition=a.json",
                    &format!("--{name}={value}"),
                ],
                &[],
            )
            .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("input `{name}`: `{value}` is")),
                "{err}"
            );
            assert!(err.to_string().contains("expected"), "{err}");
        }
        let inputs = run(
            &[
                "deploy",
                "--task-definition=a.json",
                "--poll-interval=0.5",
                "--desired-count=0",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(inputs.rollout_settings.desired_count, Some(0));
    }

    #[test]
    fn a_manifest_and_a_template_are_not_given_together() {
        let err = run(
            &["deploy", "--task-definition=a.json", "--manifest=m.yaml"],
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`task-definition` and `manifest`"),
            "{err}"
        );
        let err = run(&["deploy", "--manifest=m.yaml", "--output=x.json"], &[]).unwrap_err();
        assert!(err.to_string().contains("input `output`"), "{err}");
    }

    #[test]
    fn rejects_bad_booleans_and_missing_template() {
        let err = run(&["deploy", "--task-definition=a", "--dry-run=maybe"], &[]).unwrap_err();
        assert!(
            err.to_string().contains("`maybe` is not a boolean"),
            "{err}"
        );
        let err = run(&["deploy"], &[]).unwrap_err();
        assert!(err.to_string().contains("`task-definition` is required"));
        assert_eq!(err.exit_code(), 2);
    }
}
