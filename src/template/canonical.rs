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

fn canonicalise(value: &mut Value, key: &str, host_port_is_container_port: bool) {
    match value {
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

fn is_empty_or_default(key: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Number(n) => key == "cpu" && n.as_u64() == Some(0),
        Value::Bool(b) => (key == "essential" && *b) || (key == "enableFaultInjection" && !*b),
        // ECS reports the default network mode of Linux tasks when none was given.
        Value::String(s) => key == "networkMode" && s == "bridge",
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
