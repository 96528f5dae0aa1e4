//! What ECS would reject, or what would break at task start, checked before any AWS write:
//! ECS's limits, names and images, every `valueFrom`, and the field types of the SDK's model.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use tracing::warn;

use super::{Rendered, containers, shape};
use crate::error::{Error, Problem, Problems};
use crate::reference;

/// ECS's limit on the size of a task definition's JSON.
pub const MAX_BYTES: usize = 64 * 1024;
/// ECS's limit on containers in one task definition.
pub const MAX_CONTAINERS: usize = 10;

/// Checks the rendered definition: every problem at once, each with its place. Then its shape
/// against the SDK's model: a type error fails, a field the model does not know is warned about
/// (it is sent as written).
pub fn validate(rendered: &Rendered) -> Result<(), Error> {
    let mut problems = Problems(Vec::new());
    let mut problem = |path: String, reason: String| {
        problems.0.push(Problem {
            location: rendered.places.locate_field(&rendered.body, &path),
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
        uses_secrets |= container_problems(i, container, rendered, &mut names, &mut problem);
    }
    if uses_secrets && !rendered.body.contains_key("executionRoleArn") {
        warn!(
            "the task definition references secrets but has no `executionRoleArn`; ECS needs that role to read them at task start"
        );
    }
    if !problems.0.is_empty() {
        return Err(Error::Invalid { problems });
    }
    shape::conforms(rendered)
}

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

/// Checks one container; returns whether it references secrets.
fn container_problems(
    i: usize,
    container: &Map<String, Value>,
    rendered: &Rendered,
    names: &mut BTreeSet<String>,
    problem: &mut dyn FnMut(String, String),
) -> bool {
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
    // ECS: without task-level `memory`, each container needs its own.
    if !rendered.body.contains_key("memory")
        && !container.contains_key("memory")
        && !container.contains_key("memoryReservation")
    {
        problem(
            base.clone(),
            "the task has no `memory`, so the container needs `memory` or `memoryReservation` (MiB)"
                .to_owned(),
        );
    }
    let value_froms = secret_entries(i, container);
    let mut uses_secrets = !value_froms.is_empty();
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
        let is_secret_arn =
            reference::Arn::parse(credentials).is_some_and(|a| a.service == "secretsmanager");
        if !is_secret_arn {
            problem(
                format!("{base}.repositoryCredentials.credentialsParameter"),
                "`credentialsParameter` must be a Secrets Manager secret ARN".into(),
            );
        }
    }
    uses_secrets
}
