//! A pure parser: the text of one JSON string value → literal segments and references.
//!
//! Syntax: `{{KIND:BODY}}` with optional spaces inside the braces. A literal `{{` is written
//! `\{{`; `\\{{` is a literal backslash followed by a placeholder (backslashes before `{{` pair up,
//! and an odd one left over escapes it).

use std::fmt;

use crate::mask::Secret;
use crate::reference::{Parameter, SecretId};

/// A placeholder resolved: the text it renders to, and whether that text is a secret value.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub text: Secret,
    pub secret: bool,
    /// When the value last changed (epoch seconds), for references to AWS.
    pub changed_at: Option<i64>,
}

/// What a placeholder asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// `{{env:NAME}}` or `{{env:NAME:-fallback}}`.
    Env {
        name: String,
        fallback: Option<String>,
    },
    /// `{{ssm:NAME}}`: the parameter's value.
    Ssm(Parameter),
    /// `{{ssm-arn:NAME}}`: the parameter's full ARN.
    SsmArn(Parameter),
    /// `{{secretsmanager:ID…}}`: the secret's value, or one JSON key of it.
    Secret(SecretId),
    /// `{{secretsmanager-arn:ID…}}`: the ECS `valueFrom` of the secret.
    SecretArn(SecretId),
}

pub const KINDS: &str = "`env`, `ssm`, `ssm-arn`, `secretsmanager` or `secretsmanager-arn`";

impl Reference {
    fn parse(kind: &str, body: &str) -> Result<Self, String> {
        if body.is_empty() {
            return Err(format!("placeholder `{kind}` needs a name after the colon"));
        }
        match kind {
            "env" => {
                let (name, fallback) = match body.split_once(":-") {
                    Some((name, fallback)) => (name, Some(fallback.to_owned())),
                    None => (body, None),
                };
                let valid = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(format!("`{name}` is not a valid environment variable name"));
                }
                Ok(Self::Env {
                    name: name.to_owned(),
                    fallback,
                })
            }
            "ssm" => Parameter::parse(body).map(Self::Ssm),
            "ssm-arn" => {
                let parameter = Parameter::parse(body)?;
                if parameter.selector.is_some() {
                    return Err(
                        "ECS reads the latest version of a parameter, so `ssm-arn` takes no version or label"
                            .to_owned(),
                    );
                }
                Ok(Self::SsmArn(parameter))
            }
            "secretsmanager" => SecretId::parse(body).map(Self::Secret),
            "secretsmanager-arn" => SecretId::parse(body).map(Self::SecretArn),
            other => Err(format!(
                "unknown placeholder kind `{other}`; expected {KINDS}"
            )),
        }
    }
}

/// A piece of a string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Placeholder {
        reference: Reference,
        /// The placeholder as written, braces included.
        raw: String,
        /// Byte offset of the placeholder in the string value.
        offset: usize,
    },
}

/// A syntax error at a byte offset of the string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub raw: String,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Whether a string could hold a placeholder or an escape (a cheap test before parsing).
pub fn has_braces(text: &str) -> bool {
    text.contains("{{")
}

/// `text` as a template writes it to mean exactly `text`: before each `{{`, the backslashes
/// doubled and one more.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let (before, after) = rest.split_at(at);
        let backslashes = before.len() - before.trim_end_matches('\\').len();
        out.push_str(before);
        out.push_str(&"\\".repeat(backslashes + 1));
        out.push_str("{{");
        rest = &after[2..];
    }
    out.push_str(rest);
    out
}

