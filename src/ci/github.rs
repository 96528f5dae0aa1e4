//! GitHub Actions: `::add-mask::` workflow commands and step outputs.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher as _, Hasher as _};
use std::io::Write as _;
use std::path::Path;

use crate::output::{self, Stream};

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
        output::write_unredacted_line(
            Stream::Stderr,
            &format!("::add-mask::{}", escape_data(form)),
        );
    }
}

/// Appends `name<<DELIM … DELIM` entries to the `GITHUB_OUTPUT` file, with a random delimiter
/// that no value can contain by accident.
pub fn set_outputs(path: &Path, outputs: &[(&str, String)]) -> std::io::Result<()> {
    let delimiter = format!(
        "ghadelimiter_{:016x}",
        RandomState::new().build_hasher().finish()
    );
    let mut text = String::new();
    for (name, value) in outputs {
        if value.contains(&delimiter) {
            return Err(std::io::Error::other(format!(
                "output `{name}` holds the delimiter"
            )));
        }
        let _ = write!(text, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    let text = output::redact(&text);
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?
        .write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_percent_first_then_line_breaks() {
        assert_eq!(escape_data("a%0Ab\r\nc"), "a%250Ab%0D%0Ac");
    }
}
