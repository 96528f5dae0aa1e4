//! The plan: what changes between the family's latest revision and the rendered definition, with
//! every secret value shown as `***` and references shown as the ARNs ECS will read.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::aws::ecs::Latest;
use crate::mask::MASK;
use crate::output;
use crate::template::{self, Rendered};

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

/// String fields whose old value the plan may show: names, ARNs and enumerations that never
/// hold a secret. Any other old string is shown as `***`: the previous revision may hold a value
/// in plain text that this run never fetched, so the redactor could not mask it.
const SHOWN_OLD: &[&str] = &[
    "appProtocol",
    "authorizationConfig",
    "condition",
    "containerName",
    "containerPath",
    "containerPortRange",
    "cpu",
    "cpuArchitecture",
    "credentialsParameter",
    "driver",
    "executionRoleArn",
    "family",
    "fileSystemId",
    "hostPath",
    "iam",
    "image",
    "ipcMode",
    "logDriver",
    "memory",
    "name",
    "networkMode",
    "operatingSystemFamily",
    "pidMode",
    "protocol",
    "requiresCompatibilities",
    "rootDirectory",
    "scope",
    "sourceContainer",
    "sourcePath",
    "sourceVolume",
    "taskRoleArn",
    "transitEncryption",
    "type",
    "valueFrom",
];

/// Maps whose keys the user chooses (`dockerLabels`, `logConfiguration.options`, a volume's
/// `driverOpts` and `labels`): what is under them is data, whatever the key is called.
const USER_MAPS: &[&str] = &["dockerLabels", "options", "driverOpts", "labels"];

/// Fields whose value ECS reads as a reference (an ARN or a parameter name).
const REFERENCE_FIELDS: &[&str] = &["valueFrom", "credentialsParameter"];

/// One leaf of a flattened definition: its JSON text, and the ECS field it is the value of
/// (`None` under a user map, where any key is the user's).
struct Leaf {
    text: String,
    field: Option<String>,
}

impl Leaf {
    /// Whether this old value may be shown: a field that never holds a secret, and for a
    /// reference field, a value that is an ARN or a parameter path. Anything else may be a value
    /// that an earlier revision held in plain text and this run never fetched.
    fn harmless(&self) -> bool {
        let Some(field) = self.field.as_deref() else {
            return false;
        };
        // A number or boolean of an ECS field is structure (ports, sizes, switches): a value
        // substituted from a secret would be a string.
        if !self.text.starts_with('"') {
            return true;
        }
        if !SHOWN_OLD.contains(&field) {
            return false;
        }
        if !REFERENCE_FIELDS.contains(&field) {
            return true;
        }
        let Ok(text) = serde_json::from_str::<String>(&self.text) else {
            return false;
        };
        let arn = crate::reference::Arn::parse(&text)
            .is_some_and(|a| matches!(a.service, "ssm" | "secretsmanager"));
        (arn || text.starts_with('/')) && crate::reference::check_value_from(&text).is_ok()
    }
}

/// Flattens a definition into `path = leaf` entries; array entries are named by their `name`
/// where it is unique, so that a reordering is no change.
fn flatten(value: &Value) -> BTreeMap<String, Leaf> {
    let mut out = BTreeMap::new();
    flatten_into(value, String::new(), Some(String::new()), &mut out);
    out
}

/// `field` is the ECS field `value` belongs to; `None` once under a user map.
fn flatten_into(
    value: &Value,
    path: String,
    field: Option<String>,
    out: &mut BTreeMap<String, Leaf>,
) {
    match value {
        Value::Object(map) => {
            let in_user_map = field.as_deref().is_some_and(|f| USER_MAPS.contains(&f));
            for (k, v) in map {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let child_field = field.as_ref().filter(|_| !in_user_map).map(|_| k.clone());
                flatten_into(v, child, child_field, out);
            }
        }
        Value::Array(items) => {
            let name = |item: &Value| item.get("name").and_then(Value::as_str).map(str::to_owned);
            let names: Vec<Option<String>> = items.iter().map(name).collect();
            for (i, item) in items.iter().enumerate() {
                let unique = names[i]
                    .as_ref()
                    .filter(|n| names.iter().filter(|m| m.as_ref() == Some(*n)).count() == 1);
                let label = unique.map_or_else(|| i.to_string(), |n| format!("{n:?}"));
                flatten_into(item, format!("{path}[{label}]"), field.clone(), out);
            }
        }
        other => {
            let text = other.to_string();
            out.insert(path, Leaf { text, field });
        }
    }
}

