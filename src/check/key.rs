//! The KMS key that encrypts a secret or a SecureString: an alias resolved to its key (IAM
//! allows `kms:Decrypt` on key ARNs only), the key policy read, and the role's `kms:Decrypt`
//! checked where the key policy leaves that to IAM. AWS managed keys need no permission of the
//! role's own.

use std::collections::HashMap;

use serde_json::Value;

use super::permission::Granted;
use super::report::{Report, Status};
use super::{Checker, this_run_needs};
use crate::aws::{self, Aws, Failure, Kind};
use crate::iam::{self, Allows, Role};
use crate::reference::Arn;

/// Keys and key policies read in this run, once each.
pub(super) struct Keys<'a> {
    aws: &'a Aws,
    /// Key or alias ARN → what `DescribeKey` answered.
    described: HashMap<String, Result<aws::kms::Key, Failure>>,
    /// What `DescribeKey` was asked about, for `policy --preflight`.
    looked_up: Vec<String>,
    policies: HashMap<String, Result<Value, Failure>>,
}

/// A customer managed key that encrypts a secret or parameter, and its state as `DescribeKey`
/// tells it (or why it could not).
#[derive(Debug, Clone)]
pub(super) struct CustomerKey {
    pub arn: String,
    pub state: Result<Option<String>, Failure>,
}

/// Whose key an id without an ARN is: the partition, Region and account of what it encrypts.
pub(super) struct Owner<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

/// (is an alias, is an AWS managed alias).
fn alias_kind(id: &str) -> (bool, bool) {
    let alias = id.starts_with("alias/") || id.contains(":alias/");
    let managed = id.starts_with("alias/aws/") || id.contains(":alias/aws/");
    (alias, managed)
}

pub(super) fn is_aws_managed(id: &str) -> bool {
    alias_kind(id).1
}

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
            described: HashMap::new(),
            looked_up: Vec::new(),
            policies: HashMap::new(),
        }
    }

    /// The key's policy, read once.
    pub async fn policy(&mut self, key_arn: &str) -> Result<Value, Failure> {
        if let Some(known) = self.policies.get(key_arn) {
            return known.clone();
        }
        let client = self.aws.kms(Arn::parse(key_arn).map(|a| a.region));
        let answer = aws::kms::key_policy(&client, key_arn).await;
        self.policies.insert(key_arn.to_owned(), answer.clone());
        answer
    }

    pub fn looked_up(&self) -> impl Iterator<Item = &str> {
        self.looked_up.iter().map(String::as_str)
    }

    /// `DescribeKey` of a key or alias ARN, asked once.
    async fn describe(&mut self, arn: &str, region: &str) -> Result<aws::kms::Key, Failure> {
        if let Some(known) = self.described.get(arn) {
            return known.clone();
        }
        let answer = aws::kms::describe_key(&self.aws.kms(Some(region)), arn).await;
        let asked = match &answer {
            Ok(aws::kms::Key { arn: Some(key), .. }) => key.clone(),
            // An alias that cannot be resolved names no key yet.
            _ if alias_kind(arn).0 => "*".to_owned(),
            _ => arn.to_owned(),
        };
        if !self.looked_up.contains(&asked) {
            self.looked_up.push(asked);
        }
        self.described.insert(arn.to_owned(), answer.clone());
        answer
    }

    /// The customer managed key behind `key_id` (an id, an ARN or an alias) and its state,
    /// `None` for an AWS managed key (or none at all), or why an alias cannot be resolved.
    pub async fn customer_key(
        &mut self,
        key_id: Option<&str>,
        owner: &Owner<'_>,
    ) -> Result<Option<CustomerKey>, String> {
        let Some(id) = key_id else {
            return Ok(None);
        };
        let (alias, aws_managed) = alias_kind(id);
        if aws_managed {
            return Ok(None);
        }
        let arn = full_arn(id, owner);
        let region = Arn::parse(&arn)
            .map_or(owner.region, |a| a.region)
            .to_owned();
        match self.describe(&arn, &region).await {
            Ok(aws::kms::Key {
                aws_managed: true, ..
            }) => Ok(None),
            Ok(aws::kms::Key {
                arn: Some(key),
                state,
                ..
            }) => Ok(Some(CustomerKey {
                arn: key,
                state: Ok(state),
            })),
            Ok(aws::kms::Key { arn: None, .. }) => {
                Err(format!("encrypted with `{id}`: DescribeKey named no key"))
            }
            // A key named by id or ARN is known without DescribeKey; only its state is not.
            Err(failure) if !alias => Ok(Some(CustomerKey {
                arn,
                state: Err(failure),
            })),
            Err(failure) => {
                let hint = if failure.is(Kind::Denied) {
                    "; allow this run `kms:DescribeKey`"
                } else {
                    ""
                };
                Err(format!(
                    "encrypted with `{id}`, which cannot be resolved to a key ({failure}): `kms:Decrypt` is not checked{hint}"
                ))
            }
        }
    }
}

