//! Secrets Manager: `BatchGetSecretValue` (at most 20 ids, current versions), `GetSecretValue`
//! for pinned versions, `DescribeSecret` and `GetResourcePolicy` (metadata only), `ListSecrets`.

use std::collections::HashMap;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use aws_smithy_types::DateTime;

use super::Failure;
use crate::mask::Secret;

const SERVICE: &str = "Secrets Manager";

/// AWS's limit on values in one `ListSecrets` filter (the API reference: `Filter.Values`, at most
/// 10 items).
pub const NAMES_PER_LIST: usize = 10;

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
    /// Its tags: (key, value).
    pub tags: Vec<(String, String)>,
}

fn missing_arn() -> Failure {
    Failure::answer(
        SERVICE,
        "the Secrets Manager response lacks the secret's ARN",
    )
}

/// Fetches the current value of up to [`BATCH`] secrets. One result per requested id.
pub async fn batch_get(
    client: &aws_sdk_secretsmanager::Client,
    ids: &[String],
) -> Vec<(String, Result<Fetched, Failure>)> {
    debug_assert!(ids.len() <= BATCH);
    let output = match client
        .batch_get_secret_value()
        .set_secret_id_list(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(output) => output,
        Err(err) => {
            let failure = Failure::of(SERVICE, &err);
            return ids
                .iter()
                .map(|id| (id.clone(), Err(failure.clone())))
                .collect();
        }
    };
    ids.iter()
        .map(|id| {
            if let Some(error) = output.errors().iter().find(|e| e.secret_id() == Some(id)) {
                let failure = Failure::reported(SERVICE, error.error_code(), error.message());
                return (id.clone(), Err(failure));
            }
            let entry = output.secret_values().iter().find(|entry| {
                answers(
                    id,
                    entry.arn().unwrap_or_default(),
                    entry.name().unwrap_or_default(),
                )
            });
            let result = match entry {
                None => Err(Failure::answer(
                    SERVICE,
                    "secret missing from the BatchGetSecretValue response",
                )),
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

/// Fetches one pinned version (by stage or by id), or the current one.
pub async fn get(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    stage: Option<&str>,
    version_id: Option<&str>,
) -> Result<Fetched, Failure> {
    let output = client
        .get_secret_value()
        .secret_id(id)
        .set_version_stage(stage.map(str::to_owned))
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
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
) -> Result<Fetched, Failure> {
    match (arn, secret_string) {
        (Some(arn), Some(value)) => Ok(Fetched {
            arn: arn.to_owned(),
            value: Secret::new(value),
            changed_at,
        }),
        (None, _) => Err(missing_arn()),
        (Some(_), None) => Err(Failure::answer(
            SERVICE,
            "binary secrets are not supported; ECS reads only `SecretString`",
        )),
    }
}

/// The metadata of up to [`NAMES_PER_LIST`] secrets given by name, in one `ListSecrets` call
/// (more pages only when prefixes match many): what `DescribeSecret` tells, for many secrets a
/// call, but up to five minutes old (the API reference): used for ARNs only, where that is
/// harmless (an ARN never changes). The name filter matches prefixes, so only exact names are kept. A name the list does
/// not return (`ListSecrets` is eventually consistent; a secret scheduled for deletion is left
/// out; the call may be refused) is described on its own. One result per name.
pub async fn describe_by_names(
    client: &aws_sdk_secretsmanager::Client,
    names: &[String],
) -> Vec<(String, Result<Described, Failure>)> {
    debug_assert!(names.len() <= NAMES_PER_LIST);
    let mut found: HashMap<String, Described> = HashMap::new();
    let filter = Filter::builder()
        .key(FilterNameStringType::Name)
        .set_values(Some(names.to_vec()))
        .build();
    let mut pages = client
        .list_secrets()
        .filters(filter)
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Ok(page) = page else {
            // Refused or failed: every name is described on its own below.
            break;
        };
        for entry in page.secret_list() {
            let (Some(name), Some(arn)) = (entry.name(), entry.arn()) else {
                continue;
            };
            if !names.iter().any(|n| n == name) || entry.deleted_date().is_some() {
                continue;
            }
            found.insert(
                name.to_owned(),
                Described {
                    arn: arn.to_owned(),
                    versions: entry
                        .secret_versions_to_stages()
                        .cloned()
                        .unwrap_or_default(),
                    changed_at: entry.last_changed_date().map(DateTime::secs),
                    kms_key_id: entry.kms_key_id().map(str::to_owned),
                    tags: tag_pairs(entry.tags()),
                },
            );
        }
        if found.len() == names.len() {
            break;
        }
    }
    let mut results = Vec::with_capacity(names.len());
    for name in names {
        let result = match found.remove(name) {
            Some(described) => Ok(described),
            None => describe(client, name).await,
        };
        results.push((name.clone(), result));
    }
    results
}

/// A secret's tags as (key, value) pairs.
fn tag_pairs(tags: &[aws_sdk_secretsmanager::types::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

/// Reads a secret's metadata: its ARN and versions. Reads no value.
pub async fn describe(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<Described, Failure> {
    let output = client
        .describe_secret()
        .secret_id(id)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    if output.deleted_date().is_some() {
        return Err(Failure::answer(
            SERVICE,
            "the secret is scheduled for deletion; ECS cannot read it",
        ));
    }
    Ok(Described {
        arn: output.arn().ok_or_else(missing_arn)?.to_owned(),
        versions: output.version_ids_to_stages().cloned().unwrap_or_default(),
        changed_at: output.last_changed_date().map(DateTime::secs),
        kms_key_id: output.kms_key_id().map(str::to_owned),
        tags: tag_pairs(output.tags()),
    })
}

/// Reads a secret's resource policy (`GetResourcePolicy`, metadata only); `None` when it has none.
pub async fn resource_policy(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<Option<serde_json::Value>, Failure> {
    let output = client
        .get_resource_policy()
        .secret_id(id)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    output
        .resource_policy()
        .map(|text| {
            serde_json::from_str(text).map_err(|e| {
                Failure::answer(SERVICE, format!("the resource policy is not JSON: {e}"))
            })
        })
        .transpose()
}

/// The names of the secrets whose name starts with `prefix` (`ListSecrets`, every page).
pub async fn names_starting_with(
    client: &aws_sdk_secretsmanager::Client,
    prefix: &str,
) -> Result<Vec<String>, Failure> {
    let filter = Filter::builder()
        .key(FilterNameStringType::Name)
        .values(prefix)
        .build();
    let mut names = list_names(client, Some(filter)).await?;
    // The filter matches words anywhere in the name: keep true prefixes.
    names.retain(|n| n.starts_with(prefix));
    Ok(names)
}

/// The names of every secret of the account in the client's Region (`ListSecrets`, every page).
pub async fn all_names(client: &aws_sdk_secretsmanager::Client) -> Result<Vec<String>, Failure> {
    list_names(client, None).await
}

/// The names of the secrets `filter` selects (all, without one), every `ListSecrets` page.
async fn list_names(
    client: &aws_sdk_secretsmanager::Client,
    filter: Option<Filter>,
) -> Result<Vec<String>, Failure> {
    let mut pages = client
        .list_secrets()
        .set_filters(filter.map(|f| vec![f]))
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| Failure::of(SERVICE, &err))?;
        names.extend(
            page.secret_list()
                .iter()
                .filter_map(|s| s.name())
                .map(str::to_owned),
        );
    }
    Ok(names)
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
    use crate::aws::Kind;
    use crate::aws::replay::{block_on, config};

    #[test]
    fn a_batch_answer_gives_one_result_per_id_with_errors_in_it_failures() {
        let answer = r#"{
            "SecretValues": [
                {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:app/db-AbCdEf", "Name": "app/db",
                 "SecretString": "v1", "CreatedDate": 1700000000},
                {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:bin-XyZabc", "Name": "bin",
                 "SecretBinary": "AAEC"}
            ],
            "Errors": [{"SecretId": "gone", "ErrorCode": "ResourceNotFoundException",
                        "Message": "Secrets Manager can't find the specified secret."}]
        }"#;
        let client = aws_sdk_secretsmanager::Client::new(&config(&[(200, answer)]));
        let ids = [
            "arn:aws:secretsmanager:us-east-1:1:secret:app/db".to_owned(),
            "gone".to_owned(),
            "bin".to_owned(),
            "absent".to_owned(),
        ];
        let results = block_on(batch_get(&client, &ids));
        let fetched = results[0].1.as_ref().unwrap();
        assert_eq!(
            fetched.value.expose(),
            "v1",
            "a partial ARN finds its secret"
        );
        assert_eq!(fetched.changed_at, Some(1_700_000_000));
        let gone = results[1].1.as_ref().unwrap_err();
        assert!(gone.is(Kind::NotFound));
        assert_eq!(
            gone.to_string(),
            "ResourceNotFoundException: Secrets Manager can't find the specified secret."
        );
        assert!(
            results[2]
                .1
                .as_ref()
                .unwrap_err()
                .to_string()
                .starts_with("binary secrets")
        );
        assert!(
            results[3]
                .1
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("missing from")
        );
    }

    #[test]
    fn a_refused_batch_fails_every_id_with_the_service_s_words() {
        let answer = r#"{"__type": "AccessDeniedException", "message": "not authorized"}"#;
        let client = aws_sdk_secretsmanager::Client::new(&config(&[(400, answer)]));
        let ids = ["a".to_owned(), "b".to_owned()];
        for (_, result) in block_on(batch_get(&client, &ids)) {
            let failure = result.unwrap_err();
            assert!(failure.is(Kind::Denied));
            assert_eq!(failure.to_string(), "AccessDeniedException: not authorized");
        }
    }

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
