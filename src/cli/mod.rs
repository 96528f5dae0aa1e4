//! The one place that reads flags and the environment: the table of inputs ([`table`]), the
//! raw values from their three sources ([`raw`]), and each command's validated settings
//! ([`settings`]), which every later stage takes instead of the environment.
//!
//! Each input can be given as a flag (`--task-definition`), as GitHub's `INPUT_TASK-DEFINITION`
//! (or `INPUT_TASK_DEFINITION`), or as `ECS_SECRETS_TASK_DEFINITION`, in that order of
//! precedence. An empty value means unset, as GitHub passes inputs nobody set.

pub mod generate;
mod raw;
mod settings;
pub mod table;

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::{Arg, ArgAction, ArgMatches};

use crate::ci::Ci;
use crate::command::Command;
use crate::error::Error;
use crate::logging::Logging;
use raw::Raw;
pub use settings::default_aws_settings;
use table::{INPUTS, InputSpec, Kind};

/// A command's name, before its settings are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Render,
    Deploy,
    Check,
    Policy,
    Export,
    Init,
    Rollback,
    Run,
}

impl Name {
    pub const ALL: [Name; 8] = [
        Name::Render,
        Name::Deploy,
        Name::Check,
        Name::Policy,
        Name::Export,
        Name::Init,
        Name::Rollback,
        Name::Run,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Name::Render => "render",
            Name::Deploy => "deploy",
            Name::Check => "check",
            Name::Policy => "policy",
            Name::Export => "export",
            Name::Init => "init",
            Name::Rollback => "rollback",
            Name::Run => "run",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Name::Render => {
                "Resolve placeholders and write the rendered task definition; no AWS write"
            }
            Name::Deploy => "Render, validate and register the new task-definition revision",
            Name::Check => {
                "Prove that the task execution role can read every secret, without reading one"
            }
            Name::Policy => {
                "Print least-privilege IAM policies for the execution role and the CI role"
            }
            Name::Export => {
                "Export secret and parameter values as environment variables for a later step"
            }
            Name::Init => {
                "Write a template from a service's running task definition, values that look secret turned into placeholders"
            }
            Name::Rollback => {
                "Put a service back on the revision it ran before (stop a deployment in progress with rollback)"
            }
            Name::Run => {
                "Register the task definition and run it once as a one-off task (a migration), its logs streamed; no service is updated"
            }
        }
    }

    fn named(name: &str) -> Option<Name> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

/// A run, as the command line and the environment ask for it.
pub struct Invocation {
    pub command: Command,
    pub logging: Logging,
    pub ci: Ci,
}

/// The outcome of parsing the command line.
pub enum Parsed {
    Run(Box<Invocation>),
    /// `--help`, `--version` or `generate`: print and exit 0.
    Print(String),
}

fn command_line() -> clap::Command {
    let subcommands = Name::ALL.into_iter().map(|name| {
        let mut sub = clap::Command::new(name.as_str()).about(name.about());
        for spec in INPUTS {
            // Every flag is known to every subcommand, so that one given to a command that does
            // not use it gets a message naming the commands that do; help shows only its own.
            sub = sub.arg(flag(spec).hide(!spec.commands.contains(&name)));
        }
        sub
    });
    clap::Command::new("ecs-secrets")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Deploy Amazon ECS task definitions whose secrets are resolved at deploy time, never hard-coded")
        .after_help("Every input is also read from INPUT_<NAME> (GitHub Actions) and ECS_SECRETS_<NAME>.\nExit codes: 0 success, 1 the job failed, 2 bad input or usage.")
        .subcommands(subcommands)
        .subcommand(generate::command())
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

/// Parses flags and the environment into a command with validated settings.
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
    if let Some(("generate", sub)) = matches.subcommand() {
        return generate::run(sub).map(Parsed::Print);
    }
    let logging = Logging {
        verbosity: i8::try_from(matches.get_count("verbose")).unwrap_or(i8::MAX)
            - i8::try_from(matches.get_count("quiet")).unwrap_or(i8::MAX),
        rust_log: environment
            .get("RUST_LOG")
            .filter(|v| !v.is_empty())
            .cloned(),
        color: false,
    };
    let (name, sub, command_is_mode) = command(&matches, &environment)?;
    if let Some(sub) = sub {
        refuse_flags_of_other_commands(name, sub)?;
    }
    let raw = if command_is_mode {
        let mut inputs = environment.clone();
        inputs.retain(|key, _| !raw::names_input(key, "command"));
        Raw::collect(name, sub, &inputs)
    } else {
        Raw::collect(name, sub, &environment)
    };
    let ci = Ci::detect(&environment);
    let command = settings::command(name, &raw, environment)?;
    Ok(Parsed::Run(Box::new(Invocation {
        command,
        logging,
        ci,
    })))
}

