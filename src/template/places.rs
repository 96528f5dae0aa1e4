//! Where the template's values are in its file, found when a message needs one: a placeholder's
//! own location, an input line's, or the value's (or key's) text in the file, when the file
//! holds that text exactly as often as the definition does: no line rather than a wrong one.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::child_path;
use super::line_column;
use super::slots::{StringValue, strings};
use crate::error::{Location, Origin};

#[derive(Debug, Default)]
pub struct Places {
    pub(super) file: PathBuf,
    /// The template's text (placeholders, never values).
    pub(super) source: String,
    /// JSON pointer → where its value came from, for values set by inputs or placeholders.
    pub(super) known: HashMap<String, Location>,
}

impl Places {
    fn unknown(&self, path: &str) -> Location {
        Location {
            origin: Origin::File(self.file.clone()),
            line: 0,
            column: 0,
            path: path.to_owned(),
        }
    }

    /// The location of the string value at `path` (e.g. `containerDefinitions[0].secrets[1].valueFrom`)
    /// in `body`; line 0 when the file does not hold its text as written.
    pub fn locate(&self, body: &Map<String, Value>, path: &str) -> Location {
        let strings = strings(body);
        let Some(index) = strings.iter().position(|s| s.path == path) else {
            return self.unknown(path);
        };
        let StringValue { pointer, text, .. } = &strings[index];
        if let Some(known) = self.known.get(pointer) {
            return Location {
                path: path.to_owned(),
                ..known.clone()
            };
        }
        // The n-th literal string with this text in the walk is its n-th occurrence in the file.
        let literal =
            |s: &&StringValue<'_>| s.text == *text && !self.known.contains_key(&s.pointer);
        let earlier = strings[..index].iter().filter(literal).count();
        let total = strings.iter().filter(literal).count();
        let occurrences: Vec<usize> = if text.is_empty() {
            Vec::new()
        } else {
            self.source
                .match_indices(*text)
                .map(|(at, _)| at)
                .filter(|&at| stands_alone(&self.source, at, text.len()))
                .collect()
        };
        self.nth(&occurrences, earlier, total, path)
    }

    /// The location of the field at `path`: its string value's, or else (a number, a boolean, an
    /// object, a list) its key's, found like a value is: the n-th time the key is a key in the
    /// definition is its n-th time in the file.
    pub fn locate_field(&self, body: &Map<String, Value>, path: &str) -> Location {
        let located = self.locate(body, path);
        if located.line > 0 {
            return located;
        }
        let Some(key) = path
            .rsplit('.')
            .next()
            .filter(|k| !k.is_empty() && !k.ends_with(']'))
        else {
            return located;
        };
        let mut paths = Vec::new();
        key_paths(body, "", key, &mut paths);
        let Some(index) = paths.iter().position(|p| p == path) else {
            return located;
        };
        let occurrences: Vec<usize> = self
            .source
            .match_indices(key)
            .map(|(at, _)| at)
            .filter(|&at| is_key(&self.source, at, key.len()))
            .collect();
        self.nth(&occurrences, index, paths.len(), path)
    }

    /// The `index`-th of the `occurrences` in the file, when there are exactly `total` of them.
    fn nth(&self, occurrences: &[usize], index: usize, total: usize, path: &str) -> Location {
        match occurrences.get(index) {
            Some(&at) if occurrences.len() == total => {
                let (line, column) = line_column(&self.source, at);
                Location {
                    line,
                    column,
                    ..self.unknown(path)
                }
            }
            _ => self.unknown(path),
        }
    }
}

/// The paths of every member named `key`, in walk order.
fn key_paths(map: &Map<String, Value>, at: &str, key: &str, out: &mut Vec<String>) {
    for (k, value) in map {
        let child = child_path(at, k);
        if k == key {
            out.push(child.clone());
        }
        key_paths_in(value, &child, key, out);
    }
}

fn key_paths_in(value: &Value, at: &str, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => key_paths(map, at, key, out),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                key_paths_in(item, &format!("{at}[{i}]"), key, out);
            }
        }
        _ => {}
    }
}

