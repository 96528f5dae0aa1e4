//! The task definition: load a template (JSON or YAML, `RegisterTaskDefinition` input or the
//! `describe-task-definition` output), merge the inputs, find its placeholders, substitute the
//! resolved values, validate against ECS's rules, and compare with a registered revision.
//!
//! Placeholders are found inside parsed string values, never by substituting text before parsing:
//! a value can never break the document.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tracing::{info, warn};

use crate::document;
use crate::error::{Error, Location, Problem, Problems};
use crate::inputs::{Assignment, Inputs};
use crate::mask::Secret;
use crate::placeholder::{self, Reference, Segment};
use crate::reference;

/// ECS's limit on the size of a task definition's JSON.
pub const MAX_BYTES: usize = 64 * 1024;
/// ECS's limit on containers in one task definition.
pub const MAX_CONTAINERS: usize = 10;

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
    /// Strings that came from inputs rather than the file: JSON pointer → where they came from.
    origins: HashMap<String, Location>,
}

impl Template {
    fn display(&self) -> String {
        self.path.display().to_string()
    }
}

/// Reads and parses a template.
pub fn load(path: &Path) -> Result<Template, Error> {
    let source = std::fs::read_to_string(path).map_err(|e| Error::Template {
        path: path.to_owned(),
        message: format!("cannot read: {e}"),
    })?;
    parse(path, source)
}

/// Parses a template's text; `path` names it in errors and chooses YAML by its extension.
pub fn parse(path: &Path, source: String) -> Result<Template, Error> {
    let fail = |message: String| Error::Template {
        path: path.to_owned(),
        message,
    };
    let yaml_extension = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    // Editors on Windows start a file with a byte-order mark; positions count from after it.
    let source = match source.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => source,
    };
    let parsed = if yaml_extension {
        document::yaml(&source).map_err(|e| fail(format!("invalid YAML: {e}")))?
    } else {
        match document::json(&source) {
            Ok(parsed) => parsed,
            Err(json_error) => {
                let json_extension = path.extension().is_some_and(|e| e == "json");
                match (json_extension, document::yaml(&source)) {
                    (false, Ok(parsed)) => parsed,
                    _ => return Err(fail(format!("invalid JSON: {json_error}"))),
                }
            }
        }
    };
    let mut numbers = parsed.numbers;
    let Value::Object(mut body) = parsed.value else {
        return Err(fail("expected an object at the top level".to_owned()));
    };
    // The `describe-task-definition` output: unwrap it and keep its tags.
    if let Some(Value::Object(inner)) = body.get("taskDefinition") {
        let tags = body.get("tags").cloned();
        let mut inner = inner.clone();
        if let Some(Value::Array(tags)) = tags
            && !tags.is_empty()
            && !inner.contains_key("tags")
        {
            inner.insert("tags".to_owned(), Value::Array(tags));
        }
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
    keys_without_placeholders(&mut body, path, &source)?;
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
    match body.get("family") {
        Some(Value::String(family)) if !family.is_empty() => {}
        _ => {
            return Err(fail(
                "`family` is missing; expected a non-empty string".to_owned(),
            ));
        }
    }
    match body.get("containerDefinitions") {
        Some(Value::Array(containers)) if !containers.is_empty() => {
            if containers.iter().any(|c| !c.is_object()) {
                return Err(fail(
                    "`containerDefinitions` must be a list of objects".to_owned(),
                ));
            }
        }
        _ => {
            return Err(fail(
                "`containerDefinitions` is missing or empty; expected a list of containers"
                    .to_owned(),
            ));
        }
    }
    Ok(Template {
        path: path.to_owned(),
        source,
        body,
        numbers,
        origins: HashMap::new(),
    })
}

