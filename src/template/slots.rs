//! The string values of a template that hold placeholders, each with the place of every
//! placeholder in it (in the file, or in the input line it came from).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Template, child_path, line_column};
use crate::document;
use crate::error::{Error, Location, Origin, Problem, Problems};
use crate::placeholder::{self, Reference, Segment};

/// A string value of the template that holds placeholders.
#[derive(Debug, Clone)]
pub struct Slot {
    /// JSON pointer, for writing the rendered value back.
    pub(super) pointer: String,
    /// Human path, e.g. `containerDefinitions[0].secrets[1].valueFrom`.
    pub path: String,
    pub(super) segments: Vec<Segment>,
    /// Where each placeholder of `segments` is, in order.
    pub(super) locations: Vec<Location>,
}

impl Slot {
    /// The placeholders of this string, each with its location.
    pub fn references(&self) -> impl Iterator<Item = (&Reference, &str, &Location)> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Placeholder { reference, raw, .. } => Some((reference, raw.as_str())),
                Segment::Literal(_) => None,
            })
            .zip(&self.locations)
            .map(|((reference, raw), location)| (reference, raw, location))
    }
}

/// A string value of a definition: its JSON pointer, its path and its text.
pub(super) struct StringValue<'a> {
    pub pointer: String,
    pub path: String,
    pub text: &'a str,
}

/// Every string value of `map`, in document order.
pub(super) fn strings(map: &Map<String, Value>) -> Vec<StringValue<'_>> {
    let mut out = Vec::new();
    walk_map(map, "", "", &mut out);
    out
}

fn walk_map<'a>(
    map: &'a Map<String, Value>,
    pointer: &str,
    path: &str,
    out: &mut Vec<StringValue<'a>>,
) {
    for (key, value) in map {
        let child_pointer = format!("{pointer}/{}", document::pointer_token(key));
        walk_value(value, &child_pointer, &child_path(path, key), out);
    }
}

fn walk_value<'a>(value: &'a Value, pointer: &str, path: &str, out: &mut Vec<StringValue<'a>>) {
    match value {
        Value::String(text) => out.push(StringValue {
            pointer: pointer.to_owned(),
            path: path.to_owned(),
            text,
        }),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(
                    item,
                    &format!("{pointer}/{i}"),
                    &format!("{path}[{i}]"),
                    out,
                );
            }
        }
        Value::Object(map) => walk_map(map, pointer, path, out),
        _ => {}
    }
}

/// Finds every placeholder of the template. Returns every syntax error at once.
pub fn slots(template: &Template) -> Result<Vec<Slot>, Error> {
    let mut slots = Vec::new();
    let mut problems = Vec::new();
    let mut locator = Locator {
        template,
        cursors: HashMap::new(),
    };
    for StringValue {
        pointer,
        path,
        text,
    } in strings(&template.body)
    {
        if !placeholder::has_braces(text) {
            continue;
        }
        match placeholder::parse(text) {
            Ok(segments) => {
                let locations = segments
                    .iter()
                    .filter_map(|s| match s {
                        Segment::Placeholder { raw, offset, .. } => {
                            Some(locator.locate(&pointer, &path, text, raw, *offset))
                        }
                        Segment::Literal(_) => None,
                    })
                    .collect::<Vec<_>>();
                let unchanged = matches!(segments.as_slice(), [Segment::Literal(l)] if l == text);
                if !unchanged {
                    slots.push(Slot {
                        pointer,
                        path,
                        segments,
                        locations,
                    });
                }
            }
            Err(errors) => problems.extend(errors.into_iter().map(|error| Problem {
                location: locator.locate(&pointer, &path, text, &error.raw, error.offset),
                reference: Some(error.raw.clone()),
                reason: error.message,
            })),
        }
    }
    if problems.is_empty() {
        Ok(slots)
    } else {
        Err(Error::Invalid {
            problems: Problems(problems),
        })
    }
}

/// Finds placeholders in the template's file, in walk order.
struct Locator<'a> {
    template: &'a Template,
    /// Placeholder text → where in the file to look for its next occurrence.
    cursors: HashMap<String, usize>,
}

impl Locator<'_> {
    /// The place of placeholder `raw` at byte `offset` of the string at `pointer`: in the input
    /// line it came from, or its n-th occurrence in the file when it is the n-th in the walk
    /// (escaped ones, `\{{`, not counted).
    fn locate(
        &mut self,
        pointer: &str,
        path: &str,
        text: &str,
        raw: &str,
        offset: usize,
    ) -> Location {
        if let Some(origin) = self.template.origins.get(pointer) {
            return Location {
                column: origin.column + text[..offset].chars().count(),
                path: path.to_owned(),
                ..origin.clone()
            };
        }
        let source = &self.template.source;
        let cursor = self.cursors.entry(raw.to_owned()).or_insert(0);
        let found = source[*cursor..]
            .match_indices(raw)
            .map(|(i, _)| i + *cursor)
            .find(|&at| !source[..at].ends_with('\\'));
        let (line, column) = found.map_or((0, 0), |at| {
            *cursor = at + raw.len();
            line_column(source, at)
        });
        Location {
            origin: Origin::File(self.template.path.clone()),
            line,
            column,
            path: path.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::template;
    use super::*;

    #[test]
    fn locates_placeholders_by_line_and_column_in_yaml() {
        let (_dir, t) = template(
            "web.yaml",
            "family: web\ncontainerDefinitions:\n  - name: web\n    image: x\n    environment:\n      - name: A\n        value: \"{{env:A}}\"\n      - name: B\n        value: \"pre {{env:A}}\"\n",
        );
        let slots = slots(&t).unwrap();
        let locations: Vec<_> = slots
            .iter()
            .flat_map(|s| s.references().map(|(_, _, l)| l.to_string()))
            .collect();
        assert_eq!(
            locations,
            vec![
                format!(
                    "{}:7:17 (containerDefinitions[0].environment[0].value)",
                    t.path.display()
                ),
                format!(
                    "{}:9:21 (containerDefinitions[0].environment[1].value)",
                    t.path.display()
                ),
            ]
        );
    }

    #[test]
    fn reports_every_malformed_placeholder_with_its_place() {
        let (_dir, t) = template(
            "web.json",
            "{\"family\":\"web\",\n\"containerDefinitions\":[{\"name\":\"web\",\"image\":\"{{sms:x}}\",\n\"command\":[\"{{env:}}\"]}]}",
        );
        let Err(Error::Invalid { problems }) = slots(&t) else {
            panic!("expected errors")
        };
        let text = problems.to_string();
        assert!(text.contains("web.json:2:48 (containerDefinitions[0].image): `{{sms:x}}`: unknown placeholder kind `sms`"), "{text}");
        assert!(
            text.contains("web.json:3:13 (containerDefinitions[0].command[0])"),
            "{text}"
        );
    }
}