/// The modes an older workflow could name in `command` (before `mode` existed).
const LEGACY_MODES: [Name; 5] = [
    Name::Render,
    Name::Deploy,
    Name::Check,
    Name::Policy,
    Name::Export,
];

/// The mode: the subcommand; or `mode` from the environment; or `command` from the environment
/// when it names one of the older modes; or, in a GitHub Action step (GitHub sets its inputs as
/// `INPUT_*`), `deploy`, the action's default. The second value is true when the environment's
/// `command` is exactly a mode's name: it is then never the container's command (a container
/// command of that one word is written `["deploy"]`), so a leftover `command: deploy` beside a
/// subcommand or `mode` cannot register a container that runs `deploy`.
fn command<'a>(
    matches: &'a ArgMatches,
    environment: &BTreeMap<String, String>,
) -> Result<(Name, Option<&'a ArgMatches>, bool), Error> {
    let expected = format!(
        "expected {}",
        Name::ALL
            .iter()
            .map(|n| format!("`{}`", n.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let legacy = raw::lookup_env(environment, "command")
        .and_then(|c| LEGACY_MODES.into_iter().find(|n| n.as_str() == c.trim()));
    let command_is_mode = legacy.is_some();
    if let Some((name, sub)) = matches.subcommand() {
        let name = Name::named(name).expect("clap knows only these");
        return Ok((name, Some(sub), command_is_mode));
    }
    if let Some(mode) = raw::lookup_env(environment, "mode") {
        return Name::named(mode.trim())
            .map(|name| (name, None, command_is_mode))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "input `mode`: unknown mode `{}`; {expected}",
                    mode.trim()
                ))
            });
    }
    if let Some(name) = legacy {
        return Ok((name, None, true));
    }
    let action_step = environment.get("GITHUB_ACTIONS").map(String::as_str) == Some("true")
        && environment.keys().any(|k| k.starts_with("INPUT_"));
    if action_step {
        return Ok((Name::Deploy, None, false));
    }
    Err(Error::Usage(format!(
        "no mode given; {expected}: as a subcommand, or in `INPUT_MODE` / `ECS_SECRETS_MODE`\n\n{}",
        command_line().render_usage()
    )))
}

/// A flag given for a command that does not use it is a mistake worth saying (`render --service`
/// would otherwise be silently ignored).
fn refuse_flags_of_other_commands(command: Name, matches: &ArgMatches) -> Result<(), Error> {
    for spec in INPUTS.iter().filter(|s| !s.commands.contains(&command)) {
        if matches.value_source(spec.name) == Some(clap::parser::ValueSource::CommandLine) {
            let users: Vec<String> = spec
                .commands
                .iter()
                .map(|c| format!("`{}`", c.as_str()))
                .collect();
            let users = match users.as_slice() {
                [one] => one.clone(),
                [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                [] => String::new(),
            };
            return Err(Error::Usage(format!(
                "input `{}` applies to {users}, not `{}`",
                spec.name,
                command.as_str()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
