//! The preflight: prove that the task execution role can read every secret the definition
//! references, without reading one. Every `valueFrom` is checked for form, existence (by
//! metadata), and the role's permission on the exact ARN (and on the KMS key that encrypts it).
//!
//! [`run`] reads top to bottom: the role ([`role`]), the metadata of every reference read up
//! front side by side, then each reference in the order of the definition ([`secret`],
//! [`parameter`], [`key`]), each permission decided in [`permission`], and what was not
//! evaluated.

mod key;
mod parameter;
mod permission;
pub mod report;
mod role;
mod secret;

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt as _;
use futures_util::stream;
use serde_json::Value;

pub use report::{Report, Status};
pub use role::Roles;

use crate::aws::secretsmanager::Described;
use crate::aws::ssm::Metadata;
use crate::aws::{Aws, Failure, Kind, secretsmanager, ssm};
use crate::mask::OnSecret;
use crate::reference::{self, Arn, Parameter, SecretId};
use crate::template::Rendered;
use permission::Permissions;

/// A lookup ECS makes when a task starts: a `valueFrom` of the definition, where it is, and the
/// variable (or option) it fills.
struct Lookup {
    path: String,
    name: String,
    value_from: String,
}

fn lookups(rendered: &Rendered) -> Vec<Lookup> {
    let mut out = Vec::new();
    for (i, container) in crate::template::containers(&rendered.body).enumerate() {
        for entry in crate::template::secret_entries(i, container) {
            if let Some(value_from) = entry.value_from {
                out.push(Lookup {
                    path: entry.path,
                    name: entry.name.unwrap_or("?").to_owned(),
                    value_from: value_from.to_owned(),
                });
            }
        }
        if let Some(credentials) = container
            .get("repositoryCredentials")
            .and_then(|r| r.get("credentialsParameter"))
            .and_then(Value::as_str)
        {
            out.push(Lookup {
                path: format!(
                    "containerDefinitions[{i}].repositoryCredentials.credentialsParameter"
                ),
                name: "registry credentials".to_owned(),
                value_from: credentials.to_owned(),
            });
        }
    }
    out
}

/// Runs the preflight against the rendered definition: the role, then each reference in the
/// order of the definition, then what was not evaluated.
///
/// `read_values`: when given, JSON keys are checked by reading the values (with this run's
/// credentials), each shown to the callback first so that it is masked.
pub async fn run(
    aws: &Aws,
    rendered: &Rendered,
    read_values: Option<OnSecret<'_>>,
    roles: &mut Roles,
) -> Report {
    let mut report = Report::default();
    let references = lookups(rendered);
    let iam = aws.iam();
    report.here = Some(rendered.places.locate(&rendered.body, "executionRoleArn"));
    let role_arn = rendered
        .body
        .get("executionRoleArn")
        .and_then(Value::as_str);
    if role_arn.is_none() && references.is_empty() {
        report.push(Status::Ok, 0, "the definition references no secret");
        return report;
    }
    let role = role::execution_role(&iam, role_arn, aws.region(), &mut report, roles).await;
    // The role's account and partition: from IAM's answer, which has them even for a bare name.
    let task = role
        .as_ref()
        .and_then(|r| Arn::parse(&r.arn))
        .or_else(|| role_arn.and_then(Arn::parse));
    let mut checker = Checker {
        aws,
        rendered,
        read_values,
        region: aws.region().to_owned(),
        account: task.as_ref().map_or("", |a| a.account).to_owned(),
        partition: task.as_ref().map_or("aws", |a| a.partition).to_owned(),
        permissions: Permissions::new(&iam, role.as_ref()),
        keys: key::Keys::new(aws),
        described: BTreeMap::new(),
        secret_policies: BTreeMap::new(),
        parameters: BTreeMap::new(),
        current: String::new(),
        report,
    };
    checker.prefetch(&references).await;
    for reference in &references {
        checker.reference(reference).await;
    }
    checker.finish()
}

