//! Secrets Manager: `BatchGetSecretValue` (at most 20 ids, current versions), `GetSecretValue`
//! for pinned versions, `DescribeSecret` where only the ARN and version metadata are needed.

use std::collections::HashMap;

use aws_smithy_types::DateTime;

use crate::aws;
use crate::mask::Secret;

/// AWS's limit on ids in one `BatchGetSecretValue` call.
pub const BATCH: usize = 20;

/// A fetched secret value.
#[derive(Debug)]
pub struct Fetched {
    pub arn: String,
    pub value: Secret,
    /// When this version was created (epoch seconds).
    pub changed_at: Option<i64>,
}

/// What `DescribeSecret` tells without reading a value.
#[derive(Debug, Clone)]
pub struct Described {
    pub arn: String,
    /// Version id → its stages.
    pub versions: HashMap<String, Vec<String>>,
    /// When the secret last changed (epoch seconds).
    pub changed_at: Option<i64>,
    /// The KMS key that encrypts it, when not the AWS-managed default.
    pub kms_key_id: Option<String>,
}

const MISSING_ARN: &str = "the Secrets Manager response lacks the secret's ARN";
const BINARY: &str = "binary secrets are not supported; ECS reads only `SecretString`";

/// Fetches the current value of up to [`BATCH`] secrets. One result per requested id.
pub async fn batch_get(
    client: &aws_sdk_secretsmanager::Client,
    ids: &[String],
) -> Vec<(String, Result<Fetched, String>)> {
    debug_assert!(ids.len() <= BATCH);
    let output = match client
        .batch_get_secret_value()
        .set_secret_id_list(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(output) => output,
        Err(err) => {
            let reason = aws::describe(&err);
            return ids
                .iter()
                .map(|id| (id.clone(), Err(reason.clone())))
                .collect();
        }
    };
    ids.iter()
        .map(|id| {
            if let Some(error) = output.errors().iter().find(|e| e.secret_id() == Some(id)) {
                let reason = match (error.error_code(), error.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    _ => "the secret could not be read".to_owned(),
                };
                return (id.clone(), Err(reason));
            }
            let entry = output.secret_values().iter().find(|entry| {
                answers(
                    id,
                    entry.arn().unwrap_or_default(),
                    entry.name().unwrap_or_default(),
                )
            });
            let result = match entry {
                None => Err("secret missing from the BatchGetSecretValue response".to_owned()),
                Some(entry) => value(
                    entry.arn(),
                    entry.secret_string(),
                    entry.created_date().map(DateTime::secs),
                ),
            };
            (id.clone(), result)
        })
        .collect()
}

/// Fetches one pinned version (by stage or by id).
pub async fn get(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    stage: Option<&str>,
    version_id: Option<&str>,
) -> Result<Fetched, String> {
    let output = client
        .get_secret_value()
        .secret_id(id)
        .set_version_stage(stage.map(str::to_owned))
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await
        .map_err(|err| aws::describe(&err))?;
    value(
        output.arn(),
        output.secret_string(),
        output.created_date().map(DateTime::secs),
    )
}

fn value(
    arn: Option<&str>,
    secret_string: Option<&str>,
    changed_at: Option<i64>,
) -> Result<Fetched, String> {
    match (arn, secret_string) {
        (Some(arn), Some(value)) => Ok(Fetched {
            arn: arn.to_owned(),
            value: Secret::new(value),
            changed_at,
        }),
        (None, _) => Err(MISSING_ARN.to_owned()),
        (Some(_), None) => Err(BINARY.to_owned()),
    }
}

/// Reads a secret's metadata: its ARN and versions. Reads no value.
pub async fn describe(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<Described, String> {
    let output = client
        .describe_secret()
        .secret_id(id)
        .send()
        .await
        .map_err(|err| aws::describe(&err))?;
    if output.deleted_date().is_some() {
        return Err("the secret is scheduled for deletion; ECS cannot read it".to_owned());
    }
    Ok(Described {
        arn: output.arn().ok_or(MISSING_ARN)?.to_owned(),
        versions: output.version_ids_to_stages().cloned().unwrap_or_default(),
        changed_at: output.last_changed_date().map(DateTime::secs),
        kms_key_id: output.kms_key_id().map(str::to_owned),
    })
}

/// Reads a secret's resource policy (`GetResourcePolicy`, metadata only); `None` when it has none.
pub async fn resource_policy(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<Option<serde_json::Value>, String> {
    let output = client
        .get_resource_policy()
        .secret_id(id)
        .send()
        .await
        .map_err(|err| aws::describe(&err))?;
    output
        .resource_policy()
        .map(|text| {
            serde_json::from_str(text).map_err(|e| format!("the resource policy is not JSON: {e}"))
        })
        .transpose()
}

/// Whether a response entry with this ARN and name answers a request for `id` (a name, a full
/// ARN, or a partial ARN without the 6-character suffix).
fn answers(id: &str, arn: &str, name: &str) -> bool {
    id == arn
        || id == name
        || (arn.len() == id.len() + 7 && arn.starts_with(id) && arn.as_bytes()[id.len()] == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_answers_name_full_arn_and_partial_arn() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";
        assert!(answers("prod/db", arn, "prod/db"));
        assert!(answers(arn, arn, "prod/db"));
        assert!(answers(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db",
            arn,
            "prod/db"
        ));
        assert!(!answers("prod/d", arn, "prod/db"));
    }
}
