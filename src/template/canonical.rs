//! A definition reduced to what matters for "is it the same": the defaults ECS fills in, the
//! order of lists ECS does not keep, and the form of numbers do not count.

use serde_json::{Map, Value};

use super::READ_ONLY_FIELDS;
use crate::document;

/// A registered or rendered definition reduced to what matters for "is it the same": read-only
/// fields, tags, nulls, empty lists and maps, and the defaults ECS fills in are dropped, and lists
/// whose order ECS does not keep are sorted.
///
/// Tags count only when `compare_tags` (the rendered definition sets them).
pub fn canonical(body: &Map<String, Value>, compare_tags: bool) -> Value {
    let mut body = body.clone();
    for field in READ_ONLY_FIELDS {
        body.remove(*field);
    }
    if !compare_tags {
        body.remove("tags");
    }
    // ECS stores task-level `1 vCPU` as `1024` and `2 GB` as `2048`.
    for (field, unit) in [("cpu", "vcpu"), ("memory", "gb")] {
        if let Some(Value::String(text)) = body.get(field)
            && let Some(units) = in_units(text, unit)
        {
            body.insert(field.to_owned(), Value::String(units));
        }
    }
    // In awsvpc and host modes the host port is the container port, and ECS fills it in.
    let host_port_is_container_port = matches!(
        body.get("networkMode").and_then(Value::as_str),
        Some("awsvpc" | "host")
    );
    let mut value = Value::Object(body);
    canonicalise(&mut value, "", host_port_is_container_port);
    value
}

/// Lists whose order does not change the meaning of the definition.
const UNORDERED: &[&str] = &[
    "environment",
    "secrets",
    "secretOptions",
    "portMappings",
    "mountPoints",
    "volumesFrom",
    "ulimits",
    "extraHosts",
    "systemControls",
    "requiresCompatibilities",
    "placementConstraints",
    "volumes",
    "dependsOn",
    "resourceRequirements",
];

/// Maps whose keys the user chooses (labels, log and driver options): a key there that looks
/// like an ECS field is the user's, and keeps its value whatever it is.
const USER_MAPS: &[&str] = &["dockerLabels", "options", "driverOpts", "labels"];

fn canonicalise(value: &mut Value, key: &str, host_port_is_container_port: bool) {
    match value {
        Value::Object(map) if USER_MAPS.contains(&key) => {
            map.retain(|_, v| !v.is_null());
            map.sort_keys();
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                canonicalise(v, k, host_port_is_container_port);
            }
            map.retain(|k, v| !is_empty_or_default(k, v));
            if map.contains_key("containerPort") {
                // ECS fills in the protocol, and the host port where it must equal the container's.
                if map.get("protocol").and_then(Value::as_str) == Some("tcp") {
                    map.remove("protocol");
                }
                let host_port = map.get("hostPort").and_then(Value::as_u64);
                let same = map.get("hostPort") == map.get("containerPort");
                // Host port 0 is "dynamic", as if unset; ECS may report either.
                if host_port == Some(0) || (host_port_is_container_port && same) {
                    map.remove("hostPort");
                }
            }
            map.sort_keys();
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                canonicalise(item, "", host_port_is_container_port);
            }
            if UNORDERED.contains(&key) {
                items.sort_by_cached_key(|item| serde_json::to_string(item).unwrap_or_default());
            }
        }
        Value::Number(number) => *number = document::canonical_number(number),
        _ => {}
    }
}

/// `text` (`1 vCPU`, `0.5GB`) in ECS's units (1024 to the vCPU or the GB), when it names `unit`.
fn in_units(text: &str, unit: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let number = lower.strip_suffix(unit)?.trim();
    let value: f64 = number.parse().ok()?;
    let units = value * 1024.0;
    // Whole units only: anything else is left for ECS to refuse.
    (units.fract() == 0.0 && (0.0..1e12).contains(&units)).then(|| format!("{units:.0}"))
}

/// Numbers ECS fills in when a field is omitted, by key: a field that has its default says the
/// same as no field.
const NUMBER_DEFAULTS: &[(&str, u64)] = &[
    // A container's CPU units.
    ("cpu", 0),
    // `healthCheck`.
    ("interval", 30),
    ("timeout", 5),
    ("retries", 3),
    ("startPeriod", 0),
    // Fargate's ephemeral storage.
    ("sizeInGiB", 20),
];

/// Strings ECS fills in when a field is omitted, by key.
const STRING_DEFAULTS: &[(&str, &str)] = &[
    // The default network mode of Linux tasks.
    ("networkMode", "bridge"),
    // `efsVolumeConfiguration` and its `authorizationConfig`.
    ("rootDirectory", "/"),
    ("transitEncryption", "DISABLED"),
    ("iam", "DISABLED"),
    // `dockerVolumeConfiguration`.
    ("scope", "task"),
    ("versionConsistency", "enabled"),
];

