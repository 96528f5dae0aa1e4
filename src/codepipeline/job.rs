//! A CodePipeline job as the tool reads it, from a Lambda invoke action's event
//! (`CodePipeline.job`) or from `PollForJobs` (a custom action's job worker): the same `data`.
//! The artifact credentials are secrets from the moment they are read: the redactor learns them
//! and they are kept as [`Secret`]s, never in a log line, an error or a child's environment.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::mask::Secret;

/// One job: its id, the nonce a worker acknowledges it with, and what it carries.
#[derive(Debug)]
pub struct Job {
    pub id: String,
    pub nonce: Option<String>,
    pub user_parameters: Option<String>,
    pub inputs: Vec<Artifact>,
    pub outputs: Vec<Artifact>,
    pub credentials: Option<ArtifactCredentials>,
    /// The pipeline's KMS key for its artifact store, when it has one.
    pub kms_key: Option<String>,
    /// Set when an earlier invocation of this job asked to be called again.
    pub continuation: Option<String>,
    /// `pipeline/stage/action`, for the log.
    pub context: String,
}

/// An artifact and where it lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    pub bucket: String,
    pub key: String,
}

/// The job's temporary credentials for the artifact bucket.
#[derive(Debug)]
pub struct ArtifactCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJob {
    id: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    data: RawData,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawData {
    #[serde(default)]
    action_configuration: Option<RawConfiguration>,
    #[serde(default)]
    input_artifacts: Vec<RawArtifact>,
    #[serde(default)]
    output_artifacts: Vec<RawArtifact>,
    #[serde(default)]
    artifact_credentials: Option<RawCredentials>,
    #[serde(default)]
    continuation_token: Option<String>,
    #[serde(default)]
    encryption_key: Option<RawKey>,
    #[serde(default)]
    pipeline_context: Option<Value>,
}

#[derive(Deserialize, Default)]
struct RawConfiguration {
    #[serde(default)]
    configuration: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArtifact {
    #[serde(default)]
    name: String,
    location: RawLocation,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLocation {
    s3_location: RawS3,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawS3 {
    bucket_name: String,
    object_key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
}

#[derive(Deserialize)]
struct RawKey {
    id: String,
}

impl Job {
    /// A job known only by its id (its data could not be read), to report its failure.
    pub fn only_id(id: &str) -> Job {
        Job {
            id: id.to_owned(),
            nonce: None,
            user_parameters: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            credentials: None,
            kms_key: None,
            continuation: None,
            context: String::new(),
        }
    }

    /// Reads a job (`{"id", "data", …}`). Its credentials are taught to the redactor at once.
    /// The error names what is wrong, never a value.
    pub fn parse(job: &Value) -> Result<Job, String> {
        // The credentials first, so that nothing said below can carry them.
        if let Some(credentials) = job.pointer("/data/artifactCredentials") {
            for key in ["secretAccessKey", "sessionToken"] {
                if let Some(value) = credentials.get(key).and_then(Value::as_str) {
                    crate::output::protect(&Secret::new(value));
                }
            }
        }
        let raw = RawJob::deserialize(job).map_err(|e| {
            format!(
                "the CodePipeline job is not in the expected shape: {}",
                unquoted(&e.to_string())
            )
        })?;
        let artifacts = |list: Vec<RawArtifact>| {
            list.into_iter()
                .map(|a| Artifact {
                    name: a.name,
                    bucket: a.location.s3_location.bucket_name,
                    key: a.location.s3_location.object_key,
                })
                .collect()
        };
        let data = raw.data;
        let context = data
            .pipeline_context
            .as_ref()
            .map_or_else(String::new, |c| {
                [
                    c.pointer("/pipelineName"),
                    c.pointer("/stage/name"),
                    c.pointer("/action/name"),
                ]
                .iter()
                .map(|v| v.and_then(Value::as_str).unwrap_or("?"))
                .collect::<Vec<_>>()
                .join("/")
            });
        Ok(Job {
            id: raw.id,
            nonce: raw.nonce,
            user_parameters: data
                .action_configuration
                .and_then(|c| c.configuration.get("UserParameters").cloned())
                .filter(|p| !p.trim().is_empty()),
            inputs: artifacts(data.input_artifacts),
            outputs: artifacts(data.output_artifacts),
            credentials: data.artifact_credentials.map(|c| ArtifactCredentials {
                access_key_id: c.access_key_id,
                secret_access_key: Secret::new(c.secret_access_key),
                session_token: Secret::new(c.session_token),
            }),
            kms_key: data.encryption_key.map(|k| k.id),
            continuation: data.continuation_token.filter(|t| !t.is_empty()),
            context,
        })
    }
}

/// serde's message without the values it quotes: a string value (`invalid type: string "…"`)
/// and a number or other literal in backticks become `…`; a field name in backticks
/// (`missing field \`id\``) stays, it names what is wrong.
pub fn unquoted(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find(['`', '"']) {
        out.push_str(&rest[..at]);
        let quote = rest[at..].chars().next().expect("found");
        let inner = &rest[at + 1..];
        let Some(close) = inner.find(quote) else {
            out.push('…');
            return out;
        };
        let quoted = &inner[..close];
        let name = quote == '`'
            && quoted.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && quoted
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        out.push(quote);
        out.push_str(if name { quoted } else { "…" });
        out.push(quote);
        rest = &inner[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_event_job_is_read_and_its_credentials_never_print() {
        let event: Value = serde_json::json!({
            "id": "11111111-abcd-1111-abcd-111111abcdef",
            "accountId": "111111111111",
            "data": {
                "actionConfiguration": {"configuration": {
                    "FunctionName": "ecs-secrets", "UserParameters": "{\"cluster\":\"prod\"}"}},
                "inputArtifacts": [{"name": "Source", "revision": null, "location": {
                    "type": "S3", "s3Location": {"bucketName": "artifacts", "objectKey": "p/Source/abc.zip"}}}],
                "outputArtifacts": [],
                "artifactCredentials": {
                    "accessKeyId": "ASIAEXAMPLE", "secretAccessKey": "job-secret-canary-1",
                    "sessionToken": "job-token-canary-2"},
                "encryptionKey": {"id": "arn:aws:kms:us-east-1:111111111111:key/k", "type": "KMS"}
            }
        });
        let job = Job::parse(&event).unwrap();
        assert_eq!(
            job.user_parameters.as_deref(),
            Some("{\"cluster\":\"prod\"}")
        );
        assert_eq!(job.inputs[0].key, "p/Source/abc.zip");
        assert_eq!(
            job.kms_key.as_deref(),
            Some("arn:aws:kms:us-east-1:111111111111:key/k")
        );
        let printed = format!("{job:?}");
        assert!(!printed.contains("canary"), "{printed}");
    }

    #[test]
    fn serde_messages_keep_field_names_and_lose_values() {
        assert_eq!(
            unquoted("invalid type: string \"canary-value\", expected u64"),
            "invalid type: string \"…\", expected u64"
        );
        assert_eq!(unquoted("missing field `id`"), "missing field `id`");
        assert_eq!(
            unquoted("invalid value: integer `42`"),
            "invalid value: integer `…`"
        );
        assert_eq!(unquoted("broken \"tail"), "broken …");
    }

    #[test]
    fn a_job_of_the_wrong_shape_is_named_not_echoed() {
        let error = Job::parse(&serde_json::json!({"id": 7, "data": {}})).unwrap_err();
        assert!(error.contains("invalid type"), "{error}");
        assert!(!error.contains('7'), "{error}");
        let error = Job::parse(
            &serde_json::json!({"id": "j", "data": {"inputArtifacts": "canary-in-a-string"}}),
        )
        .unwrap_err();
        assert!(error.contains("invalid type: string"), "{error}");
        assert!(!error.contains("canary"), "{error}");
    }
}
