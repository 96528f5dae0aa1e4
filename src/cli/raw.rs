//! Raw input values from their three sources (flags, `INPUT_*`, `ECS_SECRETS_*`), and the typed
//! readings of them every setting is built from.

use std::collections::BTreeMap;

use clap::ArgMatches;

use super::Name;
use super::table::{INPUTS, spec};
use crate::error::Error;
use crate::template::Assignment;

/// Raw values by input name, from the first source that gives a non-empty value.
pub struct Raw {
    values: BTreeMap<&'static str, Vec<String>>,
}

/// `INPUT_TASK-DEFINITION`, then `INPUT_TASK_DEFINITION`, then `ECS_SECRETS_TASK_DEFINITION`.
pub fn lookup_env(environment: &BTreeMap<String, String>, name: &str) -> Option<String> {
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

/// Whether the environment variable `key` is one of the names of input `name`.
pub fn names_input(key: &str, name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let underscored = upper.replace('-', "_");
    key == format!("INPUT_{upper}")
        || key == format!("INPUT_{underscored}")
        || key == format!("ECS_SECRETS_{underscored}")
}

impl Raw {
    /// The inputs `command` uses; the others are left out, wherever they came from.
    pub fn collect(
        command: Name,
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

    pub fn text(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// The value, or the input's default.
    pub fn text_or_default(&self, name: &str) -> &str {
        self.text(name).or(spec(name).default).unwrap_or_default()
    }

    pub fn bool(&self, name: &'static str) -> Result<bool, Error> {
        let value = self.text(name).or(spec(name).default).unwrap_or("false");
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(true),
            "false" | "no" | "0" | "off" => Ok(false),
            _ => Err(Error::Usage(format!(
                "input `{name}`: `{value}` is not a boolean; expected `true` or `false`"
            ))),
        }
    }

    /// Items of a list input: every line (or comma-separated item) of every value.
    pub fn list(&self, name: &str) -> Vec<String> {
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

    /// Every line of every value, as given.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.lines())
            .map(str::to_owned)
            .collect()
    }

    /// A number, for inputs that take one, within the input's range; `None` when unset.
    pub fn number(&self, name: &'static str) -> Result<Option<f64>, Error> {
        let spec = spec(name);
        let Some(text) = self.text(name).or(spec.default) else {
            return Ok(None);
        };
        let range = spec.range.expect("numeric inputs have a range");
        let text = text.trim();
        match text.parse::<f64>() {
            Ok(number) if range.admits(number) => Ok(Some(number)),
            Ok(number) if number.is_finite() => Err(Error::Usage(format!(
                "input `{name}`: `{text}` is out of range; expected {}",
                range.describe()
            ))),
            _ => Err(Error::Usage(format!(
                "input `{name}`: `{text}` is not a number; expected {}",
                range.describe()
            ))),
        }
    }

    /// A whole number within the input's range.
    pub fn whole(&self, name: &'static str) -> Result<Option<u32>, Error> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(self.number(name)?.map(|n| n as u32))
    }

    /// `NAME=value` lines, each with its line and the column of its value; every bad line at once.
    pub fn assignments(&self, name: &str) -> Result<Vec<Assignment>, Error> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (index, line) in self.lines(name).iter().enumerate() {
            let number = index + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                problems.push(format!(
                    "input `{name}` line {number}: expected `NAME=value`"
                ));
                continue;
            };
            if key.trim().is_empty() {
                problems.push(format!("input `{name}` line {number}: empty name"));
                continue;
            }
            // Columns count characters, as in template positions.
            let value_start = key.chars().count()
                + 1
                + (value.chars().count() - value.trim_start().chars().count());
            out.push(Assignment {
                name: key.trim().to_owned(),
                value: value.trim().to_owned(),
                line: number,
                column: value_start + 1,
            });
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(Error::Usage(problems.join("\n")))
        }
    }
}