impl Checker<'_> {
    /// The key that encrypts a secret or parameter: resolved to a customer managed key, its
    /// state, its key policy, and the role's `kms:Decrypt` on it where the key policy leaves
    /// that to IAM. `via` is the service that decrypts on the role's behalf.
    pub(super) async fn key(&mut self, key_id: Option<&str>, owner: &Owner<'_>, via: &str) {
        let key = match self.keys.customer_key(key_id, owner).await {
            Ok(Some(key)) => key,
            Ok(None) => return,
            Err(reason) => {
                self.missing("the key that encrypts it cannot be resolved");
                return self.report.push(Status::Skip, 1, reason);
            }
        };
        let CustomerKey { arn: key, state } = key;
        if !key_state(&mut self.report, &key, via, &state) {
            self.missing("the key that encrypts it does not exist");
            return;
        }
        let report = &mut self.report;
        let Some(role) = self.permissions.role else {
            return self
                .permissions
                .verdict_via(report, "kms:Decrypt", &key, Some(via), None)
                .await;
        };
        // The role's account is the one the check runs for.
        let role_account = self.account.as_str();
        let key_account = Arn::parse(&key).map_or("", |a| a.account).to_owned();
        if key_account != role_account {
            // GetKeyPolicy works in the key's own account only.
            report.push(
                Status::Skip,
                1,
                format!("the key policy of `{key}` (account {key_account}) cannot be read from account {role_account}: that it lets account {role_account} decrypt is not evaluated"),
            );
            return self
                .permissions
                .verdict_via(report, "kms:Decrypt", &key, Some(via), None)
                .await;
        }
        report.read("kms:GetKeyPolicy", &key);
        let granted = match self.keys.policy(&key).await {
            Err(failure) => unread_key_policy(report, &key, via, &failure),
            Ok(policy) => {
                let context = iam::context::request(role, &key, Some(via));
                let verdict =
                    iam::resource_verdict(&policy, "kms:Decrypt", &key, &role.arn, &context);
                key_policy_findings(report, &key, via, role, role_account, verdict)
            }
        };
        if let Some(granted) = granted {
            self.permissions
                .verdict_via(report, "kms:Decrypt", &key, Some(via), Some(&granted))
                .await;
        }
    }
}

/// What the key's state means for decrypting at task start: a key that does not exist ends the
/// checks of it (`false`); a disabled key, or one pending deletion, without key material or
/// unavailable, fails with the fix; a state that could not be read or was not told is a skip.
fn key_state(
    report: &mut Report,
    key: &str,
    via: &str,
    state: &Result<Option<String>, Failure>,
) -> bool {
    let region = Arn::parse(key).map_or("", |a| a.region);
    let cli = |verb: &str| format!("`aws kms {verb} --key-id {key} --region {region}`");
    let state = match state {
        Err(failure) if failure.is(Kind::NotFound) => {
            report.need("kms:Decrypt", key, Some(via));
            report.fail(
                1,
                format!("the key `{key}` that encrypts it does not exist ({failure})"),
                "encrypt it with a key that exists, or restore the key",
            );
            return false;
        }
        Err(failure) => {
            report.skip_because(
                format!("the state of the key `{key}` cannot be read ({failure}): that it is enabled is not checked"),
                failure
                    .is(Kind::Denied)
                    .then(|| this_run_needs("kms:DescribeKey on the key")),
            );
            return true;
        }
        Ok(None) => {
            report.push(
                Status::Skip,
                1,
                format!("DescribeKey did not tell the state of the key `{key}`: that it is enabled is not checked"),
            );
            return true;
        }
        Ok(Some(state)) => state.as_str(),
    };
    let (problem, fix) = match state {
        "Enabled" => return true,
        "Disabled" => (
            "is disabled: ECS cannot decrypt with it when a task starts".to_owned(),
            format!("enable the key: {}", cli("enable-key")),
        ),
        "PendingDeletion" | "PendingReplicaDeletion" => (
            format!(
                "is scheduled for deletion (`{state}`): ECS cannot decrypt with it when a task starts, and what it encrypts is lost once it is deleted"
            ),
            format!(
                "cancel the deletion, then enable the key: {} and {}",
                cli("cancel-key-deletion"),
                cli("enable-key")
            ),
        ),
        "PendingImport" => (
            "has no key material (`PendingImport`): ECS cannot decrypt with it".to_owned(),
            "import the key material into the key".to_owned(),
        ),
        "Unavailable" => (
            "is unavailable (`Unavailable`): its custom key store is disconnected".to_owned(),
            "connect the custom key store of the key".to_owned(),
        ),
        other => {
            report.push(
                Status::Warn,
                1,
                format!("the key `{key}` that encrypts it is in state `{other}`"),
            );
            return true;
        }
    };
    report.fail(
        1,
        format!("the key `{key}` that encrypts it {problem}"),
        fix,
    );
    true
}

