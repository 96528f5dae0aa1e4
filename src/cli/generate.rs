//! `ecs-secrets generate` (hidden): the README's table of inputs and action.yml's `inputs:`
//! block, made from the input table so that neither drifts from the binary (as ripgrep and
//! zizmor generate theirs). `--write` puts them into README.md and action.yml of the current
//! directory; a test fails when the committed files disagree.

use std::fmt::Write as _;
use std::path::Path;

use clap::{Arg, ArgAction, ArgMatches};

use super::table::{INPUTS, Kind};
use crate::error::Error;

const README_START: &str = "<!-- inputs:start -->\n";
const README_END: &str = "<!-- inputs:end -->";

pub fn command() -> clap::Command {
    clap::Command::new("generate")
        .hide(true)
        .about("Print (or write) the README inputs table and action.yml's inputs")
        .arg(
            Arg::new("what")
                .value_parser(["readme", "action"])
                .required(false),
        )
        .arg(Arg::new("write").long("write").action(ArgAction::SetTrue))
}

/// Prints what was asked for, or with `--write` updates the files and says so.
pub fn run(matches: &ArgMatches) -> Result<String, Error> {
    let what = matches.get_one::<String>("what").map(String::as_str);
    if matches.get_flag("write") {
        write(Path::new("README.md"), &readme(&read("README.md")?))?;
        write(Path::new("action.yml"), &action(&read("action.yml")?))?;
        return Ok("README.md and action.yml agree with the input table\n".to_owned());
    }
    Ok(match what {
        Some("action") => action_inputs(),
        _ => markdown_table(),
    })
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Write {
        path: path.into(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// README.md with its table between the markers replaced.
pub fn readme(text: &str) -> String {
    let start = text
        .find(README_START)
        .map_or(0, |i| i + README_START.len());
    let end = text.find(README_END).unwrap_or(text.len());
    format!("{}{}{}", &text[..start], markdown_table(), &text[end..])
}

/// action.yml with its `inputs:` block (up to `outputs:`) replaced.
pub fn action(text: &str) -> String {
    let start = text.find("inputs:\n").unwrap_or(0);
    // The top-level key, not an input whose name ends in `outputs`.
    let end = text.find("\noutputs:\n").map_or(text.len(), |i| i + 1);
    format!("{}{}{}", &text[..start], action_inputs(), &text[end..])
}

/// The `mode` input: which command runs, where no subcommand can be given.
const MODE: &str = "What to run: `deploy` (the default on GitHub), `render`, `check`, `policy`, `export`, `init` or `rollback`. Older workflows name it in `command`, which is still read as the mode when `mode` is unset and the value is a mode's name.";

/// The inputs table of the README.
pub fn markdown_table() -> String {
    let mut table = String::from(
        "| input | flag | commands | default | description |\n|---|---|---|---|---|\n",
    );
    let _ = writeln!(
        table,
        "| `mode` | the subcommand | all | `deploy` on GitHub | {MODE} |"
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

/// The `inputs:` block of action.yml.
pub fn action_inputs() -> String {
    let mut yaml = String::from("inputs:\n");
    let _ = write!(
        yaml,
        "  mode:\n    description: {}\n    required: false\n",
        serde_json::to_string(MODE).expect("a string serialises")
    );
    for spec in INPUTS {
        let description = serde_json::to_string(&format!(
            "[{}] {}",
            spec.applies_to(),
            spec.full_description()
        ))
        .expect("a string serialises");
        // None is: `task-definition` has its alternatives, and the tool names what is missing.
        let _ = write!(
            yaml,
            "  {}:\n    description: {description}\n    required: false\n",
            spec.name
        );
        if let Some(default) = spec.default {
            let _ = writeln!(yaml, "    default: \"{default}\"");
        }
    }
    yaml
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).expect(name)
    }

    #[test]
    fn readme_inputs_table_matches_the_inputs() {
        let text = committed("README.md");
        assert!(
            readme(&text) == text,
            "README.md's inputs table is out of date: run `cargo run -- generate --write`"
        );
    }

    #[test]
    fn action_yml_inputs_match_the_inputs() {
        let text = committed("action.yml");
        assert!(
            action(&text) == text,
            "action.yml's inputs are out of date: run `cargo run -- generate --write`"
        );
        let parsed: serde_json::Value = serde_yaml_ng::from_str(&text).expect("action.yml is YAML");
        assert_eq!(parsed["inputs"]["poll-interval"]["default"], "10");
    }
}
