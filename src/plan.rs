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

/// Fields whose old value the plan may show: they never hold a secret value. Any other old
/// value is hidden: the previous revision may hold a value in plain text that this run never
/// fetched, so the redactor could not mask it.
const SHOWN_OLD: &[&str] = &[
    "containerPort",
    "cpu",
    "credentialsParameter",
    "essential",
    "executionRoleArn",
    "family",
    "hostPort",
    "image",
    "ipcMode",
    "logDriver",
    "memory",
    "memoryReservation",
    "name",
    "networkMode",
    "pidMode",
    "protocol",
    "requiresCompatibilities",
    "taskRoleArn",
    "valueFrom",
];

const HIDDEN: &str = "…";

fn shows_old(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    let field = last.split('[').next().unwrap_or(last);
    SHOWN_OLD.contains(&field)
}

/// The field-by-field difference between the old definition and the rendered one, compared in
/// canonical form on real values. For display, a field holding a secret value in the rendered
/// definition is `***` on both sides; other old values are shown only for fields that never hold
/// a secret.
pub fn diff(old: &Map<String, Value>, rendered: &Rendered, compare_tags: bool) -> Vec<Change> {
    let flat =
        |body: &Map<String, Value>| taskdef::flatten(&taskdef::canonical(body, compare_tags));
    let old = flat(old);
    let new = flat(&rendered.body);
    let mask = format!("{MASK:?}");
    let secret: BTreeSet<String> = flat(&masked(rendered))
        .into_iter()
        .filter(|(_, value)| *value == mask)
        .map(|(path, _)| path)
        .collect();
    let show_new = |path: &String, value: &String| {
        if secret.contains(path) {
            mask.clone()
        } else {
            value.clone()
        }
    };
    let show_old = |path: &String, value: &String| {
        if secret.contains(path) {
            mask.clone()
        } else if shows_old(path) {
            value.clone()
        } else {
            HIDDEN.to_owned()
        }
    };
    let mut changes = Vec::new();
    for (path, value) in &old {
        match new.get(path) {
            None => changes.push(Change::Removed(path.clone(), show_old(path, value))),
            Some(new_value) if new_value != value => {
                let mut shown = show_new(path, new_value);
                if secret.contains(path) {
                    shown.push_str(" (changed)");
                }
                changes.push(Change::Changed(path.clone(), show_old(path, value), shown));
            }
            Some(_) => {}
        }
    }
    for (path, value) in &new {
        if !old.contains_key(path) {
            changes.push(Change::Added(path.clone(), show_new(path, value)));
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

    fn rendered(json: &str, secret_pointers: &[&str]) -> Rendered {
        Rendered {
            body: map(json),
            secret_pointers: secret_pointers.iter().map(|p| (*p).to_owned()).collect(),
            secret_paths: BTreeSet::new(),
            ..Rendered::default()
        }
    }

    #[test]
    fn secret_values_are_masked_on_both_sides_and_old_values_hidden() {
        let old = map(
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"a","command":["--token=old-canary"],"environment":[{"name":"TOKEN","value":"old-canary-value"}]}]}"#,
        );
        let new = rendered(
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"b","command":["--token=x"],"environment":[{"name":"TOKEN","value":"new-canary-value"}]}]}"#,
            &["/containerDefinitions/0/environment/0/value"],
        );
        let text = lines(&diff(&old, &new, false)).join("\n");
        assert!(!text.contains("canary"), "{text}");
        assert!(
            text.contains(r#"~ containerDefinitions["web"].image: "a" → "b""#),
            "{text}"
        );
        assert!(
            text.contains(r#"~ containerDefinitions["web"].command[0]: … → "--token=x""#),
            "{text}"
        );
        assert!(
            text.contains(r#"environment["TOKEN"].value: "***" → "***" (changed)"#),
            "{text}"
        );
    }

    #[test]
    fn unchanged_secret_values_are_not_listed() {
        let body = r#"{"family":"f","containerDefinitions":[{"name":"web","image":"a","environment":[{"name":"T","value":"same-secret"}]}]}"#;
        let new = rendered(body, &["/containerDefinitions/0/environment/0/value"]);
        assert!(diff(&map(body), &new, false).is_empty());
    }
}
