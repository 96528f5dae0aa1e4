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

/// JSON number leaves shorter than this are not masked on their own.
const MIN_MASKED_NUMBER_LEN: usize = 6;

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
    /// Adds a value and all its encoded forms. Returns the forms that were added, for platforms
    /// that want them registered too (GitHub's `::add-mask::`), or an empty list when the value
    /// is too short to mask.
    pub fn add(&mut self, value: &Secret) -> Vec<String> {
        let forms = forms(value.expose());
        let mut changed = false;
        for form in &forms {
            changed |= self.patterns.insert(form.as_bytes().to_vec());
        }
        if changed {
            self.compiled = OnceLock::new();
        }
        forms
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

/// Every form of `value` worth masking, each at least [`MIN_MASKED_LEN`] bytes long.
fn forms(value: &str) -> Vec<String> {
    let mut plain = vec![value.to_owned()];
    for line in value.lines() {
        plain.push(line.trim_end_matches('\r').to_owned());
    }
    if let Ok(document) = serde_json::from_str::<serde_json::Value>(value)
        && (document.is_object() || document.is_array())
    {
        json_leaves(&document, &mut plain);
    }
    let mut out = Vec::new();
    for text in plain {
        if text.len() < MIN_MASKED_LEN {
            continue;
        }
        out.extend(encodings(&text));
        out.push(text);
    }
    out.retain(|form| form.len() >= MIN_MASKED_LEN);
    out.sort_unstable();
    out.dedup();
    out
}

fn json_leaves(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        // Short numbers are ports and counts, not secrets; masking them would shred the log
        // (and every ARN whose account id contains them).
        serde_json::Value::Number(number) => {
            let text = number.to_string();
            if text.len() >= MIN_MASKED_NUMBER_LEN {
                out.push(text);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| json_leaves(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| json_leaves(item, out)),
        serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
}

fn encodings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // JSON string escaping, as serde_json writes it and with non-ASCII as \uXXXX.
    let json = serde_json::to_string(text).expect("a string serialises");
    out.push(json[1..json.len() - 1].to_owned());
    out.push(json_ascii_escape(&json[1..json.len() - 1]));
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
    // base64 in both alphabets, padded and not, with a trailing newline, and the part of the
    // encoding that stays the same whatever precedes or follows the value at each alignment.
    let bytes = text.as_bytes();
    for engine in [&STANDARD, &URL_SAFE] {
        out.push(engine.encode(bytes));
        out.push(engine.encode([bytes, b"\n"].concat()));
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
    fn short_values_are_not_masked_and_report_no_forms() {
        let mut r = Redactor::default();
        assert!(r.add(&Secret::new("abc")).is_empty());
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
    fn short_json_numbers_are_not_masked_but_long_ones_are() {
        let r = redactor(&[r#"{"port":5432,"pin":98765432,"password":"pw-canary"}"#]);
        let arn = "arn:aws:ecs:us-east-1:123454329012:x";
        assert_eq!(r.redact_str(arn), arn);
        assert_eq!(r.redact_str("pin 98765432"), "pin ***");
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
                let forms = redactor.add(&Secret::new(secret));
                prop_assume!(forms.iter().all(|f| !text.contains(f.as_str())));
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
