//! One error type, a variant per pipeline stage, each with its exit code.
//!
//! Messages name things (files, lines, references, fields), never values.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

/// Text from the user's files, fit for one line of a message: control characters (a line break
/// in a JSON key, say) are shown escaped, so a message line cannot be split by what it quotes.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What a place is in: a template file, or an input (`environment-variables`, `secrets`,
/// `tags`), whose lines are the place's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Input(&'static str),
}

impl Default for Origin {
    fn default() -> Self {
        Origin::File(PathBuf::new())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Input(name) => write!(f, "input `{name}`"),
        }
    }
}

/// Where a reference or a problem sits: a file position, or a line of an input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub origin: Origin,
    /// 1-based; 0 when the place cannot be told (then only the path is known).
    pub line: usize,
    pub column: usize,
    /// The JSON path of the value, e.g. `containerDefinitions[0].secrets[1].valueFrom`.
    pub path: String,
}

impl Location {
    pub fn in_file(file: &Path, line: usize, column: usize, path: String) -> Self {
        Self {
            origin: Origin::File(file.to_owned()),
            line,
            column,
            path,
        }
    }

    /// The template file, when the place is in one.
    pub fn file(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File(path) if !path.as_os_str().is_empty() => Some(path),
            _ => None,
        }
    }
}

/// In a JSON report: `file` (or `input`), `path`, and `line` and `column` where known.
impl serde::Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        match &self.origin {
            Origin::File(path) => map.serialize_entry("file", &path.display().to_string())?,
            Origin::Input(name) => map.serialize_entry("input", name)?,
        }
        map.serialize_entry("path", &self.path)?;
        if self.line > 0 {
            map.serialize_entry("line", &self.line)?;
            map.serialize_entry("column", &self.column)?;
        }
        map.end()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}", self.origin, self.line, self.column)?;
        } else {
            write!(f, "{}", self.origin)?;
        }
        if !self.path.is_empty() {
            write!(f, " ({})", visible(&self.path))?;
        }
        Ok(())
    }
}

/// One thing wrong with one place of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    /// The placeholder or reference as written, if any.
    pub reference: Option<String>,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(reference) = &self.reference {
            write!(f, "`{}`: ", visible(reference))?;
        }
        f.write_str(&self.reason)
    }
}

/// A list of problems, printed one per line under a heading.
#[derive(Debug)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  {problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_cannot_break_a_line() {
        assert_eq!(visible("a\n::stop-commands::x"), "a\\n::stop-commands::x");
        assert_eq!(visible("tab\there \"q\" é\\"), "tab\\there \"q\" é\\");
        assert_eq!(visible("bell\u{7}"), "bell\\u{7}");
        assert_eq!(visible("plain"), "plain");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or inputs.
    #[error("{0}")]
    Usage(String),
    /// The template cannot be read or parsed.
    #[error("{path}: {message}", path = path.display())]
    Template { path: PathBuf, message: String },
    /// Placeholders or values that are wrong before any AWS call, or a rendered definition that
    /// breaks a rule (secret values in plain text, malformed `valueFrom`, ECS limits).
    #[error("the task definition is not valid ({n} problem{s}):\n{problems}", n = problems.0.len(), s = plural(problems.0.len()))]
    Invalid { problems: Problems },
    /// References that could not be resolved.
    #[error("{n} reference{s} could not be resolved; nothing was registered:\n{problems}", n = problems.0.len(), s = plural(problems.0.len()))]
    Resolve { problems: Problems },
    /// An AWS call failed.
    #[error("{0}")]
    Aws(String),
    /// The service did not reach the new revision: rolled back, failed or timed out.
    #[error("{0}")]
    Rollout(String),
    /// `check` (or `preflight`) found something that would fail at task start.
    #[error("{0}")]
    Check(String),
    /// Writing an output failed.
    #[error("cannot write `{path}`: {source}", path = path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Error {
    /// The problems with a place in a file, for annotations.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid { problems } | Error::Resolve { problems } => &problems.0,
            _ => &[],
        }
    }

    /// 0 success, 1 the job failed, 2 bad input or usage.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Template { .. } | Error::Invalid { .. } => 2,
            Error::Resolve { .. }
            | Error::Aws(_)
            | Error::Rollout(_)
            | Error::Check(_)
            | Error::Write { .. } => 1,
        }
    }
}