/// Parses one string value into segments. Returns every error in the string, not just the first.
pub fn parse(text: &str) -> Result<Vec<Segment>, Vec<ParseError>> {
    let mut segments = Vec::new();
    let mut errors = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut at = 0;
    while let Some(open) = rest.find("{{") {
        let before = &rest[..open];
        // Backslashes right before `{{` escape: each pair is one literal backslash, and an odd
        // one left over makes the `{{` literal.
        let kept = before.trim_end_matches('\\');
        let backslashes = before.len() - kept.len();
        literal.push_str(kept);
        literal.push_str(&"\\".repeat(backslashes / 2));
        if backslashes % 2 == 1 {
            literal.push_str("{{");
            rest = &rest[open + 2..];
            at += open + 2;
            continue;
        }
        let start = at + open;
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else {
            let raw: String = rest[open..].chars().take(40).collect();
            errors.push(ParseError {
                offset: start,
                raw,
                message:
                    "unclosed placeholder: no `}}` follows `{{`; write a literal `{{` as `\\{{`"
                        .to_owned(),
            });
            literal.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let raw = &rest[open..open + 2 + close + 2];
        let inner = after_open[..close].trim();
        if is_go_template(inner) {
            // Docker's log tags (`{{.Name}}`, `{{ index .ContainerLabels "…" }}`) and other Go
            // templates that read a field: not ours, kept as written.
            literal.push_str(raw);
            let consumed = open + raw.len();
            rest = &rest[consumed..];
            at += consumed;
            continue;
        }
        match reference_of(inner) {
            Ok(reference) => {
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Placeholder {
                    reference,
                    raw: raw.to_owned(),
                    offset: start,
                });
            }
            Err(message) => errors.push(ParseError {
                offset: start,
                raw: raw.to_owned(),
                message,
            }),
        }
        let consumed = open + raw.len();
        rest = &rest[consumed..];
        at += consumed;
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    if errors.is_empty() {
        Ok(segments)
    } else {
        Err(errors)
    }
}

/// The reference the inside of a `{{…}}` names, or why it names none.
fn reference_of(inner: &str) -> Result<Reference, String> {
    match inner.split_once(':') {
        Some((kind, body)) => Reference::parse(kind.trim(), body.trim()),
        None if inner.is_empty() => Err("empty placeholder".to_owned()),
        None => Err(format!(
            "placeholder `{inner}` has no kind; expected `{{{{KIND:NAME}}}}` with KIND one of {KINDS} (another tool's template is rendered by that tool first; a literal `{{{{` is written `\\{{{{`)"
        )),
    }
}

/// Whether the inside of `{{…}}` is a Go template that reads a field (`.Name`,
/// `index .ContainerLabels "x"`), as Docker's log tags are: no placeholder of ours starts with a
/// dot or has a word that does.
fn is_go_template(inner: &str) -> bool {
    let before_colon = inner.split(':').next().unwrap_or_default();
    inner.starts_with('.') || before_colon.split_whitespace().any(|w| w.starts_with('.'))
}

/// The references of a text with only well-formed placeholders, for tests.
#[cfg(test)]
pub fn references(text: &str) -> Vec<Reference> {
    parse(text)
        .expect("well-formed placeholders")
        .into_iter()
        .filter_map(|s| match s {
            Segment::Placeholder { reference, .. } => Some(reference),
            Segment::Literal(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str) -> Vec<Reference> {
        references(text)
    }

    #[test]
    fn text_without_placeholders_is_one_literal() {
        assert_eq!(
            parse("plain {text}").unwrap(),
            vec![Segment::Literal("plain {text}".into())]
        );
    }

    #[test]
    fn parses_each_kind_with_offsets() {
        let segments = parse("postgres://{{ env:USER }}@{{ssm:/db/host}}:5432").unwrap();
        assert_eq!(segments.len(), 5);
        assert!(
            matches!(&segments[1], Segment::Placeholder { offset: 11, raw, .. } if raw == "{{ env:USER }}")
        );
        assert!(matches!(
            &segments[3],
            Segment::Placeholder { offset: 26, .. }
        ));
        assert_eq!(
            refs("{{secretsmanager-arn:prod/db:password}}{{ssm-arn:/x}}{{secretsmanager:y}}").len(),
            3
        );
    }

    #[test]
    fn env_fallback_may_hold_colons() {
        assert_eq!(
            refs("{{env:URL:-http://localhost:80}}"),
            vec![Reference::Env {
                name: "URL".into(),
                fallback: Some("http://localhost:80".into())
            }]
        );
    }

    #[test]
    fn backslash_escapes_a_literal_open() {
        assert_eq!(
            parse(r"a \{{env:X}} b").unwrap(),
            vec![Segment::Literal("a {{env:X}} b".into())]
        );
        let segments = parse(r"a \\{{env:X}}").unwrap();
        assert_eq!(segments[0], Segment::Literal(r"a \".into()));
        assert!(matches!(
            segments[1],
            Segment::Placeholder { offset: 4, .. }
        ));
        assert_eq!(
            parse(r"\\\{{x").unwrap(),
            vec![Segment::Literal(r"\{{x".into())]
        );
    }

    #[test]
    fn reports_every_malformed_placeholder() {
        let errors = parse("{{sms:x}} {{ssm:}} {{nokind}} {{env:A").unwrap_err();
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(errors.len(), 4, "{messages:?}");
        assert!(messages[0].starts_with("unknown placeholder kind `sms`"));
        assert!(messages[1].contains("needs a name"));
        assert!(messages[2].contains("has no kind"));
        assert!(messages[3].starts_with("unclosed placeholder"));
        // Docker's log tags are Go templates, kept as written.
        let tag =
            r#"{{.Name}}/{{ index .ContainerLabels "com.amazonaws.ecs.task-definition-family" }}"#;
        assert_eq!(parse(tag).unwrap(), vec![Segment::Literal(tag.to_owned())]);
        let mixed = parse("{{.ID}}-{{env:STAGE}}").unwrap();
        assert_eq!(mixed[0], Segment::Literal("{{.ID}}-".to_owned()));
        assert_eq!(errors[0].offset, 0);
        assert_eq!(errors[1].offset, 10);
    }

    #[test]
    fn ssm_arn_refuses_a_selector() {
        let errors = parse("{{ssm-arn:/db/pass:3}}").unwrap_err();
        assert!(errors[0].message.contains("latest version"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            // Fuzz-style: no input makes the parser panic, and its offsets are char boundaries.
            #[test]
            fn any_text_parses_or_fails_cleanly(text in "[{}\\\\:a-z_/. -]{0,80}|.{0,80}") {
                match parse(&text) {
                    Ok(segments) => {
                        for segment in segments {
                            if let Segment::Placeholder { offset, raw, .. } = segment {
                                prop_assert!(text.is_char_boundary(offset));
                                prop_assert_eq!(&text[offset..offset + raw.len()], raw.as_str());
                            }
                        }
                    }
                    Err(errors) => {
                        for error in errors {
                            prop_assert!(text.is_char_boundary(error.offset));
                        }
                    }
                }
            }

            #[test]
            fn text_without_braces_is_one_literal(text in "[^{]{1,80}") {
                prop_assert_eq!(parse(&text).unwrap(), vec![Segment::Literal(text.clone())]);
            }
        }
    }
}
