//! ECS: check a definition against the SDK's model, read the family's latest revision as the raw
//! JSON ECS returns, and register a new revision with the user's JSON as the request body.
//!
//! Registering sends the rendered JSON itself (through `mutate_request`), so fields newer than
//! our SDK reach ECS, while signing, retries, credentials and endpoints stay the SDK's.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{
    ContainerDefinition, SortOrder, TaskDefinitionField, TaskDefinitionStatus,
};
use aws_smithy_json::codec::{JsonCodec, JsonCodecSettings};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_schema::codec::Codec as _;
use aws_smithy_schema::serde::ShapeSerializer as _;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Map, Value};

use tracing::{info, warn};

use crate::aws;
use crate::error::Error;

/// A registered revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub arn: String,
    pub revision: i64,
}

/// The family's latest ACTIVE revision, with its definition as ECS returned it.
#[derive(Debug)]
pub struct Latest {
    pub revision: Revision,
    pub body: Map<String, Value>,
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
pub fn check_shape(body: &Map<String, Value>) -> Result<Vec<String>, (String, String)> {
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

/// Captures the raw response body of one call.
#[derive(Debug, Default, Clone)]
struct CaptureBody(Arc<Mutex<Option<Vec<u8>>>>);

impl Intercept for CaptureBody {
    fn name(&self) -> &'static str {
        "CaptureBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = context.response().body().bytes() {
            *self.0.lock().expect("capture lock") = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// Reads the family's latest ACTIVE revision, or `None` when the family has none.
pub async fn latest(client: &aws_sdk_ecs::Client, family: &str) -> Result<Option<Latest>, Error> {
    let capture = CaptureBody::default();
    let response = client
        .describe_task_definition()
        .task_definition(family)
        .include(TaskDefinitionField::Tags)
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let output = match response {
        Ok(output) => output,
        Err(err) if aws::code(&err) == Some("ClientException") => {
            // ECS answers an unknown family (or one without ACTIVE revisions) this way.
            return Ok(None);
        }
        Err(err) => {
            return Err(Error::Aws(format!(
                "cannot read the latest revision of family `{family}` (DescribeTaskDefinition): {}",
                aws::describe(&err)
            )));
        }
    };
    let Some(definition) = output.task_definition() else {
        return Ok(None);
    };
    let revision = Revision {
        arn: definition
            .task_definition_arn()
            .unwrap_or_default()
            .to_owned(),
        revision: i64::from(definition.revision()),
    };
    let raw = capture.0.lock().expect("capture lock").take();
    let mut response: Value = raw
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default();
    let Some(Value::Object(mut body)) = response.get_mut("taskDefinition").map(Value::take) else {
        return Err(Error::Aws(format!(
            "DescribeTaskDefinition for `{family}` returned no readable definition"
        )));
    };
    if let Some(Value::Array(tags)) = response.get_mut("tags").map(Value::take)
        && !tags.is_empty()
    {
        body.insert("tags".to_owned(), Value::Array(tags));
    }
    Ok(Some(Latest { revision, body }))
}

/// How one RegisterTaskDefinition attempt failed.
enum Attempt {
    /// ECS answered and refused: never retried.
    Refused(String),
    /// Throttled before processing: safe to retry.
    Throttled(String),
    /// No answer, or a 5xx: the revision may or may not exist now.
    Unknown(String),
}

async fn register_once(
    client: &aws_sdk_ecs::Client,
    family: &str,
    body: &bytes::Bytes,
) -> Result<Revision, Attempt> {
    let body = body.clone();
    let result = client
        .register_task_definition()
        // The typed input only satisfies the builder; the body below replaces it.
        .family(family)
        .container_definitions(ContainerDefinition::builder().build())
        .customize()
        // Retried here, not by the SDK: a retry after a lost answer could register twice.
        .config_override(
            aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .mutate_request(move |request| {
            *request.body_mut() = SdkBody::from(body.clone());
            request
                .headers_mut()
                .insert("content-length", body.len().to_string());
        })
        .send()
        .await;
    match result {
        Ok(output) => {
            let definition = output.task_definition().ok_or_else(|| {
                Attempt::Unknown("RegisterTaskDefinition returned no task definition".to_owned())
            })?;
            Ok(Revision {
                arn: definition
                    .task_definition_arn()
                    .unwrap_or_default()
                    .to_owned(),
                revision: i64::from(definition.revision()),
            })
        }
        Err(err) => {
            let reason = aws::describe(&err);
            let status = err.raw_response().map(|r| r.status().as_u16());
            let code = aws::code(&err).unwrap_or_default();
            Err(match &err {
                SdkError::ServiceError(_) if code.contains("Throttl") || status == Some(429) => {
                    Attempt::Throttled(reason)
                }
                SdkError::ServiceError(_) if status.is_some_and(|s| s < 500) => {
                    Attempt::Refused(reason)
                }
                _ => Attempt::Unknown(reason),
            })
        }
    }
}

/// Registers `json` (the rendered definition) as a new revision. Throttling is retried with
/// backoff. When an attempt ends without an answer (a lost response, a timeout, a 5xx), the
/// family's latest revision is read first: if `landed` recognises it as ours, it is the result,
/// so a retry never leaves two new revisions.
pub async fn register(
    client: &aws_sdk_ecs::Client,
    family: &str,
    json: Vec<u8>,
    max_attempts: u32,
    landed: impl Fn(&Latest) -> bool,
) -> Result<Revision, Error> {
    let body = bytes::Bytes::from(json);
    let mut backoff = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        let (failure, ambiguous) = match register_once(client, family, &body).await {
            Ok(revision) => return Ok(revision),
            Err(Attempt::Refused(reason)) => {
                return Err(Error::Aws(format!(
                    "ECS refused the task definition of family `{family}` (RegisterTaskDefinition): {reason}"
                )));
            }
            Err(Attempt::Throttled(reason)) => (reason, false),
            Err(Attempt::Unknown(reason)) => (reason, true),
        };
        if ambiguous {
            // The attempt may have registered: look before trying again (or giving up).
            let found = latest(client, family).await.map_err(|e| {
                Error::Aws(format!(
                    "RegisterTaskDefinition for `{family}` got no answer ({failure}), and whether it registered cannot be read: {e}; look at the family's latest revision before running again"
                ))
            })?;
            if let Some(latest) = found
                && landed(&latest)
            {
                warn!(
                    arn = %latest.revision.arn,
                    "the RegisterTaskDefinition answer was lost ({failure}), but the revision was registered; using it"
                );
                return Ok(latest.revision);
            }
        }
        if attempt >= max_attempts {
            return Err(Error::Aws(format!(
                "RegisterTaskDefinition for family `{family}` failed after {attempt} attempt{}: {failure}",
                if attempt == 1 { "" } else { "s" }
            )));
        }
        warn!(
            attempt,
            "RegisterTaskDefinition failed ({failure}); retrying"
        );
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
        attempt += 1;
    }
}

/// A random duration between half and all of `d`.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    #[allow(clippy::cast_precision_loss)]
    let fraction = (random % 1000) as f64 / 2000.0;
    d.mul_f64(0.5 + fraction)
}

/// Deregisters ACTIVE revisions of `family` beyond the newest `keep`, except `newest` and any
/// revision a service of `cluster` runs or is deploying. Returns the revision numbers deregistered.
pub async fn prune(
    client: &aws_sdk_ecs::Client,
    family: &str,
    keep: usize,
    cluster: &str,
    newest: &str,
) -> Result<Vec<String>, Error> {
    let failed = |what: &str, reason: String| {
        Error::Aws(format!(
            "keep-revisions for family `{family}`: {what} failed: {reason}"
        ))
    };
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| failed("ListTaskDefinitions", aws::describe(&err)))?;
        // The prefix also matches `web-worker` for `web`: keep the family's own.
        arns.extend(
            page.task_definition_arns()
                .iter()
                .filter(|arn| family_of(arn) == Some(family))
                .cloned(),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    // Newest first, whatever order the listing came in.
    arns.sort_by_key(|arn| {
        std::cmp::Reverse(
            arn.rsplit(':')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0),
        )
    });
    let Some(in_use) = revisions_in_use(client, cluster).await else {
        warn!(
            family,
            cluster,
            "keep-revisions: the cluster's services cannot be read, so nothing is deregistered"
        );
        return Ok(Vec::new());
    };
    let mut deregistered = Vec::new();
    for arn in arns.iter().skip(keep) {
        if arn == newest || in_use.contains(arn) {
            info!(arn = %arn, "kept: a service runs it");
            continue;
        }
        client
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|err| failed("DeregisterTaskDefinition", aws::describe(&err)))?;
        deregistered.push(arn.rsplit(':').next().unwrap_or(arn).to_owned());
    }
    if !deregistered.is_empty() {
        info!(
            family,
            revisions = %deregistered.join(", "),
            "deregistered old revisions (keep-revisions {keep})"
        );
    }
    Ok(deregistered)
}

