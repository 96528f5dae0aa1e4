//! KMS: the key that encrypts a secret or a parameter, as the key ARN that `kms:Decrypt` is
//! allowed on. IAM authorises `kms:Decrypt` on key ARNs, never on aliases, so an alias is
//! resolved with `DescribeKey` (metadata only). AWS managed keys (`alias/aws/…`) need no
//! permission of the role's own.

use std::collections::HashMap;

use aws_sdk_kms::types::KeyManagerType;

use crate::aws::{self, Aws};

/// Resolves key ids to the ARN of the customer managed key, once per key id and Region.
pub struct Keys<'a> {
    aws: &'a Aws,
    resolved: HashMap<(String, String), Result<Option<String>, String>>,
}

/// Where the encrypted secret or parameter lives: a key id without an ARN is in its account.
pub struct Owner<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> Keys<'a> {
    pub fn new(aws: &'a Aws) -> Self {
        Self {
            aws,
            resolved: HashMap::new(),
        }
    }

    /// The customer managed key ARN to check `kms:Decrypt` on; `None` for the default AWS
    /// managed key; `Err` with the reason when an alias cannot be resolved.
    /// The keys looked up by alias: their ARNs, or `*` for an alias that did not resolve.
    pub fn looked_up(&self) -> impl Iterator<Item = &str> {
        self.resolved.values().map(|answer| match answer {
            Ok(Some(arn)) => arn.as_str(),
            Ok(None) | Err(_) => "*",
        })
    }

    pub async fn customer_key(
        &mut self,
        key_id: Option<&str>,
        owner: &Owner<'_>,
    ) -> Result<Option<String>, String> {
        let Some(id) = key_id else {
            return Ok(None);
        };
        let alias = id.starts_with("alias/") || id.contains(":alias/");
        if id.starts_with("alias/aws/") || id.contains(":alias/aws/") {
            return Ok(None);
        }
        if !alias {
            return Ok(Some(if id.starts_with("arn:") {
                id.to_owned()
            } else {
                format!(
                    "arn:{}:kms:{}:{}:key/{id}",
                    owner.partition, owner.region, owner.account
                )
            }));
        }
        let cache_key = (owner.region.to_owned(), id.to_owned());
        if let Some(known) = self.resolved.get(&cache_key) {
            return known.clone();
        }
        let client = self.aws.kms(Some(owner.region));
        let answer = match client.describe_key().key_id(id).send().await {
            Ok(output) => match output.key_metadata() {
                Some(key) if key.key_manager() == Some(&KeyManagerType::Aws) => Ok(None),
                Some(key) => Ok(key.arn().map(str::to_owned)),
                None => Err(format!(
                    "encrypted with `{id}`: DescribeKey returned no key"
                )),
            },
            Err(e) => Err(format!(
                "encrypted with `{id}`, which cannot be resolved to a key ({}): `kms:Decrypt` is not checked; allow this run `kms:DescribeKey`",
                aws::describe(&e)
            )),
        };
        self.resolved.insert(cache_key, answer.clone());
        answer
    }
}