fn is_empty_or_default(key: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Number(n) => NUMBER_DEFAULTS
            .iter()
            .any(|(k, default)| *k == key && n.as_u64() == Some(*default)),
        // Every flag of a task definition defaults to false, but a container's `essential`.
        Value::Bool(b) => {
            if key == "essential" {
                *b
            } else {
                !*b
            }
        }
        Value::String(s) => STRING_DEFAULTS
            .iter()
            .any(|(k, default)| *k == key && s == default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_ignores_defaults_and_order() {
        let a: Map<String, Value> = serde_json::from_str(
            r#"{"family":"f","networkMode":"awsvpc","containerDefinitions":[{"name":"a","image":"i","cpu":0,"essential":true,"environment":[{"name":"B","value":"2"},{"name":"A","value":"1"}],"portMappings":[{"containerPort":80,"hostPort":80,"protocol":"tcp"}],"mountPoints":[]}],"volumes":[],"revision":4,"status":"ACTIVE"}"#,
        )
        .unwrap();
        let b: Map<String, Value> = serde_json::from_str(
            r#"{"networkMode":"awsvpc","containerDefinitions":[{"image":"i","name":"a","portMappings":[{"containerPort":80}],"environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}],"family":"f"}"#,
        )
        .unwrap();
        assert_eq!(canonical(&a, false), canonical(&b, false));
        let mut c = b.clone();
        c["containerDefinitions"][0]["image"] = Value::String("j".into());
        assert_ne!(canonical(&a, false), canonical(&c, false));
    }

    #[test]
    fn what_ecs_fills_in_is_the_same_as_leaving_it_out() {
        let written: Map<String, Value> = serde_json::from_str(
            r#"{"family":"f","cpu":"1 vCPU","memory":"2GB","volumes":[{"name":"efs","efsVolumeConfiguration":{"fileSystemId":"fs-1"}},{"name":"d","dockerVolumeConfiguration":{"driver":"local"}}],"containerDefinitions":[{"name":"a","image":"i","healthCheck":{"command":["CMD","true"]},"readonlyRootFilesystem":false}]}"#,
        )
        .unwrap();
        let stored: Map<String, Value> = serde_json::from_str(
            r#"{"family":"f","cpu":"1024","memory":"2048","volumes":[{"name":"efs","host":{},"efsVolumeConfiguration":{"fileSystemId":"fs-1","rootDirectory":"/","transitEncryption":"DISABLED","authorizationConfig":{"iam":"DISABLED"}}},{"name":"d","dockerVolumeConfiguration":{"driver":"local","scope":"task","autoprovision":false}}],"containerDefinitions":[{"name":"a","image":"i","cpu":0,"essential":true,"environment":[],"mountPoints":[],"volumesFrom":[],"systemControls":[],"versionConsistency":"enabled","healthCheck":{"command":["CMD","true"],"interval":30,"timeout":5,"retries":3}}]}"#,
        )
        .unwrap();
        assert_eq!(canonical(&written, false), canonical(&stored, false));
        // A value that is not the default counts.
        let mut other = stored.clone();
        other["volumes"][0]["efsVolumeConfiguration"]["rootDirectory"] = "/data".into();
        assert_ne!(canonical(&written, false), canonical(&other, false));
        let mut not_essential = stored;
        not_essential["containerDefinitions"][0]["essential"] = false.into();
        assert_ne!(canonical(&written, false), canonical(&not_essential, false));
        assert_eq!(in_units("0.25 vCPU", "vcpu").as_deref(), Some("256"));
        assert_eq!(in_units("0.5 gb", "gb").as_deref(), Some("512"));
        assert_eq!(in_units("512", "gb"), None);
        // In a map of the user's, a key like an ECS field is the user's.
        let label = |value: &str| -> Map<String, Value> {
            serde_json::from_str(&format!(
                r#"{{"family":"f","containerDefinitions":[{{"name":"a","dockerLabels":{{"scope":"{value}"}}}}]}}"#
            ))
            .unwrap()
        };
        let no_label: Map<String, Value> =
            serde_json::from_str(r#"{"family":"f","containerDefinitions":[{"name":"a"}]}"#)
                .unwrap();
        assert_ne!(
            canonical(&label("task"), false),
            canonical(&no_label, false)
        );
    }

    #[test]
    fn a_static_host_port_counts_in_bridge_mode() {
        let with: Map<String, Value> = serde_json::from_str(
            r#"{"family":"f","containerDefinitions":[{"name":"a","portMappings":[{"containerPort":80,"hostPort":80}]}]}"#,
        )
        .unwrap();
        let without: Map<String, Value> = serde_json::from_str(
            r#"{"family":"f","containerDefinitions":[{"name":"a","portMappings":[{"containerPort":80}]}]}"#,
        )
        .unwrap();
        assert_ne!(canonical(&with, false), canonical(&without, false));
    }
}
