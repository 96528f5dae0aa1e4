//! The task-definition template: load it (JSON or YAML, `RegisterTaskDefinition` input or the
//! `describe-task-definition` output), merge the overrides, find its placeholders, substitute
//! the resolved values, validate against ECS's rules, and compare with a registered revision.
//!
//! Placeholders are found inside parsed string values, never by substituting text before parsing:
//! a value can never break the document.

mod canonical;
mod keys;
pub mod overrides;
mod places;
mod render;
mod shape;
mod slots;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tracing::info;

pub use canonical::canonical;
pub use overrides::{Assignment, Image, Overrides, merge_tags};
pub use places::Places;
pub use render::{Rendered, render};
pub use shape::unknown_fields;
pub use slots::{Slot, slots};
pub use validate::{SecretEntry, secret_entries, validate};

use crate::document;
use crate::error::{Error, Location};
use crate::placeholder;

/// Fields that `describe-task-definition` returns and `register-task-definition` refuses.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// A loaded template: the `RegisterTaskDefinition` body, and what is needed to point into its file.
pub struct Template {
    pub path: PathBuf,
    source: String,
    pub body: Map<String, Value>,
    /// Numbers as the file writes them, where their value would write them otherwise.
    numbers: document::Numbers,
    /// Strings that came from overrides rather than the file: JSON pointer → where they came from.
    origins: HashMap<String, Location>,
}

/// Escapes the `{{` of every string value that `escape_if(pointer, text)` picks, and of every key
/// (a key never holds a placeholder), so that a definition read from ECS (a Go template in a
/// label, say) renders as the text it is.
pub fn escape_braces(
    value: &mut Value,
    pointer: &str,
    escape_if: &mut dyn FnMut(&str, &str) -> bool,
) {
    match value {
        Value::String(text) if placeholder::has_braces(text) && escape_if(pointer, text) => {
            *text = placeholder::escape(text);
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                escape_braces(item, &format!("{pointer}/{i}"), escape_if);
            }
        }
        Value::Object(map) => {
            for (key, mut item) in std::mem::take(map) {
                let child = format!("{pointer}/{}", document::pointer_token(&key));
                escape_braces(&mut item, &child, escape_if);
                let key = if placeholder::has_braces(&key) {
                    placeholder::escape(&key)
                } else {
                    key
                };
                map.insert(key, item);
            }
        }
        _ => {}
    }
}

/// Reads and parses a template.
pub fn load(path: &Path) -> Result<Template, Error> {
    let source = std::fs::read_to_string(path).map_err(|e| Error::Template {
        path: path.to_owned(),
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &source)
}

/// Parses a template's text; `path` names it in errors and chooses YAML by its extension.
pub fn parse(path: &Path, source: &str) -> Result<Template, Error> {
    let fail = |message: String| Error::Template {
        path: path.to_owned(),
        message,
    };
    // Editors on Windows start a file with a byte-order mark; positions count from after it.
    let source = document::without_bom(source).to_owned();
    let parsed = parse_document(path, &source).map_err(fail)?;
    let mut numbers = parsed.numbers;
    let Value::Object(mut body) = parsed.value else {
        return Err(fail("expected an object at the top level".to_owned()));
    };
    if let Some(inner) = unwrap_described(&mut body) {
        info!(file = %path.display(), "template is `describe-task-definition` output; using its `taskDefinition`");
        body = inner;
        numbers = numbers.under("/taskDefinition");
    }
    // The API takes task-level `cpu` and `memory` as strings; YAML and hand-written JSON often
    // give numbers.
    for field in ["cpu", "memory"] {
        if let Some(Value::Number(n)) = body.get(field) {
            let text = n.to_string();
            body.insert(field.to_owned(), Value::String(text));
        }
    }
    keys::without_placeholders(&mut body, path, &source)?;
    drop_read_only_fields(&mut body, path);
    drop_nulls(&mut body, path);
    required_fields(&body).map_err(|message| fail(message.to_owned()))?;
    Ok(Template {
        path: path.to_owned(),
        source,
        body,
        numbers,
        origins: HashMap::new(),
    })
}

/// JSON or YAML, by the extension; a file that is neither `.json` nor YAML by name may be either.
fn parse_document(path: &Path, source: &str) -> Result<document::Parsed, String> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if extension.eq_ignore_ascii_case("yaml") || extension.eq_ignore_ascii_case("yml") {
        return document::yaml(source).map_err(|e| format!("invalid YAML: {e}"));
    }
    document::json(source).or_else(|json_error| match (extension, document::yaml(source)) {
        ("json", _) | (_, Err(_)) => Err(format!("invalid JSON: {json_error}")),
        (_, Ok(parsed)) => Ok(parsed),
    })
}

