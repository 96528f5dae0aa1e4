//! The `Secret` type and the redactor that every byte of output passes through.
//!
//! A [`Secret`] prints as `***` whichever way it is formatted; the only way to read it is
//! [`Secret::expose`], so every place that handles a value can be found with grep.
//!
//! The [`Redactor`] knows every secret value fetched during the run, in the forms a value takes on
//! its way into a log (whole, per line, per JSON leaf, JSON-escaped, URL-encoded, XML-escaped,
//! base64 in both alphabets and at every byte alignment), and replaces each occurrence with `***`.
//! [`Redactor::split_safe`] lets a stream emit what it can without revealing the start of a value
//! that the next write may complete.

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Values shorter than this are not masked: masking `abc` everywhere would destroy the log. The
/// tool never prints such a value itself; callers warn about them by reference name.
pub const MIN_MASKED_LEN: usize = 4;

/// A secret value. `Debug` and `Display` print `***`; [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads the value. Every call site is a place where a value could escape: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Who must see each secret value as soon as it is read (the redactor, the CI's own masking).
pub type OnSecret<'a> = &'a dyn Fn(&Secret, &str);

/// RFC 3986: everything but the unreserved characters is percent-encoded.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Replaces every known secret form with `***`.
#[derive(Default)]
pub struct Redactor {
    /// Every form of every value.
    patterns: BTreeSet<Vec<u8>>,
    /// Built from `patterns` at the first use after a change: registering n values one by one
    /// costs one build, not n.
    compiled: OnceLock<Compiled>,
}

