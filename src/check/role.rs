//! The execution role: named, readable, in the account that registers, and assumable by ECS
//! tasks.

use std::collections::HashMap;

use super::fix_for;
use super::report::{Report, Status};
use crate::aws::{self, Failure};
use crate::iam::{self, Role};
use crate::reference::Arn;

/// Execution roles already read in this run, by the name or ARN the definitions give them: the
/// services of a manifest that share a role read it once.
#[derive(Debug, Default)]
pub struct Roles(HashMap<String, Result<Role, Failure>>);

/// The reads the check makes of a role, for `policy --preflight`.
const ROLE_READS: &[&str] = &[
    "iam:GetRole",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:SimulatePrincipalPolicy",
];

/// The execution role, when it can be read and is the one ECS would use.
pub(super) async fn execution_role(
    client: &aws_sdk_iam::Client,
    role_arn: Option<&str>,
    report: &mut Report,
    roles: &mut Roles,
) -> Option<Role> {
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
        let read = aws::iam::role(client, arn).await.map(Role::from_documents);
        roles.0.insert(arn.to_owned(), read.clone());
        read
    };
    // The reads name the role by ARN, which IAM's answer has even for a bare name.
    let read_arn = match (&found, Arn::parse(arn)) {
        (Ok(role), _) => role.arn.clone(),
        (Err(_), Some(_)) => arn.to_owned(),
        (Err(_), None) => format!("arn:aws:iam::*:role/{arn}"),
    };
    for action in ROLE_READS {
        report.read(action, &read_arn);
    }
    // Attached policies may be anyone's, AWS managed ones included.
    report.read("iam:GetPolicy", "*");
    report.read("iam:GetPolicyVersion", "*");
    let role = readable(arn, found, report)?;
    trusts(&role, report);
    Some(role)
}

/// The role read, or the finding of why it cannot be used.
fn readable(arn: &str, found: Result<Role, Failure>, report: &mut Report) -> Option<Role> {
    match found {
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
            None
        }
        Ok(role) => Some(role),
        Err(failure) => {
            let fix = fix_for(
                &failure,
                "iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy and iam:ListAttachedRolePolicies on the role",
                "create the role, or fix `executionRoleArn`",
            );
            report.fail(
                0,
                format!("execution role `{arn}` cannot be read: {failure}"),
                fix,
            );
            None
        }
    }
}

fn trusts(role: &Role, report: &mut Report) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_of_another_account_than_the_credentials_cannot_be_used() {
        let role = Role {
            arn: "arn:aws:iam::111111111111:role/exec".into(),
            name: "exec".into(),
            trust: serde_json::Value::Null,
            statements: Vec::new(),
            boundary: None,
            boundary_unread: None,
        };
        let mut report = Report::default();
        let named = "arn:aws:iam::222222222222:role/exec";
        assert!(readable(named, Ok(role.clone()), &mut report).is_none());
        assert!(report.findings[0].message.contains("is not in the account"));
        assert!(readable("exec", Ok(role), &mut report).is_some());
    }

    #[test]
    fn a_role_this_run_may_not_read_names_the_permission_it_lacks() {
        let mut report = Report::default();
        let denied = Failure::reported("IAM", Some("AccessDenied"), Some("no"));
        assert!(readable("exec", Err(denied), &mut report).is_none());
        let fix = report.findings[0].fix.as_deref().unwrap();
        assert!(
            fix.starts_with("allow the role that runs ecs-secrets iam:GetRole"),
            "{fix}"
        );
    }
}
