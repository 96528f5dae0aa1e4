//! "May the role do this?": IAM's simulator while it answers (it weighs the permissions
//! boundary and SCPs too), then the role's own policies and boundary, evaluated here; and what a
//! resource policy (a key policy, a secret's resource policy) adds to them.

use std::collections::HashMap;

use super::report::{Report, Status};
use crate::aws;
use crate::iam::{self, Allows, Decision, Role};

/// Answers "may the role do this?", from IAM's simulator until it proves unavailable, then from
/// the role's identity policies.
pub(super) struct Permissions<'a> {
    iam: &'a aws_sdk_iam::Client,
    pub role: Option<&'a Role>,
    /// Whether IAM's simulator still answers (it is asked until it proves unavailable).
    pub simulator: bool,
    /// The tags of the secrets and parameters read, by ARN: the `aws:ResourceTag/…` of a
    /// request for them.
    pub resource_tags: HashMap<String, Vec<(String, String)>>,
}

/// What a resource policy (a key policy, a secret's resource policy) adds to the role's own
/// policies: a grant to the role itself, and whether it lets the account's IAM policies decide.
pub(super) struct Granted<'a> {
    /// The policy, for messages: "its key policy".
    pub by: &'a str,
    pub to_role: Allows,
    pub delegates: bool,
}

impl<'a> Permissions<'a> {
    pub fn new(iam: &'a aws_sdk_iam::Client, role: Option<&'a Role>) -> Self {
        Self {
            iam,
            role,
            simulator: true,
            resource_tags: HashMap::new(),
        }
    }

    pub async fn verdict(&mut self, report: &mut Report, action: &str, resource: &str) {
        self.verdict_via(report, action, resource, None, None).await;
    }

    /// IAM's simulator while it answers, then the role's own policies and boundary.
    async fn decide(
        &mut self,
        report: &mut Report,
        role: &Role,
        action: &str,
        resource: &str,
        via: Option<&str>,
    ) -> Decision {
        let mut context = iam::context::request(role, resource, via);
        if let Some(tags) = self.resource_tags.get(resource) {
            context.resource_tags(tags.clone());
        }
        let mut decision = None;
        if self.simulator {
            let known = context.strings();
            match aws::iam::simulate(self.iam, &role.arn, action, resource, &known).await {
                Ok(answer) => decision = Some(iam::simulated(&answer)),
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
                match iam::evaluate(&role.statements, action, resource, &context) {
                    Decision::NotAllowed { unmet, .. } => Decision::NotAllowed {
                        boundary_too: true,
                        unmet,
                    },
                    _ => Decision::OutsideBoundary,
                }
            }
            Some(decision) => decision,
            None => iam::evaluate_role(role, action, resource, &context),
        }
    }

    /// `kms:Decrypt` happens on the role's behalf through a service: `via` names it, as the
    /// `kms:ViaService` context of the simulation. `granted`: what the resource's own policy
    /// says, when it was read.
    pub async fn verdict_via(
        &mut self,
        report: &mut Report,
        action: &str,
        resource: &str,
        via: Option<&str>,
        granted: Option<&Granted<'_>>,
    ) {
        report.need(action, resource, via);
        let Some(role) = self.role else {
            return;
        };
        let decision = self.decide(report, role, action, resource, via).await;
        if let Some(granted) = granted {
            // A Deny or a permissions boundary limits a grant to the role's ARN too; otherwise
            // the resource policy may be what allows it.
            let limited = matches!(
                decision,
                Decision::Denied { .. }
                    | Decision::OutsideBoundary
                    | Decision::NotAllowed {
                        boundary_too: true,
                        ..
                    }
            );
            let by_identity = matches!(
                decision,
                Decision::Allowed { .. }
                    | Decision::AllowedIf { .. }
                    | Decision::AllowedUnless { .. }
            ) && granted.delegates;
            // Locally, a boundary that could not be read may limit the grant.
            let unread_boundary = !self.simulator && role.boundary_unread.is_some();
            if !limited && !by_identity {
                let said =
                    by_resource_policy(report, role, action, resource, granted, unread_boundary);
                if said {
                    return;
                }
            }
        }
        say(report, role, action, resource, decision);
    }
}

/// The finding when the resource's own policy is what may grant it (the role's policies do
/// not); `false` when it grants nothing and the role's policies' answer stands.
fn by_resource_policy(
    report: &mut Report,
    role: &Role,
    action: &str,
    resource: &str,
    granted: &Granted<'_>,
    unread_boundary: bool,
) -> bool {
    let (name, by) = (&role.name, granted.by);
    let (status, message) = match &granted.to_role {
        Allows::Yes if unread_boundary => (
            Status::Warn,
            format!(
                "`{name}` may `{action}` on `{resource}` ({by} names the role) unless its permissions boundary, which was not read, leaves it out"
            ),
        ),
        Allows::Yes => (
            Status::Ok,
            format!("`{name}` may `{action}` on `{resource}` ({by} names the role)"),
        ),
        Allows::Unknown => (
            Status::Warn,
            format!(
                "`{name}` may not `{action}` on `{resource}` by its own policies, and {by}, which was not read, may or may not grant it"
            ),
        ),
        Allows::If { sid, unknown } => (
            Status::Warn,
            format!(
                "`{name}` may `{action}` on `{resource}` only if {} of statement `{sid}` of {by} holds, which is not known before the task starts",
                iam::keys(unknown)
            ),
        ),
        Allows::No => return false,
    };
    report.push(status, 1, message);
    true
}