/// Placeholders are resolved in string values only: a key holding one (`dockerLabels`,
/// `logConfiguration.options`) is refused with its place, never sent to ECS as written. A key
/// with an escaped `\{{` becomes the literal text, as a value would.
fn keys_without_placeholders(
    body: &mut Map<String, Value>,
    path: &Path,
    source: &str,
) -> Result<(), Error> {
    fn walk(map: &mut Map<String, Value>, at: &str, found: &mut Vec<(String, String, String)>) {
        let renamed: Vec<(String, String)> = map
            .keys()
            .filter(|key| placeholder::has_braces(key))
            .filter_map(|key| match placeholder::parse(key) {
                Ok(segments) => match segments.as_slice() {
                    [] => Some((key.clone(), String::new())),
                    [Segment::Literal(literal)] => Some((key.clone(), literal.clone())),
                    _ => {
                        found.push((key.clone(), at.to_owned(), "placeholders are resolved in values, not in keys; write the key as it should reach ECS (`\\{{` for a literal `{{`)".to_owned()));
                        None
                    }
                },
                Err(errors) => {
                    let message = errors.first().map_or_else(String::new, |e| e.message.clone());
                    found.push((key.clone(), at.to_owned(), message));
                    None
                }
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
            let child = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            walk_value(value, &child, found);
        }
    }
    fn walk_value(value: &mut Value, at: &str, found: &mut Vec<(String, String, String)>) {
        match value {
            Value::Object(map) => walk(map, at, found),
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    walk_value(item, &format!("{at}[{i}]"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(body, "", &mut found);
    if found.is_empty() {
        return Ok(());
    }
    let problems = found
        .into_iter()
        .map(|(key, at, reason)| {
            let (line, column) = source
                .find(key.as_str())
                .map_or((0, 0), |offset| line_column(source, offset));
            Problem {
                location: Location {
                    source: path.display().to_string(),
                    line,
                    column,
                    path: if at.is_empty() {
                        key.clone()
                    } else {
                        format!("{at}.{key}")
                    },
                },
                reference: Some(key),
                reason,
            }
        })
        .collect();
    Err(Error::Invalid {
        problems: Problems(problems),
    })
}

/// Merges `image`, `environment-variables` and `secrets` into the containers they name.
pub fn apply_inputs(
    template: &mut Template,
    inputs: &Inputs,
    images: &[crate::inputs::Image],
) -> Result<(), Error> {
    let names: Vec<String> = containers(&template.body)
        .map(|c| {
            c.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let usage = |message: String| Error::Usage(message);
    let known = || {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let index_of = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            usage(format!(
                "no container named `{name}` in the template; it has {}",
                known()
            ))
        })
    };
    // The containers that unnamed inputs apply to.
    let targets: Vec<usize> = if inputs.container_names.is_empty() {
        if names.len() == 1 {
            vec![0]
        } else {
            Vec::new()
        }
    } else {
        inputs
            .container_names
            .iter()
            .map(|n| index_of(n))
            .collect::<Result<_, _>>()?
    };
    let need_targets = |what: &str| {
        if targets.is_empty() {
            Err(usage(format!(
                "input `{what}` needs `container-name`: the template has {} containers ({})",
                names.len(),
                known()
            )))
        } else {
            Ok(())
        }
    };
    for image in images {
        let indices = if let Some(name) = &image.container {
            vec![index_of(name)?]
        } else {
            need_targets("image")?;
            targets.clone()
        };
        for index in indices {
            container_mut(&mut template.body, index)
                .insert("image".to_owned(), Value::String(image.uri.clone()));
        }
    }
    for (input, list, key, field) in [
        (
            "environment-variables",
            &inputs.environment_variables,
            "environment",
            "value",
        ),
        ("secrets", &inputs.secrets, "secrets", "valueFrom"),
    ] {
        if list.is_empty() {
            continue;
        }
        need_targets(input)?;
        for &index in &targets {
            for assignment in list {
                let pointer = merge_by_name(&mut template.body, index, key, field, assignment);
                template.origins.insert(
                    pointer,
                    Location {
                        source: format!("input `{input}`"),
                        line: assignment.line,
                        column: assignment.column,
                        path: String::new(),
                    },
                );
            }
        }
    }
    apply_tags(template, inputs);
    Ok(())
}

/// Merges the `tags` input into the definition's tags, remembering where each came from.
fn apply_tags(template: &mut Template, inputs: &Inputs) {
    let pointers = merge_tags(
        &mut template.body,
        inputs
            .tags
            .iter()
            .map(|t| (t.name.as_str(), t.value.as_str())),
        true,
    );
    for (pointer, tag) in pointers.into_iter().zip(&inputs.tags) {
        template.origins.insert(
            pointer,
            Location {
                source: "input `tags`".to_owned(),
                line: tag.line,
                column: tag.column,
                path: String::new(),
            },
        );
    }
}

/// Merges `key=value` tags into the definition's `tags`; `overwrite` decides who wins a key.
/// Returns the JSON pointer of each value written (or kept).
pub fn merge_tags<'a>(
    body: &mut Map<String, Value>,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    overwrite: bool,
) -> Vec<String> {
    let list = body
        .entry("tags")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let list = list.as_array_mut().expect("made an array above");
    let mut pointers = Vec::new();
    for (key, value) in tags {
        let position = list
            .iter()
            .position(|t| t.get("key").and_then(Value::as_str) == Some(key));
        let position = match position {
            Some(i) if !overwrite => {
                pointers.push(format!("/tags/{i}/value"));
                continue;
            }
            Some(i) => i,
            None => {
                list.push(serde_json::json!({ "key": key }));
                list.len() - 1
            }
        };
        list[position]["value"] = Value::String(value.to_owned());
        pointers.push(format!("/tags/{position}/value"));
    }
    if list.is_empty() {
        body.remove("tags");
    }
    pointers
}

/// The container definitions of a definition body.
pub fn containers(body: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    body.get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn container_mut(body: &mut Map<String, Value>, index: usize) -> &mut Map<String, Value> {
    body.get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .and_then(|c| c.get_mut(index))
        .and_then(Value::as_object_mut)
        .expect("containers were checked at load")
}

/// Updates the entry of `list` named like the assignment, or appends one. Returns the JSON
/// pointer of the value written.
fn merge_by_name(
    body: &mut Map<String, Value>,
    index: usize,
    list: &str,
    field: &str,
    assignment: &Assignment,
) -> String {
    let container = container_mut(body, index);
    let entries = container
        .entry(list)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entries.is_array() {
        *entries = Value::Array(Vec::new());
    }
    let entries = entries.as_array_mut().expect("made an array above");
    let position = entries
        .iter()
        .position(|e| e.get("name").and_then(Value::as_str) == Some(assignment.name.as_str()));
    let position = position.unwrap_or_else(|| {
        entries.push(serde_json::json!({ "name": assignment.name }));
        entries.len() - 1
    });
    entries[position][field] = Value::String(assignment.value.clone());
    format!("/containerDefinitions/{index}/{list}/{position}/{field}")
}

/// A string value of the template that holds placeholders.
#[derive(Debug)]
pub struct Slot {
    /// JSON pointer, for writing the rendered value back.
    pointer: String,
    /// Human path, e.g. `containerDefinitions[0].secrets[1].valueFrom`.
    pub path: String,
    segments: Vec<Segment>,
    /// Where each placeholder of `segments` is, in order.
    locations: Vec<Location>,
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

/// Finds every placeholder of the template. Returns every syntax error at once.
pub fn slots(template: &Template) -> Result<Vec<Slot>, Error> {
    let mut strings = Vec::new();
    walk_strings(&template.body, "", "", &mut strings);
    let mut slots = Vec::new();
    let mut problems = Vec::new();
    let mut cursors: HashMap<String, usize> = HashMap::new();
    for (pointer, path, text) in strings {
        if !placeholder::has_braces(text) {
            continue;
        }
        let origin = template.origins.get(&pointer);
        let mut locate = |raw: &str, offset: usize| -> Location {
            if let Some(origin) = origin {
                return Location {
                    column: origin.column + text[..offset].chars().count(),
                    path: path.clone(),
                    ..origin.clone()
                };
            }
            // The n-th occurrence of a placeholder in the walk is its n-th occurrence in the file,
            // not counting escaped ones (`\{{`).
            let cursor = cursors.entry(raw.to_owned()).or_insert(0);
            let found = template.source[*cursor..]
                .match_indices(raw)
                .map(|(i, _)| i + *cursor)
                .find(|&at| !template.source[..at].ends_with('\\'));
            let (line, column) = found.map_or((0, 0), |at| {
                *cursor = at + raw.len();
                line_column(&template.source, at)
            });
            Location {
                source: template.display(),
                line,
                column,
                path: path.clone(),
            }
        };
        match placeholder::parse(text) {
            Ok(segments) => {
                let locations = segments
                    .iter()
                    .filter_map(|s| match s {
                        Segment::Placeholder { raw, offset, .. } => Some(locate(raw, *offset)),
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
            Err(errors) => {
                for error in errors {
                    problems.push(Problem {
                        location: locate(&error.raw, error.offset),
                        reference: Some(error.raw.clone()),
                        reason: error.message,
                    });
                }
            }
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

fn walk_strings<'a>(
    map: &'a Map<String, Value>,
    pointer: &str,
    path: &str,
    out: &mut Vec<(String, String, &'a str)>,
) {
    for (key, value) in map {
        let child_pointer = format!("{pointer}/{}", document::pointer_token(key));
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        walk_value(value, &child_pointer, &child_path, out);
    }
}

fn walk_value<'a>(
    value: &'a Value,
    pointer: &str,
    path: &str,
    out: &mut Vec<(String, String, &'a str)>,
) {
    match value {
        Value::String(text) => out.push((pointer.to_owned(), path.to_owned(), text)),
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
        Value::Object(map) => walk_strings(map, pointer, path, out),
        _ => {}
    }
}

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A resolved placeholder: its text, and whether that text is a secret value.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub text: Secret,
    pub secret: bool,
    /// When the value last changed (epoch seconds), for references to AWS.
    pub changed_at: Option<i64>,
}

/// The rendered task definition. It may hold secret values, so it never prints itself.
#[derive(Default)]
pub struct Rendered {
    pub body: Map<String, Value>,
    /// Paths of string values that hold a secret value.
    pub secret_paths: BTreeSet<String>,
    /// The same values as JSON pointers.
    pub secret_pointers: BTreeSet<String>,
    /// Where its values came from in the template file.
    pub places: Places,
    /// Numbers as the template writes them (`1e3`, not `1e+3`).
    pub numbers: document::Numbers,
}

/// Where the template's string values are in its file, found when a message needs one: a
/// placeholder's own location, an input's, or the value's text in the file.
#[derive(Debug, Default)]
pub struct Places {
    source_path: String,
    /// The template's text (placeholders, never values).
    source: String,
    /// JSON pointer → where its value came from, for values set by inputs or placeholders.
    known: HashMap<String, Location>,
}

impl Places {
    /// The location of the string value at `path` (e.g. `containerDefinitions[0].secrets[1].valueFrom`)
    /// in `body`; line 0 when the file does not hold its text as written.
    pub fn locate(&self, body: &Map<String, Value>, path: &str) -> Location {
        let mut strings = Vec::new();
        walk_strings(body, "", "", &mut strings);
        let unknown = Location {
            source: self.source_path.clone(),
            line: 0,
            column: 0,
            path: path.to_owned(),
        };
        let Some(index) = strings.iter().position(|(_, p, _)| p == path) else {
            return unknown;
        };
        let (pointer, _, text) = &strings[index];
        if let Some(known) = self.known.get(pointer) {
            return Location {
                path: path.to_owned(),
                ..known.clone()
            };
        }
        // The n-th literal string with this text in the walk is its n-th occurrence in the file,
        // when the file holds the text as often as the definition does (not also as a key, in a
        // comment, or in a field dropped on load): otherwise no line rather than a wrong one.
        let literal =
            |(p, _, t): &&(String, String, &str)| t == text && !self.known.contains_key(p);
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
        match occurrences.get(earlier) {
            Some(&at) if occurrences.len() == total => {
                let (line, column) = line_column(&self.source, at);
                Location {
                    line,
                    column,
                    ..unknown
                }
            }
            _ => unknown,
        }
    }
}

impl Places {
    /// The location of the field at `path`: its string value's, or else (a number, a boolean, an
    /// object, a list) its key's, found like a value is: the n-th time the key is a key in the
    /// definition is its n-th time in the file, when the file holds it as often.
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
            .filter(|&at| {
                let before = self.source[..at].chars().next_back();
                let after = self.source[at + key.len()..]
                    .strip_prefix(['"', '\''])
                    .unwrap_or(&self.source[at + key.len()..]);
                matches!(
                    before,
                    None | Some('"' | '\'' | ' ' | '\t' | '\n' | '{' | ',')
                ) && after.trim_start_matches([' ', '\t']).starts_with(':')
            })
            .collect();
        match occurrences.get(index) {
            Some(&at) if occurrences.len() == paths.len() => {
                let (line, column) = line_column(&self.source, at);
                Location {
                    line,
                    column,
                    ..located
                }
            }
            _ => located,
        }
    }
}

/// The paths of every member named `key`, in walk order.
fn key_paths(map: &Map<String, Value>, at: &str, key: &str, out: &mut Vec<String>) {
    fn walk_value(value: &Value, at: &str, key: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => key_paths(map, at, key, out),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk_value(item, &format!("{at}[{i}]"), key, out);
                }
            }
            _ => {}
        }
    }
    for (k, value) in map {
        let child = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        if k == key {
            out.push(child.clone());
        }
        walk_value(value, &child, key, out);
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

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("secret_paths", &self.secret_paths)
            .finish_non_exhaustive()
    }
}

impl Rendered {
    pub fn family(&self) -> &str {
        self.body
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn holds_secret_values(&self) -> bool {
        !self.secret_paths.is_empty()
    }

    /// The compact JSON sent to ECS, numbers as the template writes them.
    pub fn to_json(&self) -> Vec<u8> {
        document::to_string(&Value::Object(self.body.clone()), &self.numbers, false).into_bytes()
    }

    /// Pretty JSON for the rendered file, numbers as the template writes them.
    pub fn to_pretty_json(&self) -> String {
        document::to_string(&Value::Object(self.body.clone()), &self.numbers, true) + "\n"
    }
}

/// Substitutes every placeholder. `resolved` must hold every reference of the slots.
pub fn render(
    template: Template,
    slots: &[Slot],
    resolved: &HashMap<Reference, Resolved>,
) -> Rendered {
    let mut body = Value::Object(template.body);
    let mut secret_paths = BTreeSet::new();
    let mut secret_pointers = BTreeSet::new();
    for slot in slots {
        let mut text = String::new();
        for segment in &slot.segments {
            match segment {
                Segment::Literal(literal) => text.push_str(literal),
                Segment::Placeholder { reference, .. } => {
                    let value = &resolved[reference];
                    if value.secret {
                        secret_paths.insert(slot.path.clone());
                        secret_pointers.insert(slot.pointer.clone());
                    }
                    text.push_str(value.text.expose());
                }
            }
        }
        *body
            .pointer_mut(&slot.pointer)
            .expect("slots point into the template") = Value::String(text);
    }
    let Value::Object(body) = body else {
        unreachable!("the body stays an object")
    };
    let mut known = template.origins;
    for slot in slots {
        if let Some(first) = slot.locations.first() {
            known.insert(slot.pointer.clone(), first.clone());
        }
    }
    Rendered {
        body,
        secret_paths,
        secret_pointers,
        places: Places {
            source_path: template.path.display().to_string(),
            source: template.source,
            known,
        },
        numbers: template.numbers,
    }
}

/// Checks what ECS would reject or what would break at task start, before any AWS write.
pub fn validate(rendered: &Rendered, source: &Path) -> Result<(), Error> {
    let location = |path: String| {
        let mut location = rendered.places.locate_field(&rendered.body, &path);
        if location.source.is_empty() {
            location.source = source.display().to_string();
        }
        location
    };
    let mut problems = Vec::new();
    let mut problem = |path: String, reason: String| {
        problems.push(Problem {
            location: location(path),
            reference: None,
            reason,
        });
    };
    let size = rendered.to_json().len();
    if size > MAX_BYTES {
        problem(
            String::new(),
            format!(
                "the rendered task definition is {size} bytes; ECS accepts at most {MAX_BYTES}"
            ),
        );
    }
    let count = containers(&rendered.body).count();
    if count > MAX_CONTAINERS {
        problem(
            "containerDefinitions".to_owned(),
            format!("{count} containers; ECS accepts at most {MAX_CONTAINERS}"),
        );
    }
    let mut uses_secrets = false;
    let mut names = BTreeSet::new();
    for (i, container) in containers(&rendered.body).enumerate() {
        uses_secrets |= check_container(i, container, rendered, &mut names, &mut problem);
    }
    if uses_secrets && !rendered.body.contains_key("executionRoleArn") {
        warn!(
            "the task definition references secrets but has no `executionRoleArn`; ECS needs that role to read them at task start"
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            problems: Problems(problems),
        })
    }
}

/// Checks one container; returns whether it references secrets.
/// An entry of a container's `secrets[]` or `logConfiguration.secretOptions[]`.
pub struct SecretEntry<'a> {
    /// The JSON path of its `valueFrom`, e.g. `containerDefinitions[0].secrets[1].valueFrom`.
    pub path: String,
    pub name: Option<&'a str>,
    pub value_from: Option<&'a str>,
}

/// The `secrets[]` and `logConfiguration.secretOptions[]` entries of container `i`.
pub fn secret_entries(i: usize, container: &Map<String, Value>) -> Vec<SecretEntry<'_>> {
    let lists = [
        (container.get("secrets"), "secrets"),
        (
            container
                .get("logConfiguration")
                .and_then(|l| l.get("secretOptions")),
            "logConfiguration.secretOptions",
        ),
    ];
    let mut out = Vec::new();
    for (list, list_path) in lists {
        for (j, entry) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            out.push(SecretEntry {
                path: format!("containerDefinitions[{i}].{list_path}[{j}].valueFrom"),
                name: entry.get("name").and_then(Value::as_str),
                value_from: entry.get("valueFrom").and_then(Value::as_str),
            });
        }
    }
    out
}

fn check_container(
    i: usize,
    container: &Map<String, Value>,
    rendered: &Rendered,
    names: &mut BTreeSet<String>,
    problem: &mut dyn FnMut(String, String),
) -> bool {
    let mut uses_secrets = false;
    let base = format!("containerDefinitions[{i}]");
    match container.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => {
            if !names.insert(name.to_owned()) {
                problem(
                    format!("{base}.name"),
                    format!("container name `{name}` is used twice"),
                );
            }
        }
        _ => problem(
            format!("{base}.name"),
            "every container needs a `name`".to_owned(),
        ),
    }
    if !container.get("image").is_some_and(Value::is_string) {
        problem(
            format!("{base}.image"),
            "every container needs an `image`".to_owned(),
        );
    }
    let value_froms = secret_entries(i, container);
    uses_secrets |= !value_froms.is_empty();
    for SecretEntry {
        path, value_from, ..
    } in value_froms
    {
        match value_from {
            None => problem(
                path,
                "`valueFrom` is missing; expected an ARN or a parameter name".into(),
            ),
            Some(_) if rendered.secret_paths.contains(&path) => {}
            Some(value_from) => match reference::check_value_from(value_from) {
                Ok(None) => {}
                Ok(Some(warning)) => warn!(path = %path, "{warning}"),
                Err(reason) => problem(path, reason),
            },
        }
    }
    if let Some(credentials) = container
        .get("repositoryCredentials")
        .and_then(|r| r.get("credentialsParameter"))
        .and_then(Value::as_str)
    {
        uses_secrets = true;
        let path = format!("{base}.repositoryCredentials.credentialsParameter");
        let is_secret_arn =
            reference::Arn::parse(credentials).is_some_and(|a| a.service == "secretsmanager");
        if !is_secret_arn {
            problem(
                path,
                "`credentialsParameter` must be a Secrets Manager secret ARN".into(),
            );
        }
    }
    uses_secrets
}

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
    use std::io::Write as _;

    fn template(name: &str, text: &str) -> (tempfile::TempDir, Template) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
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
    fn locates_rendered_values_in_the_template_file() {
        // The same ARN twice (the second is the one asked for), a name that is also part of a
        // longer value, and a placeholder.
        let (_dir, t) = template(
            "web.yaml",
            "family: web\ncontainerDefinitions:\n  - name: db\n    image: x\n    environment:\n      - name: ARN\n        value: arn:aws:ssm:us-east-1:1:parameter/db\n    secrets:\n      - name: A\n        valueFrom: arn:aws:ssm:us-east-1:1:parameter/db\n      - name: B\n        valueFrom: db\n      - name: C\n        valueFrom: \"{{ssm-arn:/c}}\"\n",
        );
        let slots = slots(&t).unwrap();
        let resolved: HashMap<Reference, Resolved> = slots
            .iter()
            .flat_map(Slot::references)
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
        let rendered = render(t, &[], &HashMap::new());
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
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join(if yaml { "t.yaml" } else { "t.json" });
                std::fs::write(&path, &text).unwrap();
                if let Ok(template) = load(&path) {
                    let _ = slots(&template);
                }
            }
        }
    }
}
