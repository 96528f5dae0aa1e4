//! The definition against the SDK's `RegisterTaskDefinition` model (no call: the SDK's schema
//! codec reads the JSON): a type error names the field that is wrong; a field the model does
//! not know is warned about and still sent, so fields newer than our SDK reach ECS.

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_smithy_json::codec::{JsonCodec, JsonCodecSettings};
use aws_smithy_schema::codec::Codec as _;
use aws_smithy_schema::serde::ShapeSerializer as _;
use serde_json::{Map, Value};
use tracing::warn;

use super::Rendered;
use crate::error::{Error, Problem, Problems, visible};

/// Type errors fail with the field's place; unknown fields are warned about.
pub fn conforms(rendered: &Rendered) -> Result<(), Error> {
    match unknown_fields(&rendered.body) {
        Ok(unknown) => {
            // A field newer than our SDK has a field's name; one that does not is a typo that
            // ECS would refuse.
            let (named, garbled): (Vec<String>, Vec<String>) = unknown
                .into_iter()
                .partition(|path| is_field_name(last_field(path)));
            for field in named {
                warn!(field = %visible(&field), "field is not in this version's RegisterTaskDefinition model; it is sent to ECS as written");
            }
            if garbled.is_empty() {
                return Ok(());
            }
            let problems = garbled
                .into_iter()
                .map(|path| Problem {
                    location: rendered.places.locate_field(&rendered.body, &path),
                    reference: None,
                    reason: format!(
                        "`{}` is not a field name (ECS's are letters and digits, like `containerDefinitions`)",
                        visible(last_field(&path))
                    ),
                })
                .collect();
            Err(Error::Invalid {
                problems: Problems(problems),
            })
        }
        Err((path, reason)) => {
            let mut location = rendered.places.locate_field(&rendered.body, &path);
            location.path = path;
            Err(Error::Invalid {
                problems: Problems(vec![Problem {
                    location,
                    reference: None,
                    reason: format!("does not match the RegisterTaskDefinition shape: {reason}"),
                }]),
            })
        }
    }
}

