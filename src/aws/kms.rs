//! KMS: the key behind an alias (`DescribeKey`) and a key's policy (`GetKeyPolicy`).

use aws_sdk_kms::types::KeyManagerType;
use serde_json::Value;

use super::Failure;

const SERVICE: &str = "KMS";

/// What `DescribeKey` tells: the key's ARN, whether AWS manages it, and its state (`Enabled`,
/// `Disabled`, `PendingDeletion`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub arn: Option<String>,
    pub aws_managed: bool,
    pub state: Option<String>,
}

pub async fn describe_key(client: &aws_sdk_kms::Client, id: &str) -> Result<Key, Failure> {
    let output = client
        .describe_key()
        .key_id(id)
        .send()
        .await
        .map_err(|e| Failure::of(SERVICE, &e))?;
    let key = output.key_metadata();
    Ok(Key {
        arn: key.and_then(|k| k.arn()).map(str::to_owned),
        aws_managed: key.and_then(|k| k.key_manager()) == Some(&KeyManagerType::Aws),
        state: key
            .and_then(|k| k.key_state())
            .map(|s| s.as_str().to_owned()),
    })
}

/// The key's default policy, parsed.
pub async fn key_policy(client: &aws_sdk_kms::Client, key_arn: &str) -> Result<Value, Failure> {
    let output = client
        .get_key_policy()
        .key_id(key_arn)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| Failure::of(SERVICE, &e))?;
    serde_json::from_str(output.policy().unwrap_or("{}"))
        .map_err(|e| Failure::answer(SERVICE, format!("the key policy is not JSON: {e}")))
}
