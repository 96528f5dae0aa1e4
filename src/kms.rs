//! KMS: the key that encrypts a secret or a parameter, as the key ARN that `kms:Decrypt` is
//! allowed on, and what the key's own policy says about the role. IAM authorises `kms:Decrypt` on
//! key ARNs, never on aliases, so an alias is resolved with `DescribeKey` (metadata only). AWS
//! managed keys (`alias/aws/…`) need no permission of the role's own. A customer managed key's
//! policy must name the role or let IAM policies of its account grant access (the "Enable IAM
//! User Permissions" statement); otherwise no identity policy helps.

use std::collections::HashMap;

use aws_sdk_kms::types::KeyManagerType;
use serde_json::Value;

use crate::aws::{self, Aws};
use crate::reference::Arn;

/// Resolves key ids to the ARN of the customer managed key, once per alias.
pub struct Keys<'a> {
    aws: &'a Aws,
    /// Alias ARN → the answer.
    resolved: HashMap<String, Result<Option<String>, String>>,
    /// The keys `DescribeKey` was asked about: their ARNs, or `*` where it did not answer.
    looked_up: Vec<String>,
    /// Key ARN → its key policy.
    policies: HashMap<String, Result<Value, String>>,
}

/// Where the encrypted secret or parameter lives: a key id or alias without an ARN is in its
/// account and Region.
pub struct Owner<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

/// Whether `id` names an alias, and whether that alias is an AWS managed key's.
fn alias_kind(id: &str) -> (bool, bool) {
    let alias = id.starts_with("alias/") || id.contains(":alias/");
    let managed = id.starts_with("alias/aws/") || id.contains(":alias/aws/");
    (alias, managed)
}

/// Whether `id` names an AWS managed key (`alias/aws/…`), which needs no permission of the role's
/// own and cannot be used from another account.
pub fn is_aws_managed(id: &str) -> bool {
    alias_kind(id).1
}

/// The full ARN of a key id or alias: what IAM and KMS know it by, whichever account asks.
fn full_arn(id: &str, owner: &Owner<'_>) -> String {
    if id.starts_with("arn:") || owner.account.is_empty() {
        return id.to_owned();
    }
    let resource = if id.starts_with("alias/") {
        id.to_owned()
    } else {
        format!("key/{id}")
    };
    format!(
        "arn:{}:kms:{}:{}:{resource}",
        owner.partition, owner.region, owner.account
    )
}

impl<'a> Keys<'a> {
    pub fn new(aws: &'a Aws) -> Self {
        Self {
            aws,
            resolved: HashMap::new(),
            looked_up: Vec::new(),
            policies: HashMap::new(),
        }
    }

    /// The key's policy (`GetKeyPolicy`, metadata only), once per key.
    pub async fn policy(&mut self, key_arn: &str) -> Result<Value, String> {
        if let Some(known) = self.policies.get(key_arn) {
            return known.clone();
        }
        let region = Arn::parse(key_arn).map(|a| a.region);
        let client = self.aws.kms(region);
        let answer = match client
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
            .await
        {
            Ok(output) => serde_json::from_str(output.policy().unwrap_or("{}"))
                .map_err(|e| format!("the key policy is not JSON: {e}")),
            Err(e) => Err(aws::describe(&e)),
        };
        self.policies.insert(key_arn.to_owned(), answer.clone());
        answer
    }

    /// The keys looked up by alias: their ARNs, or `*` for an alias that did not resolve.
    pub fn looked_up(&self) -> impl Iterator<Item = &str> {
        self.looked_up.iter().map(String::as_str)
    }

    /// The customer managed key ARN to check `kms:Decrypt` on; `None` for an AWS managed key;
    /// `Err` with the reason when an alias cannot be resolved.
    pub async fn customer_key(
        &mut self,
        key_id: Option<&str>,
        owner: &Owner<'_>,
    ) -> Result<Option<String>, String> {
        let Some(id) = key_id else {
            return Ok(None);
        };
        match alias_kind(id) {
            (_, true) => return Ok(None),
            (false, false) => return Ok(Some(full_arn(id, owner))),
            (true, false) => {}
        }
        // An alias is looked up in the account and Region of what it encrypts, by its ARN.
        let alias = full_arn(id, owner);
        if let Some(known) = self.resolved.get(&alias) {
            return known.clone();
        }
        let region = Arn::parse(&alias).map_or(owner.region, |a| a.region);
        let client = self.aws.kms(Some(region));
        let answer = match client.describe_key().key_id(&alias).send().await {
            Ok(output) => {
                let key = output.key_metadata();
                self.looked_up
                    .push(key.and_then(|k| k.arn()).unwrap_or("*").to_owned());
                match key {
                    Some(k) if k.key_manager() == Some(&KeyManagerType::Aws) => Ok(None),
                    Some(k) if k.arn().is_some() => Ok(k.arn().map(str::to_owned)),
                    _ => Err(format!("encrypted with `{id}`: DescribeKey named no key")),
                }
            }
            Err(e) => {
                self.looked_up.push("*".to_owned());
                let hint = if aws::code(&e).is_some_and(|c| c.contains("AccessDenied")) {
                    "; allow this run `kms:DescribeKey`"
                } else {
                    ""
                };
                Err(format!(
                    "encrypted with `{id}`, which cannot be resolved to a key ({}): `kms:Decrypt` is not checked{hint}",
                    aws::describe(&e)
                ))
            }
        };
        self.resolved.insert(alias, answer.clone());
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: Owner<'static> = Owner {
        partition: "aws-cn",
        region: "cn-north-1",
        account: "123456789012",
    };

    #[test]
    fn aliases_and_aws_managed_keys_are_told_apart() {
        assert_eq!(alias_kind("alias/app"), (true, false));
        assert_eq!(alias_kind("alias/aws/ssm"), (true, true));
        assert_eq!(
            alias_kind("arn:aws:kms:us-east-1:1:alias/aws/secretsmanager"),
            (true, true)
        );
        assert_eq!(
            alias_kind("arn:aws:kms:us-east-1:1:alias/app"),
            (true, false)
        );
        assert_eq!(
            alias_kind("1234abcd-12ab-34cd-56ef-1234567890ab"),
            (false, false)
        );
        assert_eq!(
            alias_kind("arn:aws:kms:us-east-1:1:key/1234abcd"),
            (false, false)
        );
    }

    #[test]
    fn ids_become_arns_in_the_owners_account_and_partition() {
        assert_eq!(
            full_arn("alias/app", &OWNER),
            "arn:aws-cn:kms:cn-north-1:123456789012:alias/app"
        );
        assert_eq!(
            full_arn("1234abcd", &OWNER),
            "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd"
        );
        let arn = "arn:aws:kms:eu-west-1:210987654321:alias/app";
        assert_eq!(full_arn(arn, &OWNER), arn);
    }
}