/// The last field of a path such as `containerDefinitions[0].foo`.
fn last_field(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// ECS's field names: a letter, then letters and digits.
fn is_field_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

fn codec() -> JsonCodec {
    JsonCodec::new(JsonCodecSettings::builder().use_json_name(false).build())
}

/// Reads `bytes` with the SDK's RegisterTaskDefinition model; on a type error, the byte offset
/// where the reader stopped and the reason.
fn fits_model(bytes: &[u8]) -> Result<RegisterTaskDefinitionInput, (usize, String)> {
    let mut deserializer = codec().create_deserializer(bytes);
    RegisterTaskDefinitionInput::deserialize(&mut deserializer)
        .map_err(|e| (deserializer.position(), e.to_string()))
}

/// Checks a definition against the `RegisterTaskDefinition` model of our SDK. Returns the paths of
/// fields the model does not know (they are still sent), or the path and reason of a type error.
pub fn unknown_fields(body: &Map<String, Value>) -> Result<Vec<String>, (String, String)> {
    let document = Value::Object(body.clone());
    let bytes = serde_json::to_vec(&document).expect("a JSON value serialises");
    let input = match fits_model(&bytes) {
        Ok(input) => input,
        Err((offset, reason)) => return Err((path_at(&document, offset), reason)),
    };
    let mut serializer = codec().create_serializer();
    serializer
        .write_struct(RegisterTaskDefinitionInput::SCHEMA, &input)
        .map_err(|e| (String::new(), e.to_string()))?;
    let known: Value = serde_json::from_slice(&serializer.finish()).unwrap_or_default();
    let mut unknown = Vec::new();
    missing_fields(&document, &known, "", &mut unknown);
    Ok(unknown)
}

/// The path of the value at byte `offset` of `document`'s compact JSON: the value that starts
/// there, or the object or list that ends there (a member missing from it), or the innermost
/// one around it.
fn path_at(document: &Value, offset: usize) -> String {
    fn len(value: &Value) -> usize {
        serde_json::to_vec(value).map_or(0, |v| v.len())
    }
    let mut node = document;
    let mut start = 0;
    let mut path = String::new();
    loop {
        let children: Vec<(String, &Value, usize)> = match node {
            Value::Object(map) => {
                let mut at = start + 1;
                map.iter()
                    .map(|(key, value)| {
                        at += len(&Value::String(key.clone())) + 1;
                        let child = (key.clone(), value, at);
                        at += len(value) + 1;
                        child
                    })
                    .collect()
            }
            Value::Array(items) => {
                let mut at = start + 1;
                items
                    .iter()
                    .enumerate()
                    .map(|(i, value)| {
                        let child = (format!("[{i}]"), value, at);
                        at += len(value) + 1;
                        child
                    })
                    .collect()
            }
            _ => return path,
        };
        let inside = children.into_iter().find(|(_, value, child_start)| {
            *child_start <= offset && offset <= child_start + len(value)
        });
        let Some((step, value, child_start)) = inside else {
            return path;
        };
        if !path.is_empty() && !step.starts_with('[') {
            path.push('.');
        }
        path.push_str(&step);
        // The value starts here (a wrong type), or it ends here (a member missing from it).
        if offset == child_start || offset == child_start + len(value) {
            return path;
        }
        node = value;
        start = child_start;
    }
}

fn missing_fields(sent: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (sent, known) {
        (Value::Object(sent), Value::Object(known)) => {
            for (key, value) in sent {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match known.get(key) {
                    Some(known_value) => missing_fields(value, known_value, &child, out),
                    None if !value.is_null() => out.push(child),
                    None => {}
                }
            }
        }
        (Value::Array(sent), Value::Array(known)) => {
            for (i, (value, known_value)) in sent.iter().zip(known).enumerate() {
                missing_fields(value, known_value, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn unknown_fields_are_reported_by_path() {
        let unknown = unknown_fields(&body(
            r#"{"family":"f","futureField":{"a":1},"containerDefinitions":[{"name":"a","image":"i","newContainerKnob":true}]}"#,
        ))
        .unwrap();
        assert_eq!(
            unknown,
            vec!["futureField", "containerDefinitions[0].newContainerKnob"]
        );
    }

    #[test]
    fn type_errors_name_the_field() {
        let (path, reason) = unknown_fields(&body(
            r#"{"family":"f","containerDefinitions":[{"name":"a","image":"i"},{"name":"b","image":"i","memory":"lots"}]}"#,
        ))
        .unwrap_err();
        assert_eq!(path, "containerDefinitions[1].memory");
        assert!(
            reason.contains("type mismatch") || reason.contains("expected"),
            "{reason}"
        );
    }

    #[test]
    fn type_errors_point_at_the_field_that_is_wrong_not_a_neighbour() {
        let cases = [
            (
                r#"{"family":"f","containerDefinitions":[{"name":"a","image":"i","logConfiguration":{"logDriver":"awslogs","options":{"Name":"x"},"secretOptions":{"name":"k","valueFrom":"v"}}}]}"#,
                "containerDefinitions[0].logConfiguration.secretOptions",
            ),
            (
                r#"{"family":"f","containerDefinitions":[{"name":"a","image":"i","logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"g","awslogs-create-group":true}}}]}"#,
                "containerDefinitions[0].logConfiguration.options.awslogs-create-group",
            ),
            (
                r#"{"family":"f","containerDefinitions":[{"name":"a","image":"i","ulimits":[{"name":"nofile","softLimit":1024,"hardLimit":"lots"}]}]}"#,
                "containerDefinitions[0].ulimits[0].hardLimit",
            ),
        ];
        for (json, expected) in cases {
            let (path, reason) = unknown_fields(&body(json)).unwrap_err();
            assert_eq!(path, expected, "{reason}");
        }
    }
}
