//! What the inputs change in a template: images, environment variables, secrets and tags,
//! merged into the containers they name, and the render action's inputs (command, environment
//! files, log configuration, Docker labels, the task's roles) with that action's meaning. Each
//! value merged remembers the input line it came from, so that a placeholder in it is reported
//! there.

use serde_json::{Map, Value};

use super::{Template, container_mut, container_names};
use crate::error::{Error, Location, Origin};

/// An image override: `container=uri`, or a bare uri.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub container: Option<String>,
    pub uri: String,
}

impl Image {
    /// `container=uri` or `uri`.
    pub fn parse(item: &str) -> Result<Self, Error> {
        let (container, uri) = match item.split_once('=') {
            Some((container, uri)) => (Some(container.trim().to_owned()), uri.trim()),
            None => (None, item),
        };
        if uri.is_empty() || uri.chars().any(char::is_whitespace) {
            return Err(Error::Usage(format!(
                "input `image`: `{item}` is not `container=uri` or `uri`"
            )));
        }
        Ok(Image {
            container: container.filter(|c| !c.is_empty()),
            uri: uri.to_owned(),
        })
    }
}

/// One `NAME=value` line of a multi-line input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: String,
    /// 1-based line within the input.
    pub line: usize,
    /// 1-based column of the value within that line.
    pub column: usize,
}

/// The overrides of one template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub images: Vec<Image>,
    /// The containers that unnamed overrides apply to; empty: the only container.
    pub container_names: Vec<String>,
    pub environment: Vec<Assignment>,
    pub secrets: Vec<Assignment>,
    pub tags: Vec<Assignment>,
    /// The container's `command`, replaced.
    pub command: Option<Vec<String>>,
    /// S3 object ARNs: the container's `environmentFiles`, replaced.
    pub env_files: Option<Vec<String>>,
    pub log_driver: Option<String>,
    /// Merged into `logConfiguration.options` by key.
    pub log_options: Vec<Assignment>,
    /// Merged into `dockerLabels` by key.
    pub docker_labels: Vec<Assignment>,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
}

impl Overrides {
    /// Merges the overrides into the template's containers and tags.
    pub fn apply(&self, template: &mut Template) -> Result<(), Error> {
        let names = container_names(&template.body);
        let targets = Targets {
            names: &names,
            unnamed: self.unnamed_targets(&names)?,
        };
        for image in &self.images {
            let indices = match &image.container {
                Some(name) => vec![targets.index_of(name)?],
                None => targets.for_input("image")?.to_vec(),
            };
            for index in indices {
                container_mut(&mut template.body, index)
                    .insert("image".to_owned(), Value::String(image.uri.clone()));
            }
        }
        for (input, list, key, field) in [
            (
                "environment-variables",
                &self.environment,
                "environment",
                "value",
            ),
            ("secrets", &self.secrets, "secrets", "valueFrom"),
        ] {
            if list.is_empty() {
                continue;
            }
            for &index in targets.for_input(input)? {
                for assignment in list {
                    let pointer = merge_by_name(&mut template.body, index, key, field, assignment);
                    template
                        .origins
                        .insert(pointer, from_input(input, assignment));
                }
            }
        }
        self.apply_container_fields(template, &targets)?;
        for (input, field, value) in [
            ("task-role-arn", "taskRoleArn", &self.task_role_arn),
            (
                "execution-role-arn",
                "executionRoleArn",
                &self.execution_role_arn,
            ),
        ] {
            if let Some(arn) = value {
                template
                    .body
                    .insert(field.to_owned(), Value::String(arn.clone()));
                template
                    .origins
                    .insert(format!("/{field}"), at_input(input));
            }
        }
        self.apply_tags(template);
        Ok(())
    }

    /// The render action's per-container inputs: `command` and `env-files` replace the field,
    /// `log-configuration-*` and `docker-labels` merge by key.
    fn apply_container_fields(
        &self,
        template: &mut Template,
        targets: &Targets,
    ) -> Result<(), Error> {
        if let Some(command) = &self.command {
            for &index in targets.for_input("command")? {
                let words = command.iter().cloned().map(Value::String).collect();
                container_mut(&mut template.body, index)
                    .insert("command".to_owned(), Value::Array(words));
                for i in 0..command.len() {
                    template.origins.insert(
                        format!("/containerDefinitions/{index}/command/{i}"),
                        at_input("command"),
                    );
                }
            }
        }
        if let Some(files) = &self.env_files {
            for &index in targets.for_input("env-files")? {
                let list = files
                    .iter()
                    .map(|arn| serde_json::json!({ "value": arn, "type": "s3" }))
                    .collect();
                container_mut(&mut template.body, index)
                    .insert("environmentFiles".to_owned(), Value::Array(list));
            }
        }
        if let Some(driver) = &self.log_driver {
            for &index in targets.for_input("log-configuration-log-driver")? {
                object_at(container_mut(&mut template.body, index), "logConfiguration")
                    .insert("logDriver".to_owned(), Value::String(driver.clone()));
            }
        }
        for (input, list, path) in [
            (
                "log-configuration-options",
                &self.log_options,
                &["logConfiguration", "options"][..],
            ),
            ("docker-labels", &self.docker_labels, &["dockerLabels"][..]),
        ] {
            if list.is_empty() {
                continue;
            }
            for &index in targets.for_input(input)? {
                let mut map = container_mut(&mut template.body, index);
                for key in path {
                    map = object_at(map, key);
                }
                let mut pointer = format!("/containerDefinitions/{index}");
                for key in path {
                    pointer = format!("{pointer}/{key}");
                }
                for assignment in list {
                    map.insert(
                        assignment.name.clone(),
                        Value::String(assignment.value.clone()),
                    );
                    template.origins.insert(
                        format!(
                            "{pointer}/{}",
                            crate::document::pointer_token(&assignment.name)
                        ),
                        from_input(input, assignment),
                    );
                }
            }
        }
        Ok(())
    }