/// The `describe-task-definition` output: its `taskDefinition`, with the outer `tags` (what
/// `--include TAGS` returns) merged into its own: every tag of either, and where both have a
/// key, the inner value (the one RegisterTaskDefinition would take).
fn unwrap_described(body: &mut Map<String, Value>) -> Option<Map<String, Value>> {
    let Some(Value::Object(inner)) = body.get("taskDefinition") else {
        return None;
    };
    let mut inner = inner.clone();
    if let Some(Value::Array(outer)) = body.get("tags") {
        if !matches!(inner.get("tags"), Some(Value::Array(_))) {
            inner.insert("tags".to_owned(), Value::Array(Vec::new()));
        }
        let merged = inner["tags"]
            .as_array_mut()
            .expect("an array, made so above");
        let key = |tag: &Value| tag.get("key").and_then(Value::as_str).map(str::to_owned);
        for tag in outer {
            if !merged
                .iter()
                .any(|own| key(own).is_some() && key(own) == key(tag))
            {
                merged.push(tag.clone());
            }
        }
    }
    Some(inner)
}

/// Drops keys whose value is `null` (a `describe-task-definition` output is full of them; ECS
/// takes an absent field, not a null one).
fn drop_nulls(body: &mut Map<String, Value>, path: &Path) {
    fn walk(value: &mut Value) -> usize {
        match value {
            Value::Object(map) => {
                let before = map.len();
                map.retain(|_, v| !v.is_null());
                before - map.len() + map.values_mut().map(walk).sum::<usize>()
            }
            Value::Array(items) => items.iter_mut().map(walk).sum(),
            _ => 0,
        }
    }
    let mut value = Value::Object(std::mem::take(body));
    let dropped = walk(&mut value);
    if let Value::Object(map) = value {
        *body = map;
    }
    if dropped > 0 {
        info!(file = %path.display(), keys = dropped, "dropped keys whose value is null");
    }
}

fn drop_read_only_fields(body: &mut Map<String, Value>, path: &Path) {
    let dropped: Vec<&str> = READ_ONLY_FIELDS
        .iter()
        .copied()
        .filter(|field| body.remove(*field).is_some())
        .collect();
    if !dropped.is_empty() {
        info!(
            file = %path.display(),
            fields = %dropped.join(", "),
            "dropped read-only fields that RegisterTaskDefinition does not take"
        );
    }
}

fn required_fields(body: &Map<String, Value>) -> Result<(), &'static str> {
    match body.get("family") {
        Some(Value::String(family)) if !family.is_empty() => {}
        _ => return Err("`family` is missing; expected a non-empty string"),
    }
    match body.get("containerDefinitions") {
        Some(Value::Array(containers)) if containers.iter().all(Value::is_object) => {
            if containers.is_empty() {
                Err("`containerDefinitions` is missing or empty; expected a list of containers")
            } else {
                Ok(())
            }
        }
        Some(Value::Array(_)) => Err("`containerDefinitions` must be a list of objects"),
        _ => Err("`containerDefinitions` is missing or empty; expected a list of containers"),
    }
}