/// Whether the text at `at..at + len` is a whole JSON or YAML scalar, not part of a longer one.
fn stands_alone(source: &str, at: usize, len: usize) -> bool {
    let before = source[..at].chars().next_back();
    let after = source[at + len..].chars().next();
    matches!(
        before,
        None | Some('"' | '\'' | ' ' | '\t' | '\n' | '[' | ',')
    ) && matches!(
        after,
        None | Some('"' | '\'' | ' ' | '\t' | '\r' | '\n' | ',' | ']' | '}' | '#')
    )
}

/// Whether the text at `at..at + len` is a whole key (JSON `"key":`, YAML `key:`).
fn is_key(source: &str, at: usize, len: usize) -> bool {
    let before = source[..at].chars().next_back();
    let rest = &source[at + len..];
    let after = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
    matches!(
        before,
        None | Some('"' | '\'' | ' ' | '\t' | '\n' | '{' | ',')
    ) && after.trim_start_matches([' ', '\t']).starts_with(':')
}

#[cfg(test)]
mod tests {
    use super::super::tests::template;
    use super::super::{render, slots};
    use crate::mask::Secret;
    use crate::placeholder::{Reference, Resolved};

    #[test]
    fn locates_rendered_values_in_the_template_file() {
        // The same ARN twice (the second is the one asked for), a name that is also part of a
        // longer value, and a placeholder.
        let (_dir, t) = template(
            "web.yaml",
            "family: web\ncontainerDefinitions:\n  - name: db\n    image: x\n    environment:\n      - name: ARN\n        value: arn:aws:ssm:us-east-1:1:parameter/db\n    secrets:\n      - name: A\n        valueFrom: arn:aws:ssm:us-east-1:1:parameter/db\n      - name: B\n        valueFrom: db\n      - name: C\n        valueFrom: \"{{ssm-arn:/c}}\"\n",
        );
        let slots = slots(&t).unwrap();
        let resolved: std::collections::HashMap<Reference, Resolved> = slots
            .iter()
            .flat_map(super::super::Slot::references)
            .map(|(reference, _, _)| {
                let text = Secret::new("arn:aws:ssm:us-east-1:1:parameter/c".to_owned());
                let value = Resolved {
                    text,
                    secret: false,
                    changed_at: None,
                };
                (reference.clone(), value)
            })
            .collect();
        let rendered = render(t, &slots, &resolved);
        let at = |path: &str| {
            let l = rendered.places.locate(&rendered.body, path);
            (l.line, l.column)
        };
        assert_eq!(at("containerDefinitions[0].secrets[0].valueFrom"), (10, 20));
        assert_eq!(at("containerDefinitions[0].secrets[1].valueFrom"), (12, 20));
        assert_eq!(at("containerDefinitions[0].secrets[2].valueFrom"), (14, 21));
        assert_eq!(at("containerDefinitions[0].environment[0].value"), (7, 16));
        assert_eq!(at("containerDefinitions[0].nothing"), (0, 0));
    }

    #[test]
    fn a_value_the_file_holds_more_often_than_the_definition_gets_no_line() {
        // `db` is also in a comment: which occurrence is the value cannot be told by text.
        let (_dir, t) = template(
            "web.yaml",
            "family: web\n# db moved\ncontainerDefinitions:\n  - name: web\n    image: x\n    secrets:\n      - name: B\n        valueFrom: db\n",
        );
        let rendered = render(t, &[], &std::collections::HashMap::new());
        let location = rendered.places.locate(
            &rendered.body,
            "containerDefinitions[0].secrets[0].valueFrom",
        );
        assert_eq!((location.line, location.column), (0, 0));
        let location = rendered
            .places
            .locate(&rendered.body, "containerDefinitions[0].image");
        assert_eq!((location.line, location.column), (5, 12));
    }

    #[test]
    fn a_field_that_is_no_string_is_found_by_its_key() {
        let (_dir, t) = template(
            "web.yaml",
            "family: web\ncontainerDefinitions:\n  - name: web\n    image: x\n    essential: true\n",
        );
        let rendered = render(t, &[], &std::collections::HashMap::new());
        let location = rendered
            .places
            .locate_field(&rendered.body, "containerDefinitions[0].essential");
        assert_eq!((location.line, location.column), (5, 5));
    }
}