fn family_of(arn: &str) -> Option<&str> {
    let resource = arn.rsplit_once(":task-definition/")?.1;
    Some(resource.rsplit_once(':')?.0)
}

/// Task definitions that the services of `cluster` run or are deploying; `None` when they cannot
/// be read (then nothing may be deregistered).
async fn revisions_in_use(client: &aws_sdk_ecs::Client, cluster: &str) -> Option<HashSet<String>> {
    let mut in_use = HashSet::new();
    let mut services = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_services()
            .cluster(cluster)
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| warn!(cluster, "ListServices failed: {}", aws::describe(&err)))
            .ok()?;
        services.extend(page.service_arns().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    for chunk in services.chunks(10) {
        let output = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|err| warn!(cluster, "DescribeServices failed: {}", aws::describe(&err)))
            .ok()?;
        for service in output.services() {
            in_use.extend(service.task_definition().map(str::to_owned));
            in_use.extend(
                service
                    .deployments()
                    .iter()
                    .filter_map(|d| d.task_definition().map(str::to_owned)),
            );
        }
    }
    Some(in_use)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn unknown_fields_are_reported_by_path() {
        let unknown = check_shape(&body(
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
        let (path, reason) = check_shape(&body(
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
            let (path, reason) = check_shape(&body(json)).unwrap_err();
            assert_eq!(path, expected, "{reason}");
        }
    }
}
