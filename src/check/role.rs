//! The execution role: named, readable, in the account that registers, and assumable by ECS
//! tasks.

use std::collections::HashMap;

use super::fix_for;
use super::report::{Report, Status};
use crate::aws::{self, Failure};
use crate::iam::{self, Allows, Role};
use crate::reference::{Arn, partition_of};

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

/// The execution role, when it can be read and is the one ECS would use for a task in
/// `region`.
pub(super) async fn execution_role(
    client: &aws_sdk_iam::Client,
    role_arn: Option<&str>,
    region: &str,
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
    if let Some((problem, fix)) = not_a_role_arn(arn, region) {
        report.fail(0, problem, fix);
        return None;
    }
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
    if !same_path(arn, &role, report) {
        return None;
    }
    trusts(&role, region, report);
    Some(role)
}

/// Why `arn` is not the ARN of a role ECS can assume for a task in `region`: an ARN must be
/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` in the task's partition. A bare name is a role of
/// the caller's account.
fn not_a_role_arn(arn: &str, region: &str) -> Option<(String, String)> {
    if !arn.starts_with("arn:") {
        return not_a_role_name(arn, region);
    }
    let partition = partition_of(region);
    let form = format!("arn:{partition}:iam::<account>:role/<name>");
    let Some(parsed) = Arn::parse(arn) else {
        return Some((
            format!("`executionRoleArn` `{arn}` is not an ARN; expected `{form}`"),
            format!("write the role's ARN: `{form}`"),
        ));
    };
    let account = if parsed.account.is_empty() {
        "<account>"
    } else {
        parsed.account
    };
    let (kind, rest) = parsed
        .resource
        .split_once('/')
        .unwrap_or((parsed.resource, ""));
    let name = rest.rsplit('/').next().unwrap_or(rest);
    let role = |part: &str| format!("arn:{part}:iam::{account}:role/{rest}");
    if parsed.service != "iam" || kind != "role" {
        let what = match (parsed.service, kind) {
            ("iam", "user") => format!("the IAM user `{name}`"),
            ("iam", "instance-profile") => format!("the instance profile `{name}`"),
            ("iam", "group") => format!("the IAM group `{name}`"),
            ("sts", "assumed-role") => "a session of a role".to_owned(),
            (service, kind) => format!("a `{kind}` of `{service}`"),
        };
        return Some((
            format!(
                "`executionRoleArn` `{arn}` names {what}, not an IAM role: ECS assumes roles only"
            ),
            format!("write the ARN of the role ECS should assume: `{form}`"),
        ));
    }
    if !parsed.region.is_empty() {
        return Some((
            format!(
                "`executionRoleArn` `{arn}` has a Region (`{}`); IAM ARNs have none",
                parsed.region
            ),
            format!("write `{}`", role(parsed.partition)),
        ));
    }
    if parsed.partition != partition {
        return Some((
            format!(
                "`executionRoleArn` `{arn}` is a role of partition `{}`, and the task runs in {region}, partition `{partition}`: ECS there cannot assume it",
                parsed.partition
            ),
            format!(
                "use a role of partition `{partition}`: `{}`",
                role(partition)
            ),
        ));
    }
    if parsed.account.len() != 12 || !parsed.account.bytes().all(|b| b.is_ascii_digit()) {
        return Some((
            format!("`executionRoleArn` `{arn}` has no 12-digit account id"),
            format!("write `{form}` with the account that owns the role"),
        ));
    }
    None
}

/// Why `name`, not an ARN, is not a role name: letters, digits and `+=,.@_-`, at most 64.
fn not_a_role_name(name: &str, region: &str) -> Option<(String, String)> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    (!valid).then(|| {
        (
            format!("`executionRoleArn` `{name}` is neither a role ARN nor a role name"),
            format!(
                "write the role's ARN: `arn:{}:iam::<account>:role/<name>`",
                partition_of(region)
            ),
        )
    })
}

/// The role's path, from its ARN's resource (`role/PATH/NAME`): `/` when it has none.
fn path_of(resource: &str) -> String {
    let inner = resource.strip_prefix("role").unwrap_or(resource);
    match inner.rfind('/') {
        Some(end) if end > 0 => inner[..=end].to_owned(),
        _ => "/".to_owned(),
    }
}

/// Whether `executionRoleArn` names the role with its real path (IAM finds a role by name
/// alone; ECS assumes the ARN as written).
fn same_path(arn: &str, role: &Role, report: &mut Report) -> bool {
    let (Some(given), Some(real)) = (Arn::parse(arn), Arn::parse(&role.arn)) else {
        return true;
    };
    let (given_path, real_path) = (path_of(given.resource), path_of(real.resource));
    if given_path == real_path {
        return true;
    }
    report.fail(
        0,
        format!(
            "execution role `{}` has the path `{real_path}` (its ARN is `{}`), and `executionRoleArn` names the path `{given_path}`: ECS cannot assume a role by another path",
            role.name, role.arn
        ),
        format!("write `executionRoleArn`: `{}`", role.arn),
    );
    false
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

/// Whether ECS may assume the role for a task of the role's account in `region`: the trust
/// policy evaluated, its Denies and its conditions on `aws:SourceAccount` and `aws:SourceArn`.
fn trusts(role: &Role, region: &str, report: &mut Report) {
    let name = &role.name;
    let partition = partition_of(region);
    let account = Arn::parse(&role.arn).map_or("", |a| a.account);
    let context = iam::context::assume(partition, region, account);
    let trust = iam::trust(&role.trust, partition, &context);
    if let Some(sid) = &trust.denied {
        return report.fail(
            0,
            format!("the trust policy of execution role `{name}` denies `ecs-tasks.amazonaws.com` `sts:AssumeRole` (statement `{sid}`)"),
            format!("remove or narrow statement `{sid}` of the role's trust policy"),
        );
    }
    match (&trust.allows, &trust.refused) {
        (Allows::Yes, _) => report.push(
            Status::Ok,
            0,
            format!("execution role `{name}` exists and trusts `ecs-tasks.amazonaws.com`"),
        ),
        (Allows::If { sid, unknown }, _) => report.push(
            Status::Warn,
            0,
            format!(
                "execution role `{name}` lets `ecs-tasks.amazonaws.com` assume it only if {} of statement `{sid}` holds, which is not known before the task starts",
                iam::keys(unknown)
            ),
        ),
        (_, Some((sid, keys))) => report.fail(
            0,
            format!(
                "execution role `{name}` lets `ecs-tasks.amazonaws.com` assume it only under {} of statement `{sid}`, which tasks of account {account} in {region} do not meet",
                iam::keys(keys)
            ),
            format!(
                r#"make the conditions of statement `{sid}` name the task's account and Region: "Condition":{{"StringEquals":{{"aws:SourceAccount":"{account}"}},"ArnLike":{{"aws:SourceArn":"arn:{partition}:ecs:{region}:{account}:*"}}}}"#
            ),
        ),
        _ => report.fail(
            0,
            format!("execution role `{name}` does not let `ecs-tasks.amazonaws.com` assume it"),
            r#"add to its trust policy: {"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}"#,
        ),
    }
    if let Some((sid, unknown)) = &trust.may_deny {
        report.push(
            Status::Warn,
            0,
            format!(
                "statement `{sid}` of the trust policy of `{name}` denies `ecs-tasks.amazonaws.com` `sts:AssumeRole` if {} holds, which is not known before the task starts",
                iam::keys(unknown)
            ),
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
            tags: Vec::new(),
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

    #[test]
    fn only_a_role_arn_of_the_tasks_partition_is_one_ecs_can_assume() {
        let problem = |arn: &str| not_a_role_arn(arn, "us-east-1").map(|(p, _)| p);
        assert_eq!(problem("arn:aws:iam::123456789012:role/exec"), None);
        assert_eq!(problem("arn:aws:iam::123456789012:role/svc/exec"), None);
        assert_eq!(problem("exec"), None);
        assert!(
            problem("arn:aws:iam::123456789012:user/exec")
                .unwrap()
                .contains("the IAM user `exec`")
        );
        assert!(
            problem("arn:aws:iam::123456789012:instance-profile/exec")
                .unwrap()
                .contains("the instance profile `exec`")
        );
        assert!(
            problem("arn:aws-cn:iam::123456789012:role/exec")
                .unwrap()
                .contains("partition `aws-cn`")
        );
        assert!(not_a_role_arn("arn:aws-cn:iam::123456789012:role/exec", "cn-north-1").is_none());
        assert!(
            problem("arn:aws:iam:us-east-1:123456789012:role/exec")
                .unwrap()
                .contains("Region")
        );
        assert!(
            problem("arn:aws:iam::1234:role/exec")
                .unwrap()
                .contains("12-digit")
        );
        assert!(problem("arn:aws:sts::123456789012:assumed-role/exec/s").is_some());
        assert!(
            problem("user/exec")
                .unwrap()
                .contains("neither a role ARN nor a role name")
        );
        assert!(problem("svc/exec").is_some());
    }

    #[test]
    fn paths_come_from_the_arn() {
        assert_eq!(path_of("role/exec"), "/");
        assert_eq!(path_of("role/svc/exec"), "/svc/");
        assert_eq!(path_of("role/a/b/exec"), "/a/b/");
    }
}
