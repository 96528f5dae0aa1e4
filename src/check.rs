//! The preflight: prove that the task execution role can read every secret the definition
//! references, without reading one. Every `valueFrom` is checked for form, existence (by
//! metadata), and the role's permission on the exact ARN (and on the KMS key that encrypts it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use futures_util::StreamExt as _;
use futures_util::stream;

use serde_json::{Value, json};

use crate::aws::Aws;
use crate::error::Location;
use crate::iam::{self, Allows, Decision};
use crate::kms;
use crate::reference::{self, Arn, Parameter, SecretId};
use crate::resolve::{secretsmanager, ssm};
use crate::taskdef::Rendered;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "[ok]  ",
            Status::Warn => "[warn]",
            Status::Fail => "[fail]",
            Status::Skip => "[skip]",
        }
    }
}

/// One line of the report tree.
#[derive(Debug, Clone)]
pub struct Finding {
    pub status: Status,
    /// 0 for a reference or the role, 1 for what was checked about it.
    pub depth: usize,
    pub message: String,
    pub fix: Option<String>,
    /// The place in the template it is about: the reference's `valueFrom`, or `executionRoleArn`.
    pub location: Option<Location>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Every `(action, resource)` the execution role needs, for `policy`.
    pub needs: Vec<(String, String)>,
    /// Every `(action, resource)` the check itself calls, for the deployer's policy when it
    /// runs `preflight`.
    pub reads: Vec<(String, String)>,
    /// The place the next findings are about.
    here: Option<Location>,
}

impl Report {
    fn push(&mut self, status: Status, depth: usize, message: impl Into<String>) {
        self.findings.push(Finding {
            status,
            depth,
            message: message.into(),
            fix: None,
            location: self.here.clone(),
        });
    }

    fn fail(&mut self, depth: usize, message: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Finding {
            status: Status::Fail,
            depth,
            message: message.into(),
            fix: Some(fix.into()),
            location: self.here.clone(),
        });
    }

    fn read(&mut self, action: &str, resource: &str) {
        let read = (action.to_owned(), resource.to_owned());
        if !self.reads.contains(&read) {
            self.reads.push(read);
        }
    }

    /// A `[skip]` under the current reference, with a fix when there is one.
    fn skip_because(&mut self, message: String, fix: Option<String>) {
        self.push(Status::Skip, 1, message);
        if let Some(finding) = self.findings.last_mut() {
            finding.fix = fix;
        }
    }

    pub fn failed(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .count()
    }

    /// The tree, for people.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for finding in &self.findings {
            let indent = "  ".repeat(finding.depth);
            let _ = writeln!(
                text,
                "{indent}{} {}",
                finding.status.label(),
                finding.message
            );
            if let Some(fix) = &finding.fix {
                let _ = writeln!(text, "{indent}       fix: {fix}");
            }
        }
        let count = |s| self.findings.iter().filter(|f| f.status == s).count();
        let _ = writeln!(
            text,
            "check: {} ok, {} warning(s), {} failed, {} skipped",
            count(Status::Ok),
            count(Status::Warn),
            count(Status::Fail),
            count(Status::Skip)
        );
        text
    }

    /// The report as JSON, for machines.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.to_value()).expect("JSON serialises") + "\n"
    }

    /// The report as a JSON value: `ok` and the findings.
    pub fn to_value(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                let mut finding = json!({
                    "status": f.status.label().trim().trim_matches(['[', ']']),
                    "depth": f.depth,
                    "message": f.message,
                    "fix": f.fix,
                });
                if let Some(location) = &f.location {
                    match location.source.strip_prefix("input `") {
                        Some(input) => finding["input"] = json!(input.trim_end_matches('`')),
                        None => finding["file"] = json!(location.source),
                    }
                    finding["path"] = json!(location.path);
                    if location.line > 0 {
                        finding["line"] = json!(location.line);
                        finding["column"] = json!(location.column);
                    }
                }
                finding
            })
            .collect();
        json!({ "ok": self.failed() == 0, "findings": findings })
    }
}

/// A `valueFrom` found in the definition.
struct Reference {
    path: String,
    name: String,
    value_from: String,
}

