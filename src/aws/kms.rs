//! KMS: the key behind an alias (`DescribeKey`) and a key's policy (`GetKeyPolicy`).

use serde_json::{Value, json};

use super::Failure;
use super::call::Client;

const SERVICE: &str = "KMS";

/// What `DescribeKey` tells: the key's ARN, whether AWS manages it, and its state (`Enabled`,
/// `Disabled`, `PendingDeletion`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub arn: Option<String>,
    pub aws_managed: bool,
    pub state: Option<String>,
}

pub async fn describe_key(client: &Client, id: &str) -> Result<Key, Failure> {
    let output = client.call("DescribeKey", &json!({ "KeyId": id })).await?;
    let key = &output["KeyMetadata"];
    Ok(Key {
        arn: key["Arn"].as_str().map(str::to_owned),
        aws_managed: key["KeyManager"] == "AWS",
        state: key["KeyState"].as_str().map(str::to_owned),
    })
}

/// The key's default policy, parsed.
pub async fn key_policy(client: &Client, key_arn: &str) -> Result<Value, Failure> {
    let output = client
        .call(
            "GetKeyPolicy",
            &json!({ "KeyId": key_arn, "PolicyName": "default" }),
        )
        .await?;
    serde_json::from_str(output["Policy"].as_str().unwrap_or("{}"))
        .map_err(|e| Failure::answer(SERVICE, format!("the key policy is not JSON: {e}")))
}
