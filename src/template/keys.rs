//! Placeholders are resolved in string values only: a key holding one (`dockerLabels`,
//! `logConfiguration.options`) is refused with its place, never sent to ECS as written. A key
//! with an escaped `\{{` becomes the literal text, as a value would.

use std::path::Path;

use serde_json::{Map, Value};

use super::{child_path, line_column};
use crate::error::{Error, Location, Problem, Problems};
use crate::placeholder::{self, Segment};

/// A key that holds a placeholder: the key, the path of the map that has it, and why.
struct Refused {
    key: String,
    at: String,
    reason: String,
}

/// Renames keys with escapes to their literal text; refuses keys with placeholders.
pub fn without_placeholders(
    body: &mut Map<String, Value>,
    path: &Path,
    source: &str,
) -> Result<(), Error> {
    let mut refused = Vec::new();
    walk_map(body, "", &mut refused);
    if refused.is_empty() {
        return Ok(());
    }
    let problems = refused
        .into_iter()
        .map(|Refused { key, at, reason }| {
            let (line, column) = source
                .find(key.as_str())
                .map_or((0, 0), |offset| line_column(source, offset));
            Problem {
                location: Location::in_file(path, line, column, child_path(&at, &key)),
                reference: Some(key),
                reason,
            }
        })
        .collect();
    Err(Error::Invalid {
        problems: Problems(problems),
    })
}

fn walk_map(map: &mut Map<String, Value>, at: &str, refused: &mut Vec<Refused>) {
    let renamed: Vec<(String, String)> = map
        .keys()
        .filter(|key| placeholder::has_braces(key))
        .filter_map(|key| {
            literal(key)
                .map_err(|reason| {
                    refused.push(Refused {
                        key: key.clone(),
                        at: at.to_owned(),
                        reason,
                    });
                })
                .ok()
                .map(|literal| (key.clone(), literal))
        })
        .filter(|(key, literal)| key != literal)
        .collect();
    if !renamed.is_empty() {
        let entries = std::mem::take(map);
        for (key, value) in entries {
            let key = renamed
                .iter()
                .find(|(from, _)| *from == key)
                .map_or(key, |(_, to)| to.clone());
            map.insert(key, value);
        }
    }
    for (key, value) in map.iter_mut() {
        walk_value(value, &child_path(at, key), refused);
    }
}

fn walk_value(value: &mut Value, at: &str, refused: &mut Vec<Refused>) {
    match value {
        Value::Object(map) => walk_map(map, at, refused),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk_value(item, &format!("{at}[{i}]"), refused);
            }
        }
        _ => {}
    }
}

/// The literal text of a key with braces, or why it cannot have one.
fn literal(key: &str) -> Result<String, String> {
    match placeholder::parse(key) {
        Ok(segments) => match segments.as_slice() {
            [] => Ok(String::new()),
            [Segment::Literal(literal)] => Ok(literal.clone()),
            _ => Err("placeholders are resolved in values, not in keys; write the key as it should reach ECS (`\\{{` for a literal `{{`)".to_owned()),
        },
        Err(errors) => Err(errors.first().map_or_else(String::new, |e| e.message.clone())),
    }
}