    /// The containers that unnamed overrides apply to: those named in `container-name`, or the
    /// only one.
    fn unnamed_targets(&self, names: &[String]) -> Result<Vec<usize>, Error> {
        if self.container_names.is_empty() {
            return Ok(if names.len() == 1 {
                vec![0]
            } else {
                Vec::new()
            });
        }
        let targets = Targets {
            names,
            unnamed: Vec::new(),
        };
        self.container_names
            .iter()
            .map(|n| targets.index_of(n))
            .collect()
    }

    /// Merges the `tags` input into the definition's tags, remembering where each came from.
    fn apply_tags(&self, template: &mut Template) {
        let pointers = merge_tags(
            &mut template.body,
            self.tags
                .iter()
                .map(|t| (t.name.as_str(), t.value.as_str())),
            true,
        );
        for (pointer, tag) in pointers.into_iter().zip(&self.tags) {
            template.origins.insert(pointer, from_input("tags", tag));
        }
    }
}

fn from_input(input: &'static str, assignment: &Assignment) -> Location {
    Location {
        origin: Origin::Input(input),
        line: assignment.line,
        column: assignment.column,
        path: String::new(),
    }
}

fn at_input(input: &'static str) -> Location {
    Location {
        origin: Origin::Input(input),
        line: 1,
        column: 1,
        path: String::new(),
    }
}

/// The object under `key`, made (or made an object) when it is not one.
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let value = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made an object above")
}

/// The template's containers, and those that unnamed overrides apply to.
struct Targets<'a> {
    names: &'a [String],
    unnamed: Vec<usize>,
}

impl Targets<'_> {
    fn known(&self) -> String {
        self.names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn index_of(&self, name: &str) -> Result<usize, Error> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            Error::Usage(format!(
                "no container named `{name}` in the template; it has {}",
                self.known()
            ))
        })
    }

    fn for_input(&self, input: &str) -> Result<&[usize], Error> {
        if self.unnamed.is_empty() {
            return Err(Error::Usage(format!(
                "input `{input}` needs `container-name`: the template has {} containers ({})",
                self.names.len(),
                self.known()
            )));
        }
        Ok(&self.unnamed)
    }
}

/// Merges `key=value` tags into the definition's `tags`; `overwrite` decides who wins a key.
/// Returns the JSON pointer of each value written (or kept).
pub fn merge_tags<'a>(
    body: &mut Map<String, Value>,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    overwrite: bool,
) -> Vec<String> {
    // A `tags` the template wrote stays, even empty.
    let written = body.contains_key("tags");
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
    if list.is_empty() && !written {
        body.remove("tags");
    }
    pointers
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn template() -> Template {
        super::super::parse(
            Path::new("t.json"),
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"a","environment":[{"name":"A","value":"1"}]},{"name":"side","image":"b"}]}"#,
        )
        .unwrap()
    }

    fn assignment(name: &str, value: &str) -> Assignment {
        Assignment {
            name: name.into(),
            value: value.into(),
            line: 1,
            column: 1,
        }
    }

    #[test]
    fn overrides_merge_by_name_into_the_containers_they_name() {
        let mut t = template();
        let overrides = Overrides {
            images: vec![Image::parse("side=repo/side:2").unwrap()],
            container_names: vec!["web".into()],
            environment: vec![assignment("A", "2"), assignment("B", "3")],
            ..Overrides::default()
        };
        overrides.apply(&mut t).unwrap();
        assert_eq!(t.body["containerDefinitions"][1]["image"], "repo/side:2");
        let env = &t.body["containerDefinitions"][0]["environment"];
        assert_eq!(env[0]["value"], "2");
        assert_eq!(env[1]["name"], "B");
    }

    #[test]
    fn an_unnamed_override_of_two_containers_needs_a_container_name() {
        let overrides = Overrides {
            images: vec![Image::parse("repo/web:2").unwrap()],
            ..Overrides::default()
        };
        let err = overrides.apply(&mut template()).unwrap_err();
        assert!(err.to_string().contains("needs `container-name`"), "{err}");
        let err = Image::parse("web=").unwrap_err();
        assert!(err.to_string().contains("is not `container=uri`"), "{err}");
    }
}