/// The container definitions of a definition body.
pub fn containers(body: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    body.get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// The names of the containers, in order (empty for a container without one).
pub fn container_names(body: &Map<String, Value>) -> Vec<String> {
    containers(body)
        .map(|c| {
            c.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn container_mut(body: &mut Map<String, Value>, index: usize) -> &mut Map<String, Value> {
    body.get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .and_then(|c| c.get_mut(index))
        .and_then(Value::as_object_mut)
        .expect("containers were checked at load")
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A step of a path: `key` after `at`, or the key alone at the top.
fn child_path(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn template(name: &str, text: &str) -> (tempfile::TempDir, Template) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let template = load(&path).unwrap();
        (dir, template)
    }

    #[test]
    fn unwraps_describe_output_and_drops_read_only_fields() {
        let (_dir, t) = template(
            "web.json",
            r#"{"taskDefinition":{"family":"web","revision":3,"status":"ACTIVE","containerDefinitions":[{"name":"web","image":"x"}]},"tags":[{"key":"team","value":"a"}]}"#,
        );
        assert_eq!(t.body["family"], "web");
        assert!(!t.body.contains_key("revision"));
        assert!(!t.body.contains_key("status"));
        assert_eq!(t.body["tags"][0]["key"], "team");
    }

    #[test]
    fn outer_and_inner_tags_merge_and_nulls_go() {
        let (_dir, t) = template(
            "web.json",
            r#"{"taskDefinition":{"family":"web","taskRoleArn":null,"tags":[],"containerDefinitions":[{"name":"web","image":"x","command":null,"linuxParameters":{"initProcessEnabled":null,"capabilities":{"add":["SYS_PTRACE"]}}}]},"tags":[{"key":"team","value":"a"}]}"#,
        );
        assert_eq!(
            t.body["tags"],
            serde_json::json!([{"key":"team","value":"a"}])
        );
        assert!(!t.body.contains_key("taskRoleArn"));
        let container = &t.body["containerDefinitions"][0];
        assert!(container.get("command").is_none());
        assert_eq!(
            container["linuxParameters"],
            serde_json::json!({"capabilities":{"add":["SYS_PTRACE"]}})
        );
        // Both sides name a key: the definition's own value stays.
        let (_dir, t) = template(
            "web.json",
            r#"{"taskDefinition":{"family":"web","tags":[{"key":"team","value":"inner"}],"containerDefinitions":[{"name":"web","image":"x"}]},"tags":[{"key":"team","value":"outer"},{"key":"env","value":"prod"}]}"#,
        );
        assert_eq!(
            t.body["tags"],
            serde_json::json!([{"key":"team","value":"inner"},{"key":"env","value":"prod"}])
        );
    }

    #[test]
    fn an_empty_tags_list_the_template_writes_stays() {
        let (_dir, mut t) = template(
            "web.json",
            r#"{"family":"web","tags":[],"containerDefinitions":[{"name":"web","image":"x"}]}"#,
        );
        merge_tags(&mut t.body, [], false);
        assert_eq!(t.body["tags"], serde_json::json!([]));
        let mut bare: Map<String, Value> = serde_json::from_str(r#"{"family":"web"}"#).unwrap();
        merge_tags(&mut bare, [], false);
        assert!(!bare.contains_key("tags"));
    }

    #[test]
    fn the_shape_of_a_template_is_checked_at_load() {
        let fails = |text: &str| {
            parse(Path::new("t.json"), text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(fails("[]").contains("expected an object"));
        assert!(fails(r#"{"containerDefinitions":[{}]}"#).contains("`family` is missing"));
        assert!(fails(r#"{"family":"f","containerDefinitions":[]}"#).contains("missing or empty"));
        assert!(fails(r#"{"family":"f","containerDefinitions":[1]}"#).contains("list of objects"));
        assert!(fails("family: [").contains("invalid JSON"));
        let yaml = parse(
            Path::new("t.yaml"),
            "family: f\ncontainerDefinitions:\n  - name: a\n",
        );
        assert!(yaml.is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            // Fuzz-style: any file content loads or fails with an error, never a panic, and a
            // loaded template's placeholders are found without a panic.
            #[test]
            fn any_template_text_loads_or_fails_cleanly(
                text in r#"[{}\[\]":,a-zA-Z0-9 \n{}]{0,200}"#,
                yaml in any::<bool>(),
            ) {
                let path = Path::new(if yaml { "t.yaml" } else { "t.json" });
                if let Ok(template) = parse(path, &text) {
                    let _ = slots(&template);
                }
            }
        }
    }
}
