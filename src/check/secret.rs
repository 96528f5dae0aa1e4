//! A Secrets Manager reference: the secret exists (its version too), its JSON key when values
//! may be read, its resource policy, the role's permission, and the key that encrypts it.

use serde_json::Value;

use super::permission::Granted;
use super::report::Status;
use super::{Checker, fix_for, key, this_run_needs};
use crate::aws::{Kind, secretsmanager};
use crate::iam::{self, Allows};
use crate::reference::{self, Arn, SecretId};

pub(super) const GET_SECRET_VALUE: &str = "secretsmanager:GetSecretValue";

impl Checker<'_> {
    /// A secret: described (its version too), its JSON key when asked, the role's permission,
    /// and its key.
    pub(super) async fn secret(&mut self, secret: &SecretId, arn: &Arn<'_>) {
        let pattern = if reference::has_random_suffix(&secret.id) {
            secret.id.clone()
        } else {
            format!("{}-??????", secret.id)
        };
        self.report.read("secretsmanager:DescribeSecret", &pattern);
        if !self.described.contains_key(&secret.id) {
            let client = self.aws.secretsmanager(Some(arn.region));
            let found = secretsmanager::describe(&client, &secret.id).await;
            self.described.insert(secret.id.clone(), found);
        }
        let described = self.described[&secret.id].clone();
        let metadata = match described {
            Err(failure) => {
                let fix = fix_for(
                    &failure,
                    "secretsmanager:DescribeSecret on the secret",
                    "check the ARN and the Region in `valueFrom`",
                );
                return self.report.fail(
                    1,
                    format!("the secret cannot be described: {failure}"),
                    fix,
                );
            }
            Ok(metadata) => metadata,
        };
        self.permissions
            .resource_tags
            .insert(metadata.arn.clone(), metadata.tags.clone());
        self.version(secret, &metadata);
        if let Some(key) = &secret.json_key {
            self.json_key(secret, arn, key).await;
        }
        if let Some(granted) = self.resource_policy(&secret.id, &metadata, arn).await {
            self.permissions
                .verdict_via(
                    &mut self.report,
                    GET_SECRET_VALUE,
                    &metadata.arn,
                    None,
                    granted.as_ref(),
                )
                .await;
        } else {
            self.report.need(GET_SECRET_VALUE, &metadata.arn, None);
        }
        self.secret_key(&metadata, arn).await;
    }

    fn version(&mut self, secret: &SecretId, metadata: &secretsmanager::Described) {
        let version_ok = match (&secret.version_stage, &secret.version_id) {
            (Some(stage), _) => metadata.versions.values().flatten().any(|s| s == stage),
            (_, Some(id)) => metadata.versions.contains_key(id),
            _ => true,
        };
        if version_ok {
            self.report.push(
                Status::Ok,
                1,
                format!("the secret exists ({})", metadata.arn),
            );
        } else {
            self.report.fail(
                1,
                "the secret has no such version stage or version id",
                "fix the version part of `valueFrom`",
            );
        }
    }

    /// The key that encrypts the secret; the AWS managed key cannot serve another account.
    async fn secret_key(&mut self, metadata: &secretsmanager::Described, arn: &Arn<'_>) {
        let aws_managed = metadata
            .kms_key_id
            .as_deref()
            .is_none_or(key::is_aws_managed);
        if self.other_account(arn.account) && aws_managed {
            return self.report.fail(
                1,
                format!(
                    "the secret is in account {}, the role in {}, and it is encrypted with the AWS managed key, which no other account can use",
                    arn.account, self.account
                ),
                format!(
                    "encrypt the secret with a customer managed key whose key policy lets account {} decrypt",
                    self.account
                ),
            );
        }
        let owner = key::Owner {
            partition: arn.partition,
            region: arn.region,
            account: arn.account,
        };
        let via = format!("secretsmanager.{}.amazonaws.com", arn.region);
        self.key(metadata.kms_key_id.as_deref(), &owner, &via).await;
    }

    /// The secret's resource policy: a Deny in it wins; in the secret's account, one that names
    /// the role is enough; from another account, it must allow the role or its account (and the
    /// role's own policies too). `None` when a Deny settles the question; otherwise what it
    /// grants to the role itself, when that can stand in for the role's own policies.
    async fn resource_policy(
        &mut self,
        secret_id: &str,
        metadata: &secretsmanager::Described,
        arn: &Arn<'_>,
    ) -> Option<Option<Granted<'static>>> {
        let secret_arn = metadata.arn.as_str();
        let role = self.permissions.role?;
        self.report
            .read("secretsmanager:GetResourcePolicy", secret_arn);
        let policy = if let Some(known) = self.secret_policies.get(secret_id) {
            known.clone()
        } else {
            let client = self.aws.secretsmanager(Some(arn.region));
            let read = secretsmanager::resource_policy(&client, secret_arn).await;
            self.secret_policies
                .insert(secret_id.to_owned(), read.clone());
            read
        };
        let verdict = match policy {
            Err(failure) => {
                self.report.skip_because(
                    format!("the secret's resource policy cannot be read ({failure}): it is not evaluated"),
                    failure
                        .is(Kind::Denied)
                        .then(|| this_run_needs("secretsmanager:GetResourcePolicy on the secret")),
                );
                return Some(Some(Granted {
                    by: "the secret's resource policy",
                    to_role: Allows::Unknown,
                    delegates: true,
                }));
            }
            Ok(policy) => {
                let mut context = iam::context::request(role, secret_arn, None);
                context.resource_tags(metadata.tags.clone());
                let policy = policy.unwrap_or(Value::Null);
                iam::resource_verdict(&policy, GET_SECRET_VALUE, secret_arn, &role.arn, &context)
            }
        };
        if let Some(deny) = verdict.denied {
            let sid = deny.sid();
            self.report.fail(
                1,
                format!(
                    "the secret's resource policy {} (statement `{sid}`)",
                    deny.describe(&role.name, GET_SECRET_VALUE)
                ),
                format!("remove or narrow statement `{sid}` of the secret's resource policy"),
            );
            return None;
        }
        if let Some(deny) = &verdict.may_deny {
            self.report.push(
                Status::Warn,
                1,
                format!(
                    "statement `{}` of the secret's resource policy {}",
                    deny.sid(),
                    deny.describe(&role.name, GET_SECRET_VALUE)
                ),
            );
        }
        if !self.other_account(arn.account) {
            // In its own account the role's policies may grant it without the resource policy.
            return Some(Some(Granted {
                by: "the secret's resource policy",
                to_role: verdict.to_role,
                delegates: true,
            }));
        }
        self.shared_with_the_role(&verdict, &role.arn, arn.account);
        // Across accounts the role's own policies must allow it as well.
        Some(None)
    }

    /// Across accounts: whether the secret's resource policy lets the role's account read it.
    fn shared_with_the_role(&mut self, verdict: &iam::Verdict, role_arn: &str, account: &str) {
        if !verdict.allows_at_all() {
            return self.report.fail(
                1,
                format!(
                    "the secret is in account {account}, the role in {}: its resource policy must allow the role, and does not",
                    self.account
                ),
                format!(
                    r#"add to the secret's resource policy: {{"Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":"{GET_SECRET_VALUE}","Resource":"*"}}"#
                ),
            );
        }
        match (&verdict.to_role, &verdict.to_account) {
            (Allows::Yes, _) | (_, Allows::Yes) => self.report.push(
                Status::Ok,
                1,
                format!(
                    "the secret's resource policy lets account {} read it",
                    self.account
                ),
            ),
            (Allows::If { sid, unknown }, _) | (_, Allows::If { sid, unknown }) => {
                self.report.push(
                    Status::Warn,
                    1,
                    format!(
                        "the secret's resource policy lets account {} read it only if {} of statement `{sid}` holds, which is not known before the task starts",
                        self.account,
                        iam::keys(unknown)
                    ),
                );
            }
            _ => {}
        }
    }

    /// Whether the secret's value has the JSON key `valueFrom` names: only with `read-values`.
    async fn json_key(&mut self, secret: &SecretId, arn: &Arn<'_>, key: &str) {
        let Some(on_secret) = self.read_values else {
            return self.report.push(
                Status::Skip,
                1,
                "the JSON key is not checked: that needs the value (`read-values`)",
            );
        };
        let client = self.aws.secretsmanager(Some(arn.region));
        let (stage, version) = (
            secret.version_stage.as_deref(),
            secret.version_id.as_deref(),
        );
        match secretsmanager::get(&client, &secret.id, stage, version).await {
            Err(failure) => self.report.fail(
                1,
                format!("the value cannot be read with this run's credentials: {failure}"),
                "grant the CI role `secretsmanager:GetSecretValue`, or drop `read-values`",
            ),
            Ok(fetched) => {
                on_secret(&fetched.value, &format!("secretsmanager:{}", secret.id));
                let has_key = serde_json::from_str::<Value>(fetched.value.expose())
                    .ok()
                    .is_some_and(|d| d.get(key).is_some());
                if has_key {
                    self.report.push(
                        Status::Ok,
                        1,
                        format!("the secret has the JSON key `{key}`"),
                    );
                } else {
                    self.report.fail(
                        1,
                        format!("the secret has no JSON key `{key}`"),
                        "fix the key in `valueFrom`, or add it to the secret",
                    );
                }
            }
        }
    }
}