struct Compiled {
    automaton: AhoCorasick,
    /// The patterns that span lines, for the hold-back of [`Redactor::split_safe`].
    multiline: Vec<Vec<u8>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns.len())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// Adds a value and all its encoded forms. Returns what was learnt: the forms, for platforms
    /// that want them registered too (GitHub's `::add-mask::`), and the parts that could not be
    /// masked or are so common that masking them hides more than the value.
    pub fn add(&mut self, value: &Secret) -> Learnt {
        let learnt = learn(value.expose());
        let mut changed = false;
        for form in &learnt.forms {
            changed |= self.patterns.insert(form.as_bytes().to_vec());
        }
        if changed {
            self.compiled = OnceLock::new();
        }
        learnt
    }

    /// The automaton and the multi-line patterns; `None` while there is nothing to mask.
    fn compiled(&self) -> Option<&Compiled> {
        if self.patterns.is_empty() {
            return None;
        }
        Some(self.compiled.get_or_init(|| {
            Compiled {
                automaton: AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(&self.patterns)
                    .expect("the automaton of literal patterns builds"),
                multiline: self
                    .patterns
                    .iter()
                    .filter(|p| p.iter().any(|&b| b == b'\n' || b == b'\r'))
                    .cloned()
                    .collect(),
            }
        }))
    }

    /// Returns `text` with every occurrence of a known form replaced by `***`; overlapping and
    /// adjacent occurrences merge into one `***`.
    pub fn redact(&self, text: &[u8]) -> Vec<u8> {
        let ranges = self.masked_ranges(text);
        if ranges.is_empty() {
            return text.to_vec();
        }
        let mut out = Vec::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in ranges {
            out.extend_from_slice(&text[at..start]);
            out.extend_from_slice(MASK.as_bytes());
            at = end;
        }
        out.extend_from_slice(&text[at..]);
        out
    }

    /// Convenience for text that is known to be UTF-8.
    pub fn redact_str(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.redact(text.as_bytes())).into_owned()
    }

    /// Splits a stream buffer into the part that can be written now and the part to hold back.
    /// Output is released a line at a time: a value split across two writes of one line is
    /// whole again before it is masked. Also held back: the tail of the released lines that could
    /// start a multi-line value, and any occurrence reaching past the cut. Returns the length of
    /// the part to write.
    pub fn split_safe(&self, buffer: &[u8]) -> usize {
        let Some(compiled) = self.compiled() else {
            return buffer.len();
        };
        let Some(last_end) = buffer.iter().rposition(|&b| b == b'\n' || b == b'\r') else {
            return 0;
        };
        let mut cut = last_end + 1;
        if let Some(longest) = compiled.multiline.iter().map(Vec::len).max() {
            let window_start = cut.saturating_sub(longest.saturating_sub(1));
            if let Some(start) = (window_start..cut).find(|&start| {
                let tail = &buffer[start..cut];
                compiled
                    .multiline
                    .iter()
                    .any(|p| p.len() > tail.len() && p.starts_with(tail))
            }) {
                cut = start;
            }
        }
        for (start, end) in self.masked_ranges(buffer) {
            if start < cut && end > cut {
                cut = start;
            }
        }
        cut
    }

    fn masked_ranges(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let Some(compiled) = self.compiled() else {
            return Vec::new();
        };
        let mut ranges: Vec<(usize, usize)> = compiled
            .automaton
            .find_overlapping_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// Output written to one stream and not yet released: whatever could still turn out to be
/// part of a value.
#[derive(Debug, Default)]
pub struct Pending(Vec<u8>);

impl Pending {
    /// Takes more output; returns what can be written now, redacted.
    pub fn push(&mut self, redactor: &Redactor, bytes: &[u8]) -> Vec<u8> {
        self.0.extend_from_slice(bytes);
        let cut = redactor.split_safe(&self.0);
        let ready = redactor.redact(&self.0[..cut]);
        self.0.drain(..cut);
        ready
    }

    /// Releases everything held back, redacted (at exit).
    pub fn finish(&mut self, redactor: &Redactor) -> Vec<u8> {
        let ready = redactor.redact(&self.0);
        self.0.clear();
        ready
    }
}

/// What the redactor learnt of one value. Parts are named by their place (`""` for the whole
/// value, a JSON key path such as `db.port` for a leaf of a JSON value), never by their text.
#[derive(Debug, Default)]
pub struct Learnt {
    /// Every form that will be masked, each at least [`MIN_MASKED_LEN`] bytes long.
    pub forms: Vec<String>,
    /// Parts too short to mask.
    pub short: Vec<String>,
    /// Parts that will be masked but are so common (`true`, a Region, an account id, a short
    /// number, a word of the report) that masking them hides ordinary text too: part and why.
    pub common: Vec<(String, &'static str)>,
}

/// Learns every form of `value` worth masking: the whole value, each line, and, for a JSON
/// object or array, every leaf as it would be rendered (`48213`, `true`, `null`, a nested
/// object's compact JSON); each in every encoding a log could show it in.
pub fn learn(value: &str) -> Learnt {
    let mut parts = vec![(String::new(), value.to_owned())];
    for line in value.lines() {
        let line = line.trim_end_matches('\r');
        if line != value {
            parts.push((String::new(), line.to_owned()));
        }
    }
    if let Ok(parsed) = crate::document::json(value)
        && (parsed.value.is_object() || parsed.value.is_array())
    {
        json_leaves(&parsed, &parsed.value, "", "", &mut parts);
    }
    let mut learnt = Learnt::default();
    let mut forms = Vec::new();
    for (place, text) in parts {
        if text.len() < MIN_MASKED_LEN {
            // Each line of a longer value is protected by the whole; a short leaf is not.
            if !text.is_empty() && (place.is_empty() && text == value || !place.is_empty()) {
                learnt.short.push(place);
            }
            continue;
        }
        if let Some(why) = common(&text) {
            learnt.common.push((place, why));
        }
        forms.extend(encodings(&text));
        forms.push(text);
    }
    forms.retain(|form| form.len() >= MIN_MASKED_LEN);
    forms.sort_unstable();
    forms.dedup();
    learnt.short.sort_unstable();
    learnt.short.dedup();
    learnt.common.sort_unstable();
    learnt.common.dedup();
    learnt.forms = forms;
    learnt
}

/// Every leaf of a JSON value with its key path, rendered as it would be substituted (numbers
/// as written, and as serde would write them); nested objects and arrays also whole, as their
/// compact JSON (what a JSON key naming them yields).
fn json_leaves(
    parsed: &crate::document::Parsed,
    value: &serde_json::Value,
    pointer: &str,
    place: &str,
    out: &mut Vec<(String, String)>,
) {
    use serde_json::Value;
    let child = |key: &str| {
        if place.is_empty() {
            key.to_owned()
        } else {
            format!("{place}.{key}")
        }
    };
    if !pointer.is_empty()
        && let Some(text) = parsed.text_at(pointer)
    {
        if !value.is_string() {
            out.push((place.to_owned(), value.to_string()));
        }
        out.push((place.to_owned(), text));
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let pointer = format!("{pointer}/{i}");
                json_leaves(parsed, item, &pointer, &child(&format!("[{i}]")), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let pointer = format!("{pointer}/{}", crate::document::pointer_token(key));
                json_leaves(parsed, item, &pointer, &child(key), out);
            }
        }
        _ => {}
    }
}

/// Words the tool's own report and log are made of.
const REPORT_WORDS: &[&str] = &[
    "family",
    "task",
    "definition",
    "task-definition",
    "task-definition-arn",
    "task-definition-revision",
    "revision",
    "changed",
    "service",
    "services",
    "cluster",
    "default",
    "rollout",
    "completed",
    "started",
    "unchanged",
    "deployment",
    "deployment-id",
    "codedeploy-deployment-id",
    "container",
    "image",
    "secrets",
    "environment",
    "error",
    "warning",
    "plan",
];

/// Values that are everyday text rather than secrets.
const COMMON_WORDS: &[&str] = &[
    "admin",
    "root",
    "user",
    "guest",
    "test",
    "prod",
    "production",
    "staging",
    "local",
    "localhost",
    "postgres",
    "mysql",
    "none",
    "null",
    "true",
    "false",
    "yes",
    "enabled",
    "disabled",
];

/// Why a value is too common to mask without masking ordinary text, if it is.
pub fn common(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if matches!(lower.as_str(), "true" | "false" | "null") {
        Some("a boolean or null")
    } else if digits && text.len() == 12 {
        Some("12 digits, like an AWS account id")
    } else if digits && text.len() < 6 {
        Some("a number under 6 digits")
    } else if is_region(text) {
        Some("an AWS Region name")
    } else if REPORT_WORDS.contains(&lower.as_str()) {
        Some("a word of the tool's report")
    } else if COMMON_WORDS.contains(&lower.as_str()) {
        Some("a common word")
    } else {
        None
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`, …
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn encodings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // JSON string escaping, as serde_json writes it and with non-ASCII as \uXXXX.
    let json = serde_json::to_string(text).expect("a string serialises");
    out.push(json[1..json.len() - 1].to_owned());
    out.push(json_ascii_escape(&json[1..json.len() - 1]));
    // JSON with every control character as `\u00XX` (as some encoders write `\n`), in both cases.
    if text.chars().any(char::is_control) {
        for upper in [false, true] {
            let escaped = json_control_escape(text, upper);
            out.push(json_ascii_escape(&escaped));
            out.push(escaped);
        }
    }
    // URL encoding: RFC 3986 and HTML form encoding.
    let url = utf8_percent_encode(text, URL_COMPONENT).to_string();
    out.push(url.replace("%20", "+"));
    out.push(url);
    // XML / HTML escaping.
    out.push(
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;"),
    );
    // Inside POSIX single quotes, as `'\''` continues them.
    if text.contains('\'') {
        out.push(text.replace('\'', "'\\''"));
    }
    // Hexadecimal, both cases.
    let hex: String = text.bytes().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    out.push(hex.to_ascii_uppercase());
    out.push(hex);
    // base64 in both alphabets, padded and not, with a trailing newline, and the part of the
    // encoding that stays the same whatever precedes or follows the value at each alignment.
    let bytes = text.as_bytes();
    for engine in [&STANDARD, &URL_SAFE] {
        out.push(engine.encode(bytes));
        out.push(engine.encode([bytes, b"\n"].concat()));
    }
    // Wrapped base64 (PEM bodies at 64 columns, MIME at 76): each line of the wrapped text.
    for encoded in [
        STANDARD.encode(bytes),
        STANDARD.encode([bytes, b"\n"].concat()),
    ] {
        for width in [64, 76] {
            if encoded.len() > width {
                out.extend(
                    encoded
                        .as_bytes()
                        .chunks(width)
                        .map(|line| String::from_utf8_lossy(line).into_owned()),
                );
            }
        }
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(bytes));
        for shift in 0..3 {
            let shifted = [&[0u8; 2][..shift], bytes].concat();
            let encoded = engine.encode(&shifted);
            let first = (8 * shift).div_ceil(6);
            let last = (8 * (shift + bytes.len())) / 6;
            if last > first {
                out.push(encoded[first..last].to_owned());
            }
        }
    }
    out
}

/// JSON string escaping with every control character as `\u00xx` (`\u00XX` when `upper`).
fn json_control_escape(text: &str, upper: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x10000 => {
                let _ = if upper {
                    write!(out, "\\u{:04X}", c as u32)
                } else {
                    write!(out, "\\u{:04x}", c as u32)
                };
            }
            c => out.push(c),
        }
    }
    out
}

fn json_ascii_escape(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    for c in escaped.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(values: &[&str]) -> Redactor {
        let mut redactor = Redactor::default();
        for value in values {
            redactor.add(&Secret::new(*value));
        }
        redactor
    }

    #[test]
    fn secret_prints_as_mask_in_debug_and_display() {
        let secret = Secret::new("hunter2-canary");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
    }

    #[test]
    fn masks_whole_value_and_each_line_of_multiline_secret() {
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----";
        let r = redactor(&[pem]);
        assert_eq!(r.redact_str(&format!("key={pem}!")), "key=***!");
        assert_eq!(r.redact_str("line MIIEvQIBADANBgkq here"), "line *** here");
    }

    #[test]
    fn masks_json_leaves_and_encodings() {
        let r = redactor(&[r#"{"user":"admin-canary","password":"p@ss w/\"q\" é"}"#]);
        assert_eq!(r.redact_str("u=admin-canary"), "u=***");
        assert_eq!(r.redact_str(r#"{"x":"p@ss w/\"q\" é"}"#), r#"{"x":"***"}"#);
        assert_eq!(r.redact_str(r#""p@ss w/\"q\" \u00e9""#), r#""***""#);
        assert_eq!(r.redact_str("q=p%40ss%20w%2F%22q%22%20%C3%A9"), "q=***");
        assert_eq!(r.redact_str("q=p%40ss+w%2F%22q%22+%C3%A9"), "q=***");
        assert_eq!(r.redact_str("<v>p@ss w/&quot;q&quot; é</v>"), "<v>***</v>");
    }

    #[test]
    fn masks_base64_forms_including_shifted_by_a_prefix() {
        let secret = "correct horse battery staple";
        let r = redactor(&[secret]);
        for prefix in ["", "u", "us", "user:"] {
            let encoded = STANDARD.encode(format!("{prefix}{secret}"));
            let out = r.redact_str(&encoded);
            assert!(out.contains("***"), "{prefix:?}: {out}");
            assert!(out.len() < 12, "{prefix:?}: too much left: {out}");
        }
        assert_eq!(r.redact_str(&URL_SAFE.encode(secret)), "***");
        assert_eq!(r.redact_str(&STANDARD.encode(format!("{secret}\n"))), "***");
    }

    #[test]
    fn overlapping_values_merge_into_one_mask() {
        let r = redactor(&["abcdef", "defghi"]);
        assert_eq!(r.redact_str("xabcdefghix"), "x***x");
    }

    #[test]
    fn short_values_are_not_masked_and_are_reported_by_place() {
        let mut r = Redactor::default();
        let learnt = r.add(&Secret::new("abc"));
        assert!(learnt.forms.is_empty());
        assert_eq!(learnt.short, vec![String::new()]);
        assert!(r.patterns.is_empty());
        assert_eq!(r.redact_str("abc"), "abc");
    }

    #[test]
    fn split_safe_releases_whole_lines_only() {
        let r = redactor(&["topsecret"]);
        assert_eq!(r.split_safe(b"hello tops"), 0);
        assert_eq!(r.split_safe(b"done\nhello tops"), 5);
        assert_eq!(r.split_safe(b"hello world\n"), 12);
        assert_eq!(Redactor::default().split_safe(b"no secrets yet"), 14);
    }

    #[test]
    fn split_safe_holds_the_start_of_a_multiline_value() {
        // Each line is too short to mask on its own: only the whole value protects it.
        let r = redactor(&["ab\ncd"]);
        assert_eq!(r.split_safe(b"x ab\n"), 2);
        assert_eq!(r.redact_str("x ab\ncd y"), "x *** y");
    }

    #[test]
    fn every_json_leaf_is_masked_as_it_would_be_rendered() {
        let r = redactor(&[
            r#"{"pin":48213,"on":true,"off":null,"big":123456789012345678901234567890,"f":1.10,"db":{"port":5432,"name":"app-db"},"ab":"xy"}"#,
        ]);
        for text in [
            "48213",
            "true",
            "null",
            "123456789012345678901234567890",
            "1.10",
            "5432",
            "app-db",
            r#"{"port":5432,"name":"app-db"}"#,
        ] {
            assert_eq!(r.redact_str(&format!("<{text}>")), "<***>", "{text}");
        }
        let learnt = learn(r#"{"pin":48213,"on":true,"ab":"xy","db":{"p":"12"}}"#);
        assert_eq!(learnt.short, vec!["ab".to_owned(), "db.p".to_owned()]);
        let common: Vec<&str> = learnt.common.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(common, vec!["on", "pin"]);
    }

    #[test]
    fn common_values_are_named_for_a_warning() {
        assert_eq!(common("us-east-1"), Some("an AWS Region name"));
        assert_eq!(common("us-gov-west-1"), Some("an AWS Region name"));
        assert_eq!(
            common("123456789012"),
            Some("12 digits, like an AWS account id")
        );
        assert_eq!(common("TRUE"), Some("a boolean or null"));
        assert_eq!(common("4821"), Some("a number under 6 digits"));
        assert_eq!(common("task"), Some("a word of the tool's report"));
        assert_eq!(common("482135"), None);
        assert_eq!(common("hunter2-canary"), None);
        assert_eq!(common("us-east-1a"), None);
    }

    #[test]
    fn masks_wrapped_base64_hex_shell_quoting_and_control_escapes() {
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC".repeat(3)
        );
        let r = redactor(&[&pem]);
        let encoded = STANDARD.encode(&pem);
        for width in [64, 76] {
            let wrapped: Vec<String> = encoded
                .as_bytes()
                .chunks(width)
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect();
            let out = r.redact_str(&wrapped.join("\r\n"));
            for line in out.lines() {
                assert!(
                    line == "***" || line.len() < MIN_MASKED_LEN,
                    "{width}: {out}"
                );
            }
        }
        let r = redactor(&["it's a \"tab\"\there"]);
        assert_eq!(r.redact_str("'it'\\''s a \"tab\"\there'"), "'***'");
        assert_eq!(r.redact_str(r#""it's a \"tab\"\u0009here""#), r#""***""#);
        assert_eq!(r.redact_str(r#""it's a \"tab\"\u0009here""#), r#""***""#);
        let hex: String = "it's a \"tab\"\there"
            .bytes()
            .fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            });
        assert_eq!(r.redact_str(&hex), "***");
        assert_eq!(r.redact_str(&hex.to_ascii_uppercase()), "***");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Values of printable ASCII, line breaks and a few multi-byte characters; no `*`, so
        /// that a mask next to a value cannot spell it again.
        fn value() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9 %:/+=\\\\\"'<>&?#.,;!@$^()\\[\\]{}|~_\\-\n\u{e9}\u{fc}\u{65e5}]{4,48}"
        }

        fn stream(redactor: &Redactor, text: &[u8], mut points: Vec<usize>) -> String {
            points.sort_unstable();
            let mut pending = Pending::default();
            let mut out = Vec::new();
            let mut last = 0;
            for point in points {
                out.extend(pending.push(redactor, &text[last..point]));
                last = point;
            }
            out.extend(pending.push(redactor, &text[last..]));
            out.extend(pending.finish(redactor));
            String::from_utf8_lossy(&out).into_owned()
        }

        proptest! {
            #[test]
            fn a_value_written_in_pieces_never_appears(
                secret in value(),
                before in "[ -)+-~\n]{0,30}",
                after in "[ -)+-~\n]{0,30}",
                splits in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
            ) {
                let mut redactor = Redactor::default();
                redactor.add(&Secret::new(secret.clone()));
                let text = format!("{before}{secret}{after}");
                let points = splits.iter().map(|i| i.index(text.len() + 1)).collect();
                let out = stream(&redactor, text.as_bytes(), points);
                prop_assert!(!out.contains(&secret), "{:?} in {:?}", secret, out);
                for line in secret.lines().filter(|l| l.len() >= MIN_MASKED_LEN) {
                    prop_assert!(!out.contains(line), "line {:?} in {:?}", line, out);
                }
            }

            #[test]
            fn text_without_a_value_passes_unchanged(
                secret in value(),
                text in "[ -~\n]{0,80}",
                splits in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
            ) {
                prop_assume!(!text.contains(secret.as_str()));
                let mut redactor = Redactor::default();
                let learnt = redactor.add(&Secret::new(secret));
                prop_assume!(learnt.forms.iter().all(|f| !text.contains(f.as_str())));
                let points = splits.iter().map(|i| i.index(text.len() + 1)).collect();
                prop_assert_eq!(stream(&redactor, text.as_bytes(), points), text);
            }

            #[test]
            fn every_encoded_form_is_masked(secret in value(), encoding in 0..5usize) {
                let mut redactor = Redactor::default();
                redactor.add(&Secret::new(secret.clone()));
                let json = serde_json::to_string(&secret).unwrap();
                let encoded = match encoding {
                    0 => json[1..json.len() - 1].to_owned(),
                    1 => utf8_percent_encode(&secret, URL_COMPONENT).to_string(),
                    2 => utf8_percent_encode(&secret, URL_COMPONENT).to_string().replace("%20", "+"),
                    3 => STANDARD.encode(&secret),
                    _ => URL_SAFE_NO_PAD.encode(&secret),
                };
                prop_assert_eq!(redactor.redact_str(&format!("<{encoded}>")), "<***>");
            }

            #[test]
            fn base64_after_any_prefix_keeps_at_most_a_few_characters(
                secret in value(),
                prefix in "[ -~]{0,12}",
            ) {
                let mut redactor = Redactor::default();
                redactor.add(&Secret::new(secret.clone()));
                let encoded = STANDARD.encode(format!("{prefix}{secret}"));
                let out = redactor.redact_str(&encoded);
                prop_assert!(out.contains(MASK), "{:?}", out);
                // What stays readable is the prefix's own encoding and at most 4 boundary
                // characters on each side of the value.
                let prefix_len = (prefix.len() * 4).div_ceil(3);
                prop_assert!(out.len() <= prefix_len + MASK.len() + 8, "{:?}", out);
            }
        }
    }
}