/// One check run: what it has learnt so far, and the report it writes.
struct Checker<'a> {
    aws: &'a Aws,
    rendered: &'a Rendered,
    read_values: Option<OnSecret<'a>>,
    /// Where the task runs: parameters given by name are read there.
    region: String,
    account: String,
    partition: String,
    permissions: Permissions<'a>,
    keys: key::Keys<'a>,
    /// Secret id → its metadata, described once however often it is referenced.
    described: BTreeMap<String, Result<Described, Failure>>,
    /// Secret id → its resource policy, if it has one.
    secret_policies: BTreeMap<String, Result<Option<Value>, Failure>>,
    /// (Region, parameter name) → its metadata, `None` when there is no such parameter.
    parameters: BTreeMap<(String, String), Result<Option<Metadata>, Failure>>,
    /// The reference being checked: `path `name`: valueFrom`.
    current: String,
    report: Report,
}

impl Checker<'_> {
    /// The reference being checked cannot be made readable by the policy `policy` prints:
    /// `reason` says why.
    fn missing(&mut self, reason: &str) {
        let line = format!("{} ({reason})", self.current);
        if !self.report.missing.contains(&line) {
            self.report.missing.push(line);
        }
    }

    /// Whether `account` is another than the role's (when the role's is known).
    fn other_account(&self, account: &str) -> bool {
        !self.account.is_empty() && self.account != account
    }

    /// Reads, up front and side by side, the metadata every reference needs: each secret's
    /// description and resource policy once, at most `concurrency` calls in flight; parameters
    /// by name, ten a call, under the Parameter Store rate bound. What fails here is reported
    /// with the reference it belongs to.
    async fn prefetch(&mut self, references: &[Lookup]) {
        let mut secrets: BTreeMap<String, String> = BTreeMap::new();
        let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for reference in references {
            if reference::check_value_from(&reference.value_from).is_err() {
                continue;
            }
            let arn = Arn::parse(&reference.value_from);
            match &arn {
                Some(a) if a.service == "secretsmanager" => {
                    if let Ok(secret) = SecretId::parse(&reference.value_from) {
                        secrets.insert(secret.id, a.region.to_owned());
                    }
                }
                _ => {
                    if let Ok(parameter) = Parameter::parse(&reference.value_from) {
                        let place = self.parameter_place(&parameter, arn.as_ref());
                        names
                            .entry(place.region)
                            .or_default()
                            .extend(place.candidates);
                    }
                }
            }
        }
        self.prefetch_secrets(secrets).await;
        self.prefetch_parameters(names).await;
    }

    async fn prefetch_secrets(&mut self, secrets: BTreeMap<String, String>) {
        let aws = self.aws;
        let with_policy = self.permissions.role.is_some();
        let described: Vec<_> = stream::iter(secrets)
            .map(|(id, region)| async move {
                let client = aws.secretsmanager(Some(&region));
                let described = secretsmanager::describe(&client, &id).await;
                let policy = match (&described, with_policy) {
                    (Ok(_), true) => Some(secretsmanager::resource_policy(&client, &id).await),
                    _ => None,
                };
                (id, described, policy)
            })
            .buffer_unordered(aws.limits.concurrency)
            .collect()
            .await;
        for (id, found, policy) in described {
            if let Some(policy) = policy {
                self.secret_policies.insert(id.clone(), policy);
            }
            self.described.insert(id, found);
        }
    }

    async fn prefetch_parameters(&mut self, names: BTreeMap<String, BTreeSet<String>>) {
        let aws = self.aws;
        let batches = names.into_iter().flat_map(|(region, names)| {
            let names: Vec<String> = names.into_iter().collect();
            names
                .chunks(ssm::BATCH)
                .map(|chunk| (region.clone(), chunk.to_vec()))
                .collect::<Vec<_>>()
        });
        let found: Vec<_> = stream::iter(batches)
            .map(|(region, chunk)| async move {
                let found = ssm::describe_parameters(aws, &region, &chunk).await;
                (region, chunk, found)
            })
            .buffer_unordered(aws.limits.concurrency)
            .collect()
            .await;
        for (region, chunk, found) in found {
            for name in chunk {
                let answer = match &found {
                    Err(failure) if failure.is(Kind::Denied) => Err(failure.clone()),
                    // One bad name fails its whole batch: each is asked again on its own.
                    Err(_) => continue,
                    Ok(found) => Ok(found
                        .iter()
                        .find(|(n, _)| parameter::same_parameter(n, &name))
                        .map(|(_, metadata)| metadata.clone())),
                };
                self.parameters.insert((region.clone(), name), answer);
            }
        }
    }

    /// One `valueFrom`: its form, then the secret or parameter it names.
    async fn reference(&mut self, reference: &Lookup) {
        let (needs, findings) = (self.report.needs.len(), self.report.findings.len());
        let read = self.judge(reference).await;
        // The policy `policy` prints makes the reference readable only if the check found what
        // to grant: the read itself.
        let granted = self.report.needs[needs..].iter().any(|(a, _)| a == read);
        if !granted {
            let reason = self.report.findings[findings..]
                .iter()
                .find(|f| f.status == Status::Fail)
                .map_or("it could not be checked", |f| f.message.as_str())
                .to_owned();
            self.missing(&reason);
        }
    }

    /// One `valueFrom`: its form, then the secret or parameter it names. The read ECS makes of
    /// it: `secretsmanager:GetSecretValue` or `ssm:GetParameters`.
    async fn judge(&mut self, reference: &Lookup) -> &'static str {
        let rendered = self.rendered;
        self.report.here = Some(rendered.places.locate(&rendered.body, &reference.path));
        let head = format!(
            "{} `{}`: {}",
            reference.path, reference.name, reference.value_from
        );
        self.current.clone_from(&head);
        let parsed = Arn::parse(&reference.value_from);
        let read = match &parsed {
            Some(arn) if arn.service == "secretsmanager" => secret::GET_SECRET_VALUE,
            _ => "ssm:GetParameters",
        };
        match reference::check_value_from(&reference.value_from) {
            Err(reason) => {
                self.report.fail(
                    0,
                    format!("{head}: {reason}"),
                    "write the full ARN of the secret or parameter",
                );
                return read;
            }
            Ok(warning) => {
                self.report.push(Status::Ok, 0, head);
                if let Some(warning) = warning {
                    self.report.push(Status::Warn, 1, warning);
                }
            }
        }
        match parsed {
            Some(arn) if arn.service == "secretsmanager" => {
                if let Ok(secret) = SecretId::parse(&reference.value_from) {
                    self.secret(&secret, &arn).await;
                }
            }
            _ => {
                if let Ok(parameter) = Parameter::parse(&reference.value_from) {
                    self.parameter(&parameter, parsed.as_ref()).await;
                }
            }
        }
        read
    }

    /// The calls made, and what was not evaluated.
    fn finish(mut self) -> Report {
        let report = &mut self.report;
        report.here = None;
        for key in self.keys.looked_up() {
            report.read("kms:DescribeKey", key);
        }
        let Some(role) = self.permissions.role else {
            return self.report;
        };
        let unread_boundary = role.boundary_unread.as_deref();
        let unevaluated = match (self.permissions.simulator, unread_boundary) {
            // IAM's simulator covers identity policies, the boundary, SCPs and conditions on the
            // context it was given.
            (true, _) => {
                "conditions of key policies and secret resource policies on keys not known before the task starts, KMS grants"
            }
            (false, None) => {
                "conditions on keys not known before the task starts, SCPs, KMS grants"
            }
            (false, Some(_)) => {
                "conditions on keys not known before the task starts, the permissions boundary, SCPs, KMS grants"
            }
        };
        if let Some(reason) = unread_boundary {
            report.push(Status::Skip, 0, reason);
        }
        report.push(Status::Skip, 0, format!("not evaluated: {unevaluated}"));
        self.report
    }
}

/// The fix when this run's own credentials may not read what the check reads.
fn this_run_needs(permissions: &str) -> String {
    format!(
        "allow the role that runs ecs-secrets {permissions} (`ecs-secrets policy --preflight` lists every read the check makes)"
    )
}

/// The fix for a failed read: what this run lacks when it was refused, else `otherwise`.
fn fix_for(failure: &Failure, lacks: &str, otherwise: &str) -> String {
    if failure.is(Kind::Denied) {
        this_run_needs(lacks)
    } else {
        otherwise.to_owned()
    }
}
