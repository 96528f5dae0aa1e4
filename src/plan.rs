//! The plan: what changes between the family's latest revision and the rendered definition, with
//! every secret value shown as `***` and references shown as the ARNs ECS will read.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::mask::MASK;
use crate::taskdef::{self, Rendered};

/// One changed field.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Added(String, String),
    Removed(String, String),
    Changed(String, String, String),
}

/// The rendered body with each secret value replaced by `***`.
pub fn masked(rendered: &Rendered) -> Map<String, Value> {
    let mut body = Value::Object(rendered.body.clone());
    for pointer in &rendered.secret_pointers {
        if let Some(value) = body.pointer_mut(pointer) {
            *value = Value::String(MASK.to_owned());
        }
    }
    match body {
        Value::Object(map) => map,
        _ => unreachable!("the body is an object"),
    }
}

/// The field-by-field difference between the old and new definitions, compared in canonical form.
/// A field that holds a secret value in the new definition is masked on both sides.
pub fn diff(old: &Map<String, Value>, new_masked: &Map<String, Value>) -> Vec<Change> {
    let old = taskdef::flatten(&taskdef::canonical(old));
    let new = taskdef::flatten(&taskdef::canonical(new_masked));
    let masked_paths: BTreeSet<&String> = new
        .iter()
        .filter(|(_, v)| v.as_str() == format!("{MASK:?}"))
        .map(|(k, _)| k)
        .collect();
    let show_old = |path: &String, value: &String| {
        if masked_paths.contains(path) {
            format!("{MASK:?}")
        } else {
            value.clone()
        }
    };
    let mut changes = Vec::new();
    for (path, value) in &old {
        match new.get(path) {
            None => changes.push(Change::Removed(path.clone(), show_old(path, value))),
            Some(new_value) if new_value != value => {
                let before = show_old(path, value);
                if &before != new_value || !masked_paths.contains(path) {
                    changes.push(Change::Changed(path.clone(), before, new_value.clone()));
                } else {
                    changes.push(Change::Changed(
                        path.clone(),
                        before,
                        format!("{MASK:?} (changed)"),
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for (path, value) in &new {
        if !old.contains_key(path) {
            changes.push(Change::Added(path.clone(), value.clone()));
        }
    }
    changes.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    changes
}

fn path_of(change: &Change) -> &str {
    match change {
        Change::Added(p, _) | Change::Removed(p, _) | Change::Changed(p, _, _) => p,
    }
}

/// Renders changes as lines: `+ path: value`, `- path: value`, `~ path: old → new`.
pub fn lines(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|change| match change {
            Change::Added(p, v) => format!("  + {p}: {v}"),
            Change::Removed(p, v) => format!("  - {p}: {v}"),
            Change::Changed(p, a, b) => format!("  ~ {p}: {a} → {b}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn secret_values_are_masked_on_both_sides() {
        let old = map(
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"a","environment":[{"name":"TOKEN","value":"old-canary-value"}]}]}"#,
        );
        let new = map(
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"b","environment":[{"name":"TOKEN","value":"***"}]}]}"#,
        );
        let text = lines(&diff(&old, &new)).join("\n");
        assert!(!text.contains("old-canary-value"), "{text}");
        assert!(
            text.contains(r#"~ containerDefinitions["web"].image: "a" → "b""#),
            "{text}"
        );
        assert!(
            text.contains(r#"environment["TOKEN"].value: "***" → "***" (changed)"#),
            "{text}"
        );
    }

    #[test]
    fn identical_definitions_have_no_changes() {
        let a = map(r#"{"family":"f","containerDefinitions":[{"name":"web","image":"a"}]}"#);
        assert!(diff(&a, &a).is_empty());
    }
}