/// The finding for the role's own policies' answer.
fn say(report: &mut Report, role: &Role, action: &str, resource: &str, decision: Decision) {
    let name = &role.name;
    match decision {
        Decision::Allowed { by } => report.push(
            Status::Ok,
            1,
            format!("`{name}` may `{action}` on `{resource}` (policy `{by}`)"),
        ),
        Decision::AllowedIf { by, unknown } => report.push(
            Status::Warn,
            1,
            format!(
                "`{name}` may `{action}` on `{resource}` only if {} in policy `{by}` holds, which is not known before the task starts",
                iam::keys(&unknown)
            ),
        ),
        Decision::AllowedUnless { by, deny, unknown } => report.push(
            Status::Warn,
            1,
            format!(
                "`{name}` may `{action}` on `{resource}` (policy `{by}`) unless the Deny in policy `{deny}` applies, which depends on {}, not known before the task starts",
                iam::keys(&unknown)
            ),
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
        Decision::NotAllowed {
            boundary_too: true, ..
        } => {
            let boundary = role.boundary.as_ref().map_or("?", |(name, _)| name.as_str());
            report.fail(
                1,
                format!("`{name}` may not `{action}` on `{resource}`: neither its policies nor its permissions boundary `{boundary}` allow it"),
                format!(
                    r#"add to a policy of role `{name}` (the execution role) and to its permissions boundary `{boundary}`: {{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}"#
                ),
            );
        }
        Decision::NotAllowed {
            boundary_too: false,
            unmet: Some(unmet),
        } => {
            let (policy, keys) = (&unmet.policy, iam::keys(&unmet.keys));
            report.fail(
                1,
                format!("`{name}` may not `{action}` on `{resource}`: the Allow in policy `{policy}` applies only if {keys} holds, and for this request it does not"),
                format!("make {keys} of policy `{policy}` hold for it (a tag on the role or the resource, the service it is read through), or grant it without that condition"),
            );
        }
        Decision::NotAllowed {
            boundary_too: false,
            unmet: None,
        } => report.fail(
            1,
            format!("`{name}` may not `{action}` on `{resource}`"),
            format!(
                r#"add to a policy of role `{name}` (the execution role, not the task role): {{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}"#
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::replay::{block_on, config};

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf";

    fn role(policy: &str) -> Role {
        Role::from_documents(aws::iam::RoleDocuments {
            arn: "arn:aws:iam::1:role/exec".into(),
            name: "exec".into(),
            trust: serde_json::Value::Null,
            policies: vec![("p".into(), serde_json::from_str(policy).unwrap())],
            boundary: None,
            tags: Vec::new(),
        })
    }

    /// The findings of one local decision (IAM's simulator not used).
    fn decide(role: &Role, granted: Option<&Granted<'_>>) -> Vec<(Status, String)> {
        let client = aws_sdk_iam::Client::new(&config(&[]));
        let mut permissions = Permissions::new(&client, Some(role));
        permissions.simulator = false;
        let mut report = Report::default();
        block_on(permissions.verdict_via(
            &mut report,
            "secretsmanager:GetSecretValue",
            SECRET,
            None,
            granted,
        ));
        assert_eq!(report.needs.len(), 1, "the need is recorded either way");
        report
            .findings
            .into_iter()
            .map(|f| (f.status, f.message))
            .collect()
    }

    #[test]
    fn the_role_s_own_policies_decide_and_a_deny_wins() {
        let allowed = role(
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#,
        );
        assert_eq!(decide(&allowed, None)[0].0, Status::Ok);
        let denied = role(
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"},{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#,
        );
        let findings = decide(&denied, None);
        assert_eq!(findings[0].0, Status::Fail);
        assert!(findings[0].1.contains("is denied"), "{findings:?}");
    }

    #[test]
    fn a_resource_policy_naming_the_role_stands_in_for_its_own_policies() {
        let bare = role(r#"{"Statement":[]}"#);
        assert_eq!(decide(&bare, None)[0].0, Status::Fail);
        let names_role = Granted {
            by: "the secret's resource policy",
            to_role: Allows::Yes,
            delegates: true,
        };
        let findings = decide(&bare, Some(&names_role));
        assert_eq!(findings[0].0, Status::Ok, "{findings:?}");
        let unread = Granted {
            to_role: Allows::Unknown,
            ..names_role
        };
        assert_eq!(decide(&bare, Some(&unread))[0].0, Status::Warn);
    }
}