/// The field-by-field difference between the old definition and the rendered one, compared in
/// canonical form on real values. For display, a field holding a secret value in the rendered
/// definition is `***` on both sides; an old value is shown only where it cannot be a value
/// ([`Leaf::harmless`]), else `***`.
pub fn diff(old: &Map<String, Value>, rendered: &Rendered, compare_tags: bool) -> Vec<Change> {
    let flat = |body: &Map<String, Value>| flatten(&template::canonical(body, compare_tags));
    let old = flat(old);
    let new = flat(&rendered.body);
    let mask = format!("{MASK:?}");
    let secret: BTreeSet<String> = flat(&masked(rendered))
        .into_iter()
        .filter(|(_, leaf)| leaf.text == mask)
        .map(|(path, _)| path)
        .collect();
    let show_new = |path: &String, leaf: &Leaf| {
        if secret.contains(path) {
            mask.clone()
        } else {
            leaf.text.clone()
        }
    };
    let show_old = |path: &String, leaf: &Leaf| {
        if secret.contains(path) {
            mask.clone()
        } else if leaf.harmless() {
            leaf.text.clone()
        } else {
            mask.clone()
        }
    };
    let mut changes = Vec::new();
    for (path, leaf) in &old {
        match new.get(path) {
            None => changes.push(Change::Removed(path.clone(), show_old(path, leaf))),
            Some(new_leaf) if new_leaf.text != leaf.text => {
                let mut shown = show_new(path, new_leaf);
                if secret.contains(path) {
                    shown.push_str(" (changed)");
                }
                changes.push(Change::Changed(path.clone(), show_old(path, leaf), shown));
            }
            Some(_) => {}
        }
    }
    for (path, leaf) in &new {
        if !old.contains_key(path) {
            changes.push(Change::Added(path.clone(), show_new(path, leaf)));
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

/// Prints the plan against the latest revision on stderr; returns whether anything changed
/// (decided on real values, shown masked).
pub fn print(latest: &Latest, rendered: &Rendered) -> bool {
    let family = rendered.family();
    let tags = rendered.body.contains_key("tags");
    let changed =
        template::canonical(&latest.body, tags) != template::canonical(&rendered.body, tags);
    let revision = latest.revision.revision;
    if !changed {
        output::err(&format!(
            "plan: no change against revision {revision} of `{family}`"
        ));
        return false;
    }
    let diff = diff(&latest.body, rendered, tags);
    output::err(&format!(
        "plan: {} change{} against revision {revision} of `{family}`:",
        diff.len(),
        if diff.len() == 1 { "" } else { "s" },
    ));
    for line in lines(&diff) {
        output::err(&line);
    }
    true
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
            text.contains(r#"~ containerDefinitions["web"].command[0]: "***" → "--token=x""#),
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

#[cfg(test)]
mod old_values {
    use super::*;

    fn changes(old: &str, new: &str) -> String {
        let old: Map<String, Value> = serde_json::from_str(old).unwrap();
        let new = Rendered {
            body: serde_json::from_str(new).unwrap(),
            ..Rendered::default()
        };
        lines(&diff(&old, &new, false)).join("\n")
    }

    #[test]
    fn an_old_value_in_value_from_or_a_user_map_is_never_shown() {
        let text = changes(
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"a","dockerLabels":{"name":"old-canary-1","image":"old-canary-2"},"logConfiguration":{"logDriver":"awslogs","options":{"name":"old-canary-3"}},"secrets":[{"name":"K","valueFrom":"old-canary-4"},{"name":"L","valueFrom":"arn:aws:ssm:us-east-1:123456789012:parameter/l"}]}]}"#,
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"a","dockerLabels":{"name":"x","image":"y"},"logConfiguration":{"logDriver":"awslogs","options":{"name":"z"}},"secrets":[{"name":"K","valueFrom":"arn:aws:ssm:us-east-1:123456789012:parameter/k"},{"name":"L","valueFrom":"/l"}]}]}"#,
        );
        assert!(!text.contains("old-canary"), "{text}");
        assert!(text.contains(r#"dockerLabels.name: "***" → "x""#), "{text}");
        assert!(
            text.contains(
                r#"secrets["L"].valueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/l" → "/l""#
            ),
            "{text}"
        );
    }

    #[test]
    fn structural_old_values_are_shown() {
        let text = changes(
            r#"{"family":"f","volumes":[{"name":"v","efsVolumeConfiguration":{"fileSystemId":"fs-1","rootDirectory":"/a","transitEncryption":"ENABLED"}}],"containerDefinitions":[{"name":"web","image":"a","memory":128,"essential":false}]}"#,
            r#"{"family":"f","volumes":[{"name":"v","efsVolumeConfiguration":{"fileSystemId":"fs-1","rootDirectory":"/b","transitEncryption":"DISABLED"}}],"containerDefinitions":[{"name":"web","image":"a","memory":256}]}"#,
        );
        assert!(text.contains(r#"rootDirectory: "/a" → "/b""#), "{text}");
        assert!(text.contains("memory: 128 → 256"), "{text}");
        assert!(text.contains("essential: false"), "{text}");
    }
}