fn references(rendered: &Rendered) -> Vec<Reference> {
    let mut out = Vec::new();
    for (i, container) in crate::taskdef::containers(&rendered.body).enumerate() {
        for entry in crate::taskdef::secret_entries(i, container) {
            if let Some(value_from) = entry.value_from {
                out.push(Reference {
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
            out.push(Reference {
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
    read_values: Option<crate::mask::OnSecret<'_>>,
    roles: &mut Roles,
) -> Report {
    let mut report = Report::default();
    let references = references(rendered);
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
    let role = execution_role(&iam, role_arn, &mut report, roles).await;

    // The role's account and partition: from IAM's answer, which has them even for a bare name.
    let task = role
        .as_ref()
        .and_then(|r| Arn::parse(&r.arn))
        .or_else(|| role_arn.and_then(Arn::parse));
    let mut checker = Checker {
        aws,
        rendered,
        read_values,
        region: aws.region().unwrap_or("us-east-1").to_owned(),
        account: task.as_ref().map_or("", |a| a.account).to_owned(),
        partition: task.as_ref().map_or("aws", |a| a.partition).to_owned(),
        permissions: Permissions {
            iam: &iam,
            role: role.as_ref(),
            simulator: true,
        },
        keys: kms::Keys::new(aws),
        described: BTreeMap::new(),
        secret_policies: BTreeMap::new(),
        parameters: BTreeMap::new(),
        report,
    };
    checker.prefetch(&references).await;
    for reference in &references {
        checker.reference(reference).await;
    }
    checker.finish()
}

/// Execution roles already read in this run, by the name or ARN the definitions give them: the
/// services of a manifest that share a role read it once.
#[derive(Debug, Default)]
pub struct Roles(HashMap<String, Result<iam::Role, String>>);

/// The execution role: named, readable, and assumable by ECS tasks.
async fn execution_role(
    iam_client: &aws_sdk_iam::Client,
    role_arn: Option<&str>,
    report: &mut Report,
    roles: &mut Roles,
) -> Option<iam::Role> {
    let Some(arn) = role_arn else {
        report.fail(
            0,
            "the definition references secrets but has no `executionRoleArn`",
            "add `executionRoleArn`: the role ECS uses to read secrets when a task starts",
        );
        return None;
    };
    let found = if let Some(known) = roles.0.get(arn) {
        known.clone()
    } else {
        let read = iam::role(iam_client, arn).await;
        roles.0.insert(arn.to_owned(), read.clone());
        read
    };
    // The reads name the role by ARN, which IAM's answer has even for a bare name.
    let role_arn = match (&found, Arn::parse(arn)) {
        (Ok(role), _) => role.arn.clone(),
        (Err(_), Some(_)) => arn.to_owned(),
        (Err(_), None) => format!("arn:aws:iam::*:role/{arn}"),
    };
    for action in [
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:SimulatePrincipalPolicy",
    ] {
        report.read(action, &role_arn);
    }
    // Attached policies may be anyone's, AWS managed ones included.
    report.read("iam:GetPolicy", "*");
    report.read("iam:GetPolicyVersion", "*");
    let role = match found {
        // IAM finds roles by name in the caller's account: one in another account is another
        // role (and ECS is passed roles of the registering account only). A bare role name is
        // the caller's.
        Ok(role)
            if Arn::parse(arn).is_some_and(|named| {
                Arn::parse(&role.arn).is_some_and(|found| found.account != named.account)
            }) =>
        {
            report.fail(
                0,
                format!("execution role `{arn}` is not in the account of this run's credentials (which has `{}`): it cannot be checked, and ECS passes only roles of the account that registers the task definition", role.arn),
                "run the check with credentials of the role's account, or fix `executionRoleArn`",
            );
            return None;
        }
        Ok(role) => role,
        Err(reason) => {
            let fix = if refused(&reason) {
                this_run_needs(
                    "iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy and iam:ListAttachedRolePolicies on the role",
                )
            } else {
                "create the role, or fix `executionRoleArn`".to_owned()
            };
            report.fail(
                0,
                format!("execution role `{arn}` cannot be read: {reason}"),
                fix,
            );
            return None;
        }
    };
    if iam::trusts_ecs_tasks(&role.trust) {
        report.push(
            Status::Ok,
            0,
            format!(
                "execution role `{}` exists and trusts `ecs-tasks.amazonaws.com`",
                role.name
            ),
        );
    } else {
        report.fail(
            0,
            format!(
                "execution role `{}` does not let `ecs-tasks.amazonaws.com` assume it",
                role.name
            ),
            r#"add to its trust policy: {"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}"#,
        );
    }
    Some(role)
}

/// One check run: what it has learnt so far, and the report it writes.
struct Checker<'a> {
    aws: &'a Aws,
    rendered: &'a Rendered,
    read_values: Option<crate::mask::OnSecret<'a>>,
    /// Where the task runs: parameters given by name are read there.
    region: String,
    account: String,
    partition: String,
    permissions: Permissions<'a>,
    keys: kms::Keys<'a>,
    /// Secret id → its metadata, described once however often it is referenced.
    described: BTreeMap<String, Result<secretsmanager::Described, String>>,
    /// Secret id → its resource policy, if it has one.
    secret_policies: BTreeMap<String, Result<Option<Value>, String>>,
    /// (Region, parameter name) → its metadata, `None` when there is no such parameter.
    parameters: BTreeMap<(String, String), Result<Option<ssm::Metadata>, String>>,
    report: Report,
}

/// Where a parameter is looked for: its Region, account, partition, and the names it may have.
struct ParameterPlace {
    region: String,
    account: String,
    partition: String,
    candidates: Vec<String>,
}

impl Checker<'_> {
    /// Whether `account` is another than the role's (when the role's is known).
    fn other_account(&self, account: &str) -> bool {
        !self.account.is_empty() && self.account != account
    }

    /// Where the parameter of `valueFrom` is looked for: the Region of its ARN, or for a name the
    /// task's Region.
    fn parameter_place(&self, parameter: &Parameter, arn: Option<&Arn<'_>>) -> ParameterPlace {
        match arn {
            Some(arn) => {
                // `parameter/app/x` is `/app/x`; `parameter/x` is `x` or `/x`.
                let rest = arn.resource.trim_start_matches("parameter/");
                let candidates = if rest.contains('/') {
                    vec![format!("/{rest}")]
                } else {
                    vec![rest.to_owned(), format!("/{rest}")]
                };
                ParameterPlace {
                    region: arn.region.to_owned(),
                    account: arn.account.to_owned(),
                    partition: arn.partition.to_owned(),
                    candidates,
                }
            }
            None => ParameterPlace {
                region: self.region.clone(),
                account: self.account.clone(),
                partition: self.partition.clone(),
                candidates: vec![parameter.id.clone()],
            },
        }
    }

    /// Reads, up front and side by side, the metadata every reference needs: each secret's
    /// description and resource policy once, at most `concurrency` calls in flight; parameters
    /// by name, ten a call, under the Parameter Store rate bound. What fails here is reported
    /// with the reference it belongs to.
    async fn prefetch(&mut self, references: &[Reference]) {
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
                    Err(reason) if refused(reason) => Err(reason.clone()),
                    // One bad name fails its whole batch: each is asked again on its own.
                    Err(_) => continue,
                    Ok(found) => Ok(found
                        .iter()
                        .find(|(n, _)| same_parameter(n, &name))
                        .map(|(_, metadata)| metadata.clone())),
                };
                self.parameters.insert((region.clone(), name), answer);
            }
        }
    }

    /// One `valueFrom`: its form, then the secret or parameter it names.
    async fn reference(&mut self, reference: &Reference) {
        let rendered = self.rendered;
        self.report.here = Some(rendered.places.locate(&rendered.body, &reference.path));
        let head = format!(
            "{} `{}`: {}",
            reference.path, reference.name, reference.value_from
        );
        match reference::check_value_from(&reference.value_from) {
            Err(reason) => {
                return self.report.fail(
                    0,
                    format!("{head}: {reason}"),
                    "write the full ARN of the secret or parameter",
                );
            }
            Ok(warning) => {
                self.report.push(Status::Ok, 0, head);
                if let Some(warning) = warning {
                    self.report.push(Status::Warn, 1, warning);
                }
            }
        }
        let parsed = Arn::parse(&reference.value_from);
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
    }

    /// A secret: described (its version too), its JSON key when asked, the role's permission,
    /// and its key.
    async fn secret(&mut self, secret: &SecretId, arn: &Arn<'_>) {
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
        let metadata = match &self.described[&secret.id] {
            Err(reason) => {
                let fix = if refused(reason) {
                    this_run_needs("secretsmanager:DescribeSecret on the secret")
                } else {
                    "check the ARN and the Region in `valueFrom`".to_owned()
                };
                return self.report.fail(
                    1,
                    format!("the secret cannot be described: {reason}"),
                    fix,
                );
            }
            Ok(metadata) => metadata.clone(),
        };
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
        if let Some(key) = &secret.json_key {
            self.json_key(secret, arn, key).await;
        }
        let action = "secretsmanager:GetSecretValue";
        if let Some(granted) = self.resource_policy(&secret.id, &metadata.arn, arn).await {
            self.permissions
                .check_via(
                    &mut self.report,
                    action,
                    &metadata.arn,
                    None,
                    granted.as_ref(),
                )
                .await;
        } else {
            let needs = (action.to_owned(), metadata.arn.clone());
            self.report.needs.push(needs);
        }
        let owner = kms::Owner {
            partition: arn.partition,
            region: arn.region,
            account: arn.account,
        };
        let aws_managed = metadata
            .kms_key_id
            .as_deref()
            .is_none_or(kms::is_aws_managed);
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
        secret_arn: &str,
        arn: &Arn<'_>,
    ) -> Option<Option<Granted<'static>>> {
        let role = self.permissions.role?;
        self.report
            .read("secretsmanager:GetResourcePolicy", secret_arn);
        let (name, role_arn) = (&role.name, &role.arn);
        let cross_account = self.other_account(arn.account);
        let action = "secretsmanager:GetSecretValue";
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
            Err(reason) => {
                self.report.skip_because(
                    format!("the secret's resource policy cannot be read ({reason}): it is not evaluated"),
                    refused(&reason).then(|| this_run_needs("secretsmanager:GetResourcePolicy on the secret")),
                );
                return Some(Some(Granted {
                    by: "the secret's resource policy",
                    to_role: Allows::Unknown,
                    delegates: true,
                }));
            }
            Ok(policy) => iam::resource_verdict(&policy.unwrap_or(Value::Null), action, role_arn),
        };
        if let Some(sid) = verdict.denied {
            self.report.fail(
                1,
                format!(
                    "the secret's resource policy denies `{name}` `{action}` (statement `{sid}`)"
                ),
                format!("remove or narrow statement `{sid}` of the secret's resource policy"),
            );
            return None;
        }
        if let Some(sid) = &verdict.may_deny {
            self.report.push(
                Status::Warn,
                1,
                format!("statement `{sid}` of the secret's resource policy may deny `{action}` under conditions that are not evaluated here"),
            );
        }
        if !cross_account {
            // In its own account the role's policies may grant it without the resource policy.
            return Some(Some(Granted {
                by: "the secret's resource policy",
                to_role: verdict.to_role,
                delegates: true,
            }));
        }
        if !verdict.allows_at_all() {
            self.report.fail(
                1,
                format!(
                    "the secret is in account {}, the role in {}: its resource policy must allow the role, and does not",
                    arn.account, self.account
                ),
                format!(
                    r#"add to the secret's resource policy: {{"Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":"{action}","Resource":"*"}}"#
                ),
            );
            return Some(None);
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
            (Allows::If { sid }, _) | (_, Allows::If { sid }) => self.report.push(
                Status::Warn,
                1,
                format!(
                    "the secret's resource policy lets account {} read it only under the conditions of statement `{sid}`, which are not evaluated here",
                    self.account
                ),
            ),
            _ => {}
        }
        // Across accounts the role's own policies must allow it as well.
        Some(None)
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
            Err(reason) => self.report.fail(
                1,
                format!("the value cannot be read with this run's credentials: {reason}"),
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

    /// A parameter: found by metadata (by name in the task's Region, or by its ARN), the role's
    /// permission, and the key of a SecureString.
    async fn parameter(&mut self, parameter: &Parameter, arn: Option<&Arn<'_>>) {
        let ParameterPlace {
            region,
            account,
            partition,
            candidates,
        } = self.parameter_place(parameter, arn);
        if self.other_account(&account) {
            self.report.push(
                Status::Warn,
                1,
                format!(
                    "the parameter is in account {account}, the role in {}: it must be shared with the role's account",
                    self.account
                ),
            );
        }
        // DescribeParameters has no resource-level permissions.
        self.report.read("ssm:DescribeParameters", "*");
        let mut found = None;
        for name in &candidates {
            let key = (region.clone(), name.clone());
            let answer = if let Some(known) = self.parameters.get(&key) {
                known.clone()
            } else {
                ssm::describe_parameters(self.aws, &region, std::slice::from_ref(name))
                    .await
                    .map(|found| found.into_iter().next().map(|(_, metadata)| metadata))
            };
            match answer {
                Err(reason) => {
                    let fix = if refused(&reason) {
                        this_run_needs("ssm:DescribeParameters")
                    } else {
                        "check the name and the Region".to_owned()
                    };
                    return self.report.fail(
                        1,
                        format!("the parameter cannot be described: {reason}"),
                        fix,
                    );
                }
                Ok(Some(metadata)) => {
                    found = Some((name.clone(), metadata));
                    break;
                }
                Ok(None) => {}
            }
        }
        let Some((found_name, metadata)) = found else {
            return self
                .missing_parameter(&candidates, arn.is_none(), &region, &account, &partition)
                .await;
        };
        let parameter_arn = format!(
            "arn:{partition}:ssm:{region}:{account}:parameter/{}",
            found_name.trim_start_matches('/')
        );
        let kind = if metadata.secure {
            "SecureString, "
        } else {
            ""
        };
        self.report.push(
            Status::Ok,
            1,
            format!("the parameter exists ({kind}{parameter_arn})"),
        );
        self.permissions
            .check(&mut self.report, "ssm:GetParameters", &parameter_arn)
            .await;
        if metadata.secure {
            let owner = kms::Owner {
                partition: &partition,
                region: &region,
                account: &account,
            };
            let via = format!("ssm.{region}.amazonaws.com");
            self.key(metadata.key_id.as_deref(), &owner, &via).await;
        }
    }

    /// No such parameter. One given by name is read in the task's Region: when another Region
    /// the definition names holds it, the fix is its full ARN.
    async fn missing_parameter(
        &mut self,
        candidates: &[String],
        by_name: bool,
        region: &str,
        account: &str,
        partition: &str,
    ) {
        let elsewhere = if by_name {
            let regions = other_regions(self.rendered, &self.region);
            elsewhere(self.aws, candidates, &regions).await
        } else {
            None
        };
        match elsewhere {
            Some((other, name)) => self.report.fail(
                1,
                format!(
                    "no parameter `{}` in {region}, where the task runs and reads parameters given by name; it is in {other}",
                    candidates[0]
                ),
                format!(
                    "write its full ARN: arn:{partition}:ssm:{other}:{}:parameter/{}",
                    if account.is_empty() { "<account>" } else { account },
                    name.trim_start_matches('/')
                ),
            ),
            None => self.report.fail(
                1,
                format!("no parameter `{}` in {region}", candidates[0]),
                "create it, or fix the name or the Region in `valueFrom`",
            ),
        }
    }

    /// The key that encrypts a secret or parameter: resolved to a customer managed key, its key
    /// policy read, and the role's `kms:Decrypt` on it checked where the key policy leaves that
    /// to IAM. `via` is the service that decrypts on the role's behalf.
    async fn key(&mut self, key_id: Option<&str>, owner: &kms::Owner<'_>, via: &str) {
        let report = &mut self.report;
        let key = match self.keys.customer_key(key_id, owner).await {
            Ok(Some(key)) => key,
            Ok(None) => return,
            Err(reason) => return report.push(Status::Skip, 1, reason),
        };
        let Some(role) = self.permissions.role else {
            return self
                .permissions
                .check_via(report, "kms:Decrypt", &key, Some(via), None)
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
                .check_via(report, "kms:Decrypt", &key, Some(via), None)
                .await;
        }
        report.read("kms:GetKeyPolicy", &key);
        let verdict = match self.keys.policy(&key).await {
            Err(reason) if reason.starts_with("NotFoundException") => {
                report.needs.push(("kms:Decrypt".to_owned(), key.clone()));
                return report.fail(
                    1,
                    format!("the key `{key}` that encrypts it does not exist ({reason})"),
                    "encrypt it with a key that exists, or restore the key",
                );
            }
            Err(reason) => {
                report.skip_because(
                    format!(
                        "the key policy of `{key}` cannot be read ({reason}): it is not evaluated"
                    ),
                    refused(&reason).then(|| this_run_needs("kms:GetKeyPolicy on the key")),
                );
                let granted = Granted {
                    by: "its key policy",
                    to_role: Allows::Unknown,
                    delegates: true,
                };
                return self
                    .permissions
                    .check_via(report, "kms:Decrypt", &key, Some(via), Some(&granted))
                    .await;
            }
            Ok(policy) => iam::resource_verdict(&policy, "kms:Decrypt", &role.arn),
        };
        if let Some(granted) = key_policy_findings(report, &key, role, role_account, verdict) {
            self.permissions
                .check_via(report, "kms:Decrypt", &key, Some(via), Some(&granted))
                .await;
        }
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
            (true, _) => "conditions in key policies and secret resource policies, KMS grants",
            (false, None) => "policy conditions, SCPs, KMS grants",
            (false, Some(_)) => "policy conditions, the permissions boundary, SCPs, KMS grants",
        };
        if let Some(reason) = unread_boundary {
            report.push(Status::Skip, 0, reason);
        }
        report.push(Status::Skip, 0, format!("not evaluated: {unevaluated}"));
        self.report
    }
}

/// What a key policy that was read says about the role, as findings: the grant it leaves for
/// the role's own policies to complete, or `None` when it settles the question (a Deny, or no
/// way at all for the role to decrypt).
fn key_policy_findings(
    report: &mut Report,
    key: &str,
    role: &iam::Role,
    role_account: &str,
    verdict: iam::Verdict,
) -> Option<Granted<'static>> {
    let (name, role_arn) = (&role.name, &role.arn);
    let needs = ("kms:Decrypt".to_owned(), key.to_owned());
    if let Some(sid) = verdict.denied {
        report.needs.push(needs);
        report.fail(
            1,
            format!("the key policy of `{key}` denies `{name}` `kms:Decrypt` (statement `{sid}`)"),
            format!("remove or narrow statement `{sid}` of the key policy of `{key}`"),
        );
        return None;
    }
    if !verdict.allows_at_all() {
        report.needs.push(needs);
        report.fail(
            1,
            format!("the key policy of `{key}` neither names `{name}` nor lets IAM policies of account {role_account} grant `kms:Decrypt`, so no identity policy can"),
            format!(
                r#"add to the key policy of `{key}`: {{"Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":"kms:Decrypt","Resource":"*"}}"#
            ),
        );
        return None;
    }
    if let Some(sid) = &verdict.may_deny {
        report.push(
            Status::Warn,
            1,
            format!("statement `{sid}` of the key policy of `{key}` may deny `kms:Decrypt` under conditions that are not evaluated here"),
        );
    }
    match &verdict.to_account {
        Allows::Yes => report.push(
            Status::Ok,
            1,
            format!("the key policy of `{key}` lets IAM policies grant `{name}` `kms:Decrypt`"),
        ),
        Allows::If { sid } => report.push(
            Status::Warn,
            1,
            format!("the key policy of `{key}` lets IAM policies grant `kms:Decrypt` only under the conditions of statement `{sid}`, which are not evaluated here"),
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

/// Whether `found`, a name DescribeParameters answered with, is the parameter asked for as
/// `asked`: a name outside any hierarchy may be written with or without its leading `/`.
fn same_parameter(found: &str, asked: &str) -> bool {
    found == asked
        || (found.trim_start_matches('/') == asked.trim_start_matches('/')
            && !asked.trim_start_matches('/').contains('/'))
}

/// Whether AWS refused this run a call (as opposed to: the thing is not there).
fn refused(reason: &str) -> bool {
    reason.starts_with("AccessDenied") || reason.starts_with("UnauthorizedOperation")
}

/// The fix when this run's own credentials may not read what the check reads.
fn this_run_needs(permissions: &str) -> String {
    format!(
        "allow the role that runs ecs-secrets {permissions} (`ecs-secrets policy --preflight` lists every read the check makes)"
    )
}

/// The Regions the definition names besides the task's own: those of its `valueFrom` ARNs and
/// of its log configuration.
fn other_regions(rendered: &Rendered, task_region: &str) -> Vec<String> {
    let mut regions: Vec<String> = Vec::new();
    for reference in references(rendered) {
        if let Some(arn) = Arn::parse(&reference.value_from) {
            regions.push(arn.region.to_owned());
        }
    }
    for container in crate::taskdef::containers(&rendered.body) {
        let logs = container
            .get("logConfiguration")
            .and_then(|l| l.get("options"))
            .and_then(|o| o.get("awslogs-region"))
            .and_then(Value::as_str);
        regions.extend(logs.map(str::to_owned));
    }
    regions.sort();
    regions.dedup();
    regions.retain(|r| r != task_region && !r.is_empty());
    regions
}

/// The first of `regions` that holds one of the parameter `names`, with the name found.
async fn elsewhere(aws: &Aws, names: &[String], regions: &[String]) -> Option<(String, String)> {
    for region in regions {
        if let Ok(found) = ssm::describe_parameters(aws, region, names).await
            && let Some((name, _)) = found.into_iter().next()
        {
            return Some((region.clone(), name));
        }
    }
    None
}

/// Answers "may the role do this?", from IAM's simulator until it proves unavailable, then from
/// the role's identity policies.
struct Permissions<'a> {
    iam: &'a aws_sdk_iam::Client,
    role: Option<&'a iam::Role>,
    simulator: bool,
}

/// What a resource policy (a key policy, a secret's resource policy) adds to the role's own
/// policies: a grant to the role itself, and whether it lets the account's IAM policies decide.
struct Granted<'a> {
    /// The policy, for messages: "its key policy".
    by: &'a str,
    to_role: Allows,
    delegates: bool,
}

impl Permissions<'_> {
    async fn check(&mut self, report: &mut Report, action: &str, resource: &str) {
        self.check_via(report, action, resource, None, None).await;
    }

    /// IAM's simulator while it answers, then the role's own policies and boundary.
    async fn decide(
        &mut self,
        report: &mut Report,
        role: &iam::Role,
        action: &str,
        resource: &str,
        via: Option<&str>,
    ) -> Decision {
        let mut decision = None;
        if self.simulator {
            match iam::simulate(self.iam, &role.arn, action, resource, via).await {
                Ok(answer) => decision = Some(answer),
                Err(reason) => {
                    self.simulator = false;
                    report.push(
                        Status::Skip,
                        1,
                        format!("IAM's policy simulator is not available ({reason}): the role's identity policies are evaluated here instead"),
                    );
                }
            }
        }
        match decision {
            // IAM's answer does not say whether the role's own policies allow it; they are here.
            Some(Decision::OutsideBoundary) => {
                match iam::evaluate(&role.statements, action, resource) {
                    Decision::NotAllowed { .. } => Decision::NotAllowed { boundary_too: true },
                    _ => Decision::OutsideBoundary,
                }
            }
            Some(decision) => decision,
            None => iam::evaluate_role(role, action, resource),
        }
    }

    /// `kms:Decrypt` happens on the role's behalf through a service: `via` names it, as the
    /// `kms:ViaService` context of the simulation. `granted`: what the resource's own policy
    /// says, when it was read.
    async fn check_via(
        &mut self,
        report: &mut Report,
        action: &str,
        resource: &str,
        via: Option<&str>,
        granted: Option<&Granted<'_>>,
    ) {
        report.needs.push((action.to_owned(), resource.to_owned()));
        let Some(role) = self.role else {
            return;
        };
        let decision = self.decide(report, role, action, resource, via).await;
        let name = &role.name;
        if let Some(granted) = granted {
            // A Deny or a permissions boundary limits a grant to the role's ARN too; otherwise
            // the resource policy may be what allows it.
            let limited = matches!(
                decision,
                Decision::Denied { .. }
                    | Decision::OutsideBoundary
                    | Decision::NotAllowed { boundary_too: true }
            );
            let by_identity = matches!(
                decision,
                Decision::Allowed { .. } | Decision::AllowedIf { .. }
            ) && granted.delegates;
            if !limited && !by_identity {
                // Locally, a boundary that could not be read may limit the grant.
                let unread_boundary = !self.simulator && role.boundary_unread.is_some();
                match &granted.to_role {
                    Allows::Yes if unread_boundary => {
                        return report.push(
                            Status::Warn,
                            1,
                            format!(
                                "`{name}` may `{action}` on `{resource}` ({} names the role) unless its permissions boundary, which was not read, leaves it out",
                                granted.by
                            ),
                        );
                    }
                    Allows::Yes => {
                        return report.push(
                            Status::Ok,
                            1,
                            format!(
                                "`{name}` may `{action}` on `{resource}` ({} names the role)",
                                granted.by
                            ),
                        );
                    }
                    Allows::Unknown => {
                        return report.push(
                            Status::Warn,
                            1,
                            format!(
                                "`{name}` may not `{action}` on `{resource}` by its own policies, and {}, which was not read, may or may not grant it",
                                granted.by
                            ),
                        );
                    }
                    Allows::If { sid } => {
                        return report.push(
                            Status::Warn,
                            1,
                            format!("`{name}` may `{action}` on `{resource}` only under the conditions of statement `{sid}` of {}, which are not evaluated here", granted.by),
                        );
                    }
                    Allows::No => {}
                }
            }
        }
        say(report, role, action, resource, decision);
    }
}

