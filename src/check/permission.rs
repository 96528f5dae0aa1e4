//! "May the role do this?": IAM's simulator while it answers (it weighs the permissions
//! boundary and SCPs too), then the role's own policies and boundary, evaluated here; and what a
//! resource policy (a key policy, a secret's resource policy) adds to them.

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
        }
    }

    pub async fn check(&mut self, report: &mut Report, action: &str, resource: &str) {
        self.check_via(report, action, resource, None, None).await;
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
        let mut decision = None;
        if self.simulator {
            match aws::iam::simulate(self.iam, &role.arn, action, resource, via).await {
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
    pub async fn check_via(
        &mut self,
        report: &mut Report,
        action: &str,
        resource: &str,
        via: Option<&str>,
        granted: Option<&Granted<'_>>,
    ) {
        report.need(action, resource);
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
fn say(report: &mut Report, role: &Role, action: &str, resource: &str, decision: Decision) {
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