/// A key policy that could not be read: a key that does not exist fails; otherwise the policy
/// is not evaluated and may or may not grant it.
fn unread_key_policy(
    report: &mut Report,
    key: &str,
    via: &str,
    failure: &Failure,
) -> Option<Granted<'static>> {
    if failure.is(Kind::NotFound) {
        report.need("kms:Decrypt", key, Some(via));
        report.fail(
            1,
            format!("the key `{key}` that encrypts it does not exist ({failure})"),
            "encrypt it with a key that exists, or restore the key",
        );
        return None;
    }
    report.skip_because(
        format!("the key policy of `{key}` cannot be read ({failure}): it is not evaluated"),
        failure
            .is(Kind::Denied)
            .then(|| this_run_needs("kms:GetKeyPolicy on the key")),
    );
    Some(Granted {
        by: "its key policy",
        to_role: Allows::Unknown,
        delegates: true,
    })
}

/// What a key policy that was read says about the role, as findings: the grant it leaves for
/// the role's own policies to complete, or `None` when it settles the question (a Deny, or no
/// way at all for the role to decrypt).
fn key_policy_findings(
    report: &mut Report,
    key: &str,
    via: &str,
    role: &Role,
    role_account: &str,
    verdict: iam::Verdict,
) -> Option<Granted<'static>> {
    let (name, role_arn) = (&role.name, &role.arn);
    if let Some(deny) = verdict.denied {
        report.need("kms:Decrypt", key, Some(via));
        let sid = deny.sid();
        report.fail(
            1,
            format!(
                "the key policy of `{key}` {} (statement `{sid}`)",
                deny.describe(name, "kms:Decrypt")
            ),
            format!("remove or narrow statement `{sid}` of the key policy of `{key}`"),
        );
        return None;
    }
    if !verdict.allows_at_all() {
        report.need("kms:Decrypt", key, Some(via));
        report.fail(
            1,
            format!("the key policy of `{key}` neither names `{name}` nor lets IAM policies of account {role_account} grant `kms:Decrypt`, so no identity policy can"),
            format!(
                r#"add to the key policy of `{key}`: {{"Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":"kms:Decrypt","Resource":"*"}}"#
            ),
        );
        return None;
    }
    if let Some(deny) = &verdict.may_deny {
        report.push(
            Status::Warn,
            1,
            format!(
                "statement `{}` of the key policy of `{key}` {}",
                deny.sid(),
                deny.describe(name, "kms:Decrypt")
            ),
        );
    }
    match &verdict.to_account {
        Allows::Yes => report.push(
            Status::Ok,
            1,
            format!("the key policy of `{key}` lets IAM policies grant `{name}` `kms:Decrypt`"),
        ),
        Allows::If { sid, unknown } => report.push(
            Status::Warn,
            1,
            format!(
                "the key policy of `{key}` lets IAM policies grant `kms:Decrypt` only if {} of statement `{sid}` holds, which is not known before the task starts",
                iam::keys(unknown)
            ),
        ),
        // A read policy is never unknown.
        Allows::No | Allows::Unknown => {}
    }
    Some(Granted {
        by: "its key policy",
        delegates: verdict.to_account != Allows::No,
        to_role: verdict.to_role,
    })
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

    fn role() -> Role {
        Role {
            arn: "arn:aws:iam::123456789012:role/exec".into(),
            name: "exec".into(),
            trust: Value::Null,
            statements: Vec::new(),
            boundary: None,
            boundary_unread: None,
            tags: Vec::new(),
        }
    }

    const VIA: &str = "secretsmanager.us-east-1.amazonaws.com";

    fn context(key: &str) -> iam::Context {
        iam::context::request(&role(), key, Some(VIA))
    }

    #[test]
    fn a_key_policy_that_leaves_the_role_out_fails_and_one_that_delegates_grants() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/k";
        let silent: Value = serde_json::from_str(r#"{"Statement":[]}"#).unwrap();
        let mut report = Report::default();
        let verdict =
            iam::resource_verdict(&silent, "kms:Decrypt", key, &role().arn, &context(key));
        assert!(
            key_policy_findings(&mut report, key, VIA, &role(), "123456789012", verdict).is_none()
        );
        assert_eq!(report.failed(), 1);
        let root: Value = serde_json::from_str(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}"#,
        )
        .unwrap();
        let mut report = Report::default();
        let verdict = iam::resource_verdict(&root, "kms:Decrypt", key, &role().arn, &context(key));
        let granted =
            key_policy_findings(&mut report, key, VIA, &role(), "123456789012", verdict).unwrap();
        assert!(granted.delegates);
        assert_eq!(report.findings[0].status, Status::Ok);
    }
}