/// The finding for the role's own policies' answer.
fn say(report: &mut Report, role: &iam::Role, action: &str, resource: &str, decision: Decision) {
    let name = &role.name;
    match decision {
        Decision::Allowed { by } => report.push(
            Status::Ok,
            1,
            format!("`{name}` may `{action}` on `{resource}` (policy `{by}`)"),
        ),
        Decision::AllowedIf { by } => report.push(
            Status::Warn,
            1,
            format!("`{name}` may `{action}` on `{resource}` only under the conditions of policy `{by}`, which are not evaluated here"),
        ),
        Decision::Denied { by } => report.fail(
            1,
            format!("`{name}` is denied `{action}` on `{resource}` by policy `{by}`"),
            format!("remove or narrow the Deny in `{by}`"),
        ),
        Decision::OutsideBoundary => {
            let boundary = role.boundary.as_ref().map_or("?", |(name, _)| name.as_str());
            report.fail(
                1,
                format!("`{name}` may not `{action}` on `{resource}`: its policies allow it, its permissions boundary `{boundary}` does not"),
                format!(
                    r#"add to the permissions boundary `{boundary}` of role `{name}`: {{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}"#
                ),
            );
        }
        Decision::NotAllowed { boundary_too: true } => {
            let boundary = role.boundary.as_ref().map_or("?", |(name, _)| name.as_str());
            report.fail(
                1,
                format!("`{name}` may not `{action}` on `{resource}`: neither its policies nor its permissions boundary `{boundary}` allow it"),
                format!(
                    r#"add to a policy of role `{name}` (the execution role) and to its permissions boundary `{boundary}`: {{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}"#
                ),
            );
        }
        Decision::NotAllowed { boundary_too: false } => report.fail(
            1,
            format!("`{name}` may not `{action}` on `{resource}`"),
            format!(
                r#"add to a policy of role `{name}` (the execution role, not the task role): {{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}"#
            ),
        ),
    }
}
