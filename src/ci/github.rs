//! GitHub Actions: workflow commands (`::add-mask::`, groups, annotations), step outputs,
//! `GITHUB_ENV` and the step summary.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Location, Origin};
use crate::output::{self, Stream};

/// The runner's files, where it gives them.
#[derive(Debug, Clone, Default)]
pub struct GitHub {
    pub output: Option<PathBuf>,
    pub env: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_WORKSPACE`, to make annotation paths relative to the repository.
    pub workspace: Option<PathBuf>,
}

/// Escapes workflow-command data exactly as the runner unescapes it.
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Registers each form with the runner's masker. Written to stderr, the stream that carries all
/// other output, so the runner sees the mask before any line that could hold the value.
pub fn add_mask(forms: &[String]) {
    for form in forms {
        output::command(
            Stream::Stderr,
            &format!("::add-mask::{}", escape_data(form)),
        );
    }
}

/// `::group::TITLE` (the title redacted, then escaped) and `::endgroup::`.
pub fn group(title: &str) {
    output::command(
        Stream::Stderr,
        &format!("::group::{}", escape_data(&output::redact(title))),
    );
}

pub fn end_group() {
    output::command(Stream::Stderr, "::endgroup::");
}

/// `name<<DELIM … DELIM` entries, with a random delimiter that no value can contain by accident.
fn heredoc<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> std::io::Result<String> {
    let delimiter = format!(
        "ghadelimiter_{:016x}",
        RandomState::new().build_hasher().finish()
    );
    let mut text = String::new();
    for (name, value) in entries {
        if value.contains(&delimiter) {
            return Err(std::io::Error::other(format!(
                "`{name}` holds the delimiter"
            )));
        }
        let _ = write!(text, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    Ok(text)
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Appends step outputs to the `GITHUB_OUTPUT` file exactly: outputs are names the tool chose and
/// values it built from AWS's answers (ARNs, revisions, `changed`), never secret values, and
/// redacting them would corrupt them whenever a secret value is as common as `true`.
pub fn set_outputs(path: &Path, outputs: &[(&str, String)]) -> std::io::Result<()> {
    let text = heredoc(outputs.iter().map(|(n, v)| (*n, v.as_str())))?;
    append(path, &text)
}

/// Appends variables to `GITHUB_ENV` (or, for `export-to-outputs`, `GITHUB_OUTPUT`) with values
/// as they are: the one place a value is written on purpose. Each value must have been registered with `::add-mask::` first. Returns the
/// file's length before, for [`truncate`].
pub fn set_values(path: &Path, values: &[(String, &str)]) -> std::io::Result<u64> {
    let text = heredoc(values.iter().map(|(n, v)| (n.as_str(), *v)))?;
    let before = std::fs::metadata(path).map_or(0, |m| m.len());
    append(path, &text)?;
    Ok(before)
}

/// Cuts a file the run appended to back to its length before (a later step failed).
pub fn truncate(path: &Path, length: u64) {
    if let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = file.set_len(length);
    }
}

/// Appends Markdown to the step summary file. The caller redacts what may hold a value (cell
/// by cell, before escaping it for Markdown: escaping first would hide a value from the
/// redactor) and leaves the outputs exact.
pub fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    append(path, markdown)
}

/// A Markdown table cell of text that may hold a value: redacted first, then escaped.
pub fn cell(text: &str) -> String {
    markdown_cell(&output::redact(text))
}

/// A Markdown table cell of exact text: `|` and line breaks escaped.
pub fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// Escapes a workflow-command property (`file=`, `title=`) as the runner unescapes it.
pub fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// How an annotation shows on the run's page.
#[derive(Debug, Clone, Copy)]
pub enum Level {
    Error,
    Warning,
}

/// An `::error file=…,line=…,col=…::message` annotation pointing into the template; without a
/// file when the place is an input rather than a file. The message and title are redacted before
/// they are escaped (a redactor that ran after escaping would miss an escaped value, and could
/// mask a piece of the command's own syntax).
pub fn annotation(level: Level, location: &Location, title: &str, message: &str) -> String {
    let (title, message) = (output::redact(title), output::redact(message));
    let command = match level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    let mut properties = Vec::new();
    if let Some(file) = location.file() {
        properties.push(format!(
            "file={}",
            escape_property(&file.display().to_string())
        ));
        if location.line > 0 {
            properties.push(format!("line={},col={}", location.line, location.column));
        }
    }
    properties.push(format!("title={}", escape_property(&title)));
    format!(
        "::{command} {}::{}",
        properties.join(","),
        escape_data(&message)
    )
}

impl GitHub {
    /// The location with its file relative to the workspace, as annotations need it.
    fn in_workspace(&self, location: &Location) -> Location {
        let origin = match (&location.origin, &self.workspace) {
            (Origin::File(path), Some(workspace)) => {
                Origin::File(path.strip_prefix(workspace).unwrap_or(path).to_owned())
            }
            (origin, _) => origin.clone(),
        };
        Location {
            origin,
            ..location.clone()
        }
    }

    /// Writes one annotation; a place in an input (not a file) gets none.
    pub fn annotate(&self, annotation: &super::Annotation) {
        if matches!(annotation.location.origin, Origin::Input(_)) {
            return;
        }
        output::command(
            Stream::Stderr,
            &self::annotation(
                annotation.level,
                &self.in_workspace(&annotation.location),
                annotation.title,
                &annotation.message,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_properties_are_escaped() {
        let location = Location {
            origin: Origin::File("deploy/a,b:c.json".into()),
            line: 3,
            column: 7,
            path: "family".to_owned(),
        };
        assert_eq!(
            annotation(Level::Error, &location, "ecs-secrets", "bad\nthing 100%"),
            "::error file=deploy/a%2Cb%3Ac.json,line=3,col=7,title=ecs-secrets::bad%0Athing 100%25"
        );
        let input = Location {
            origin: Origin::Input("image"),
            ..location
        };
        assert_eq!(
            annotation(Level::Warning, &input, "check: a, b", "m"),
            "::warning title=check%3A a%2C b::m"
        );
    }

    #[test]
    fn escapes_percent_first_then_line_breaks() {
        assert_eq!(escape_data("a%0Ab\r\nc"), "a%250Ab%0D%0Ac");
    }
}
