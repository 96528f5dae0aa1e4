//! IAM's policy language, evaluated here: a role's identity policies and permissions boundary
//! (Allow and Deny, action and resource wildcards), resource policies (KMS key policies, secret
//! resource policies), trust policies, and the meaning of IAM's own simulator answer.
//! Conditions, SCPs and the like are reported as not evaluated rather than guessed. No call is
//! made here: the documents come from `aws::iam`.

use serde_json::Value;

use crate::aws::iam::{RoleDocuments, Simulated};

/// A role and the identity policies attached to it.
#[derive(Debug, Clone)]
pub struct Role {
    pub arn: String,
    pub name: String,
    pub trust: Value,
    pub statements: Vec<Statement>,
    /// Its permissions boundary, if it has one (name, statements): an action must be allowed by
    /// both the identity policies and the boundary.
    pub boundary: Option<(String, Vec<Statement>)>,
    /// Why the boundary the role has could not be read, if it could not.
    pub boundary_unread: Option<String>,
}

/// One statement of an identity policy, with the policy it came from.
#[derive(Debug, Clone)]
pub struct Statement {
    pub policy: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub resources: Vec<String>,
    pub not_resources: Vec<String>,
    pub has_condition: bool,
}

/// What the role may do with one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        by: String,
    },
    /// Allowed only by statements with conditions, which are not evaluated locally.
    AllowedIf {
        by: String,
    },
    Denied {
        by: String,
    },
    /// No identity policy allows it; `boundary_too` when the permissions boundary leaves it out
    /// as well.
    NotAllowed {
        boundary_too: bool,
    },
    /// The identity policies allow it, the role's permissions boundary does not.
    OutsideBoundary,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn statements(policy: &str, document: &Value) -> Vec<Statement> {
    let list = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    list.iter()
        .map(|s| Statement {
            policy: policy.to_owned(),
            allow: s.get("Effect").and_then(Value::as_str) == Some("Allow"),
            actions: strings(s.get("Action")),
            not_actions: strings(s.get("NotAction")),
            resources: strings(s.get("Resource")),
            not_resources: strings(s.get("NotResource")),
            has_condition: s
                .get("Condition")
                .is_some_and(|c| c.as_object().is_some_and(|m| !m.is_empty())),
        })
        .collect()
}

impl Role {
    /// The role its documents describe.
    pub fn from_documents(documents: RoleDocuments) -> Self {
        let mut role = Role {
            arn: documents.arn,
            name: documents.name,
            trust: documents.trust,
            statements: Vec::new(),
            boundary: None,
            boundary_unread: None,
        };
        for (policy, document) in &documents.policies {
            role.statements.extend(statements(policy, document));
        }
        match documents.boundary {
            Some(Ok((label, document))) => {
                let boundary = statements(&label, &document);
                role.boundary = Some((label, boundary));
            }
            Some(Err((arn, reason))) => {
                role.boundary_unread = Some(format!(
                    "permissions boundary `{arn}` cannot be read: {reason}"
                ));
            }
            None => {}
        }
        role
    }
}

/// Whether the trust policy lets ECS tasks assume the role.
pub fn trusts_ecs_tasks(trust: &Value) -> bool {
    statements("trust", trust)
        .iter()
        .zip(trust_principals(trust))
        .any(|(s, services)| {
            s.allow
                && s.actions
                    .iter()
                    .any(|a| matches(a, "sts:AssumeRole", false))
                && services
                    .iter()
                    .any(|p| p == "ecs-tasks.amazonaws.com" || p == "*")
        })
}

fn trust_principals(trust: &Value) -> Vec<Vec<String>> {
    let list = match trust.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    list.iter()
        .map(|s| match s.get("Principal") {
            Some(Value::String(star)) => vec![star.clone()],
            Some(principal) => strings(principal.get("Service")),
            None => Vec::new(),
        })
        .collect()
}

/// IAM wildcard matching: `*` any run of characters, `?` one character.
pub fn matches(pattern: &str, value: &str, case_sensitive: bool) -> bool {
    let (pattern, value) = if case_sensitive {
        (pattern.to_owned(), value.to_owned())
    } else {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    };
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < v.len() {
        if i < p.len() && (p[i] == '?' || p[i] == v[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

fn applies(statement: &Statement, action: &str, resource: &str) -> bool {
    let action_ok = if statement.not_actions.is_empty() {
        statement.actions.iter().any(|a| matches(a, action, false))
    } else {
        !statement
            .not_actions
            .iter()
            .any(|a| matches(a, action, false))
    };
    let resource_ok = if statement.not_resources.is_empty() {
        statement
            .resources
            .iter()
            .any(|r| matches(r, resource, true))
    } else {
        !statement
            .not_resources
            .iter()
            .any(|r| matches(r, resource, true))
    };
    action_ok && resource_ok
}

/// Evaluates the identity policies: an explicit Deny wins, then an Allow. Statements with
/// conditions are not evaluated: an Allow with one, or a Deny with one beside an Allow, makes the
/// answer "allowed only if the conditions say so".
pub fn evaluate(statements: &[Statement], action: &str, resource: &str) -> Decision {
    let matching: Vec<&Statement> = statements
        .iter()
        .filter(|s| applies(s, action, resource))
        .collect();
    if let Some(deny) = matching.iter().find(|s| !s.allow && !s.has_condition) {
        return Decision::Denied {
            by: deny.policy.clone(),
        };
    }
    let conditional_deny = matching.iter().find(|s| !s.allow && s.has_condition);
    if let Some(allow) = matching.iter().find(|s| s.allow && !s.has_condition) {
        return match conditional_deny {
            Some(deny) => Decision::AllowedIf {
                by: format!(
                    "{}` and the conditional Deny in `{}",
                    allow.policy, deny.policy
                ),
            },
            None => Decision::Allowed {
                by: allow.policy.clone(),
            },
        };
    }
    if let Some(allow) = matching.iter().find(|s| s.allow) {
        return Decision::AllowedIf {
            by: allow.policy.clone(),
        };
    }
    Decision::NotAllowed {
        boundary_too: false,
    }
}

/// Evaluates the role: its identity policies and its permissions boundary. An action must be
/// allowed by both; an explicit Deny in either wins.
pub fn evaluate_role(role: &Role, action: &str, resource: &str) -> Decision {
    let identity = evaluate(&role.statements, action, resource);
    let Some((_, boundary)) = &role.boundary else {
        return identity;
    };
    let bounded = evaluate(boundary, action, resource);
    let allows = |d: &Decision| matches!(d, Decision::Allowed { .. } | Decision::AllowedIf { .. });
    match (identity, bounded) {
        (denied @ Decision::Denied { .. }, _) | (_, denied @ Decision::Denied { .. }) => denied,
        (Decision::NotAllowed { .. }, bounded) => Decision::NotAllowed {
            boundary_too: !allows(&bounded),
        },
        (_, Decision::NotAllowed { .. }) => Decision::OutsideBoundary,
        (Decision::Allowed { by }, Decision::Allowed { .. }) => Decision::Allowed { by },
        (identity, bounded) => Decision::AllowedIf {
            by: format!(
                "{}` and the permissions boundary `{}",
                by_of(&identity),
                by_of(&bounded)
            ),
        },
    }
}

fn by_of(decision: &Decision) -> &str {
    match decision {
        Decision::Allowed { by } | Decision::AllowedIf { by } | Decision::Denied { by } => by,
        Decision::NotAllowed { .. } | Decision::OutsideBoundary => "",
    }
}

/// How a resource policy allows something: not at all, always, or only under the conditions of
/// a statement (not evaluated here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allows {
    No,
    Yes,
    If {
        sid: String,
    },
    /// The policy could not be read: it may allow it.
    Unknown,
}

impl Allows {
    /// The stronger of two answers: `Yes` over `If` over `No`.
    fn or(self, other: Allows) -> Allows {
        match (self, other) {
            (Allows::Yes, _) | (_, Allows::Yes) => Allows::Yes,
            (Allows::If { sid }, _) | (_, Allows::If { sid }) => Allows::If { sid },
            (Allows::Unknown, _) | (_, Allows::Unknown) => Allows::Unknown,
            (Allows::No, Allows::No) => Allows::No,
        }
    }
}

/// What a resource policy (a KMS key policy, a secret's resource policy) says about one role and
/// one action.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// A statement without conditions denies it: its id.
    pub denied: Option<String>,
    /// A statement may deny it, under conditions or through `NotPrincipal`: its id.
    pub may_deny: Option<String>,
    /// How it allows the role itself (by its exact ARN, or anyone).
    pub to_role: Allows,
    /// How it allows the role's account, whose IAM policies then decide.
    pub to_account: Allows,
}

impl Verdict {
    /// Whether the policy allows the role in any way.
    pub fn allows_at_all(&self) -> bool {
        self.to_role != Allows::No || self.to_account != Allows::No
    }
}

/// What `policy`, a resource policy, says about `action` by the role `role_arn`. Principals are
/// matched as AWS does: `*`, the exact role ARN, the account's root ARN or its id (no partial
/// wildcards in principals).
pub fn resource_verdict(policy: &Value, action: &str, role_arn: &str) -> Verdict {
    let mut verdict = Verdict {
        denied: None,
        may_deny: None,
        to_role: Allows::No,
        to_account: Allows::No,
    };
    let Some(role) = crate::reference::Arn::parse(role_arn) else {
        return verdict;
    };
    let root = format!("arn:{}:iam::{}:root", role.partition, role.account);
    let statements = match policy.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    for (i, statement) in statements.iter().enumerate() {
        let sid = statement
            .get("Sid")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{}", i + 1), str::to_owned);
        let acts = match statement.get("NotAction") {
            Some(not) => !strings(Some(not)).iter().any(|a| matches(a, action, false)),
            None => strings(statement.get("Action"))
                .iter()
                .any(|a| matches(a, action, false)),
        };
        if !acts {
            continue;
        }
        let allow = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
        if statement.get("NotPrincipal").is_some() {
            // Everyone but the principals listed: not evaluated; a Deny may apply.
            if !allow {
                verdict.may_deny = verdict.may_deny.or(Some(sid));
            }
            continue;
        }
        let principals = match statement.get("Principal") {
            Some(Value::String(star)) => vec![star.clone()],
            Some(principal) => strings(principal.get("AWS")),
            None => Vec::new(),
        };
        let names_role = principals.iter().any(|p| p == "*" || p == role_arn);
        let names_account = principals.iter().any(|p| p == role.account || p == &root);
        if !(names_role || names_account) {
            continue;
        }
        let conditional = statement
            .get("Condition")
            .is_some_and(|c| c.as_object().is_some_and(|m| !m.is_empty()));
        let allows = if conditional {
            Allows::If { sid: sid.clone() }
        } else {
            Allows::Yes
        };
        match (allow, conditional) {
            (false, false) => verdict.denied = verdict.denied.or(Some(sid)),
            (false, true) => verdict.may_deny = verdict.may_deny.or(Some(sid)),
            (true, _) if names_role => verdict.to_role = verdict.to_role.clone().or(allows),
            (true, _) => verdict.to_account = verdict.to_account.clone().or(allows),
        }
    }
    verdict
}

/// What IAM's simulator answer means for the role.
pub fn simulated(result: &Simulated) -> Decision {
    let by = result.matched.join(", ");
    match result.decision.as_str() {
        "allowed" => Decision::Allowed { by },
        "explicitDeny" => Decision::Denied { by },
        // The organization's SCPs limit every grant, a resource policy's too.
        _ if result.outside_scps => Decision::Denied {
            by: "the organization's service control policies".to_owned(),
        },
        // Conditions on context the simulation lacked: it cannot say no for certain.
        _ if !result.missing_context.is_empty() => Decision::AllowedIf {
            by: format!(
                "policies with conditions on {}",
                result.missing_context.join(", ")
            ),
        },
        // Whether the identity policies allow it is not in the answer: the caller knows them.
        _ if result.outside_boundary => Decision::OutsideBoundary,
        _ => Decision::NotAllowed {
            boundary_too: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Vec<Statement> {
        statements("p", &serde_json::from_str(json).unwrap())
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(matches(
            "secretsmanager:Get*",
            "secretsmanager:GetSecretValue",
            false
        ));
        assert!(matches(
            "SecretsManager:getsecretvalue",
            "secretsmanager:GetSecretValue",
            false
        ));
        assert!(matches(
            "arn:aws:secretsmanager:*:123456789012:secret:prod/db-??????",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
            true
        ));
        assert!(!matches(
            "arn:aws:secretsmanager:*:*:secret:prod/db",
            "arn:aws:secretsmanager:us-east-1:1:secret:prod/db-AbCdEf",
            true
        ));
        assert!(matches("*", "anything", true));
    }

    #[test]
    fn deny_wins_over_allow_and_conditions_are_not_evaluated() {
        let statements = policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"},{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:prod/*"},{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}]}"#,
        );
        assert!(matches!(
            evaluate(
                &statements,
                "secretsmanager:GetSecretValue",
                "arn:aws:secretsmanager:us-east-1:1:secret:prod/db-x"
            ),
            Decision::Denied { .. }
        ));
        assert!(matches!(
            evaluate(
                &statements,
                "secretsmanager:GetSecretValue",
                "arn:aws:secretsmanager:us-east-1:1:secret:dev/db-x"
            ),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            evaluate(&statements, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k"),
            Decision::AllowedIf { .. }
        ));
        assert_eq!(
            evaluate(
                &statements,
                "ssm:GetParameters",
                "arn:aws:ssm:us-east-1:1:parameter/x"
            ),
            Decision::NotAllowed {
                boundary_too: false
            }
        );
    }

    #[test]
    fn a_permissions_boundary_can_only_take_away() {
        let role = Role {
            arn: "arn:aws:iam::1:role/r".to_owned(),
            name: "r".to_owned(),
            trust: Value::Null,
            statements: policy(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
            boundary: Some((
                "boundary".to_owned(),
                statements(
                    "boundary",
                    &serde_json::from_str(r#"{"Statement":[{"Effect":"Allow","Action":["ssm:*","kms:Decrypt"],"Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:*:key/locked"}]}"#).unwrap(),
                ),
            )),
            boundary_unread: None,
        };
        let ssm = "arn:aws:ssm:us-east-1:1:parameter/x";
        assert!(matches!(
            evaluate_role(&role, "ssm:GetParameters", ssm),
            Decision::Allowed { .. }
        ));
        assert_eq!(
            evaluate_role(
                &role,
                "secretsmanager:GetSecretValue",
                "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf"
            ),
            Decision::OutsideBoundary
        );
        assert!(matches!(
            evaluate_role(&role, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/locked"),
            Decision::Denied { .. }
        ));
        // Neither the role's policies nor the boundary allow it: both are named.
        let narrow = Role {
            statements: policy(
                r#"{"Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}"#,
            ),
            ..role
        };
        assert_eq!(
            evaluate_role(
                &narrow,
                "secretsmanager:GetSecretValue",
                "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf"
            ),
            Decision::NotAllowed { boundary_too: true }
        );
        // A Deny in the boundary is a Deny, even where the role's policies allow nothing.
        assert!(matches!(
            evaluate_role(&narrow, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/locked"),
            Decision::Denied { by } if by == "boundary"
        ));
        let unbounded = Role {
            boundary: None,
            statements: policy(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
            ..narrow
        };
        assert!(matches!(
            evaluate_role(
                &unbounded,
                "secretsmanager:GetSecretValue",
                "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf"
            ),
            Decision::Allowed { .. }
        ));
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/web-execution";

    fn verdict(statements: &str) -> Verdict {
        let policy = serde_json::from_str(&format!(r#"{{"Statement":{statements}}}"#)).unwrap();
        resource_verdict(&policy, "kms:Decrypt", ROLE)
    }

    fn sid(sid: &str) -> Allows {
        Allows::If {
            sid: sid.to_owned(),
        }
    }

    #[test]
    fn a_resource_policy_names_the_role_delegates_to_its_account_or_says_nothing() {
        // The default key policy: the account's IAM policies decide.
        let delegation = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}"#;
        let v = verdict(&format!("[{delegation}]"));
        assert_eq!((v.to_role, v.to_account), (Allows::No, Allows::Yes));
        let v = verdict(
            r#"{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"kms:Decrypt","Resource":"*"}"#,
        );
        assert_eq!(v.to_account, Allows::Yes);
        // Other principals, other actions, or a partial wildcard (AWS allows none in principals).
        let v = verdict(
            r#"[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:role/admin"]},"Action":"kms:*","Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/web-execution"},"Action":"kms:Encrypt","Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/web-*"},"Action":"kms:*","Resource":"*"},{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}]"#,
        );
        assert!(!v.allows_at_all(), "{v:?}");
        // The role by its ARN, or everyone.
        let v = verdict(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/web-execution"},"Action":["kms:Decrypt"],"Resource":"*"}"#,
        );
        assert_eq!(v.to_role, Allows::Yes);
        let v = verdict(r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#);
        assert_eq!(v.to_role, Allows::Yes);
        // Denies: unconditional, conditional, and through NotPrincipal.
        let v = verdict(&format!(
            r#"[{delegation},{{"Sid":"NoDecrypt","Effect":"Deny","Principal":"*","NotAction":"kms:Describe*","Resource":"*"}}]"#
        ));
        assert_eq!(v.denied.as_deref(), Some("NoDecrypt"));
        let v = verdict(&format!(
            r#"[{delegation},{{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{{"StringNotEquals":{{"aws:PrincipalOrgID":"o-1"}}}}}},{{"Sid":"AllBut","Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::123456789012:role/admin"}},"Action":"kms:*","Resource":"*"}}]"#
        ));
        assert_eq!(
            (v.denied, v.may_deny.as_deref(), v.to_account),
            (None, Some("OrgOnly"), Allows::Yes)
        );
        // A conditional grant to the role beside the delegation: both are kept.
        let v = verdict(&format!(
            r#"[{delegation},{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:role/web-execution"}},"Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:ViaService":"ssm.us-east-1.amazonaws.com"}}}}}}]"#
        ));
        assert_eq!((v.to_role, v.to_account), (sid("#2"), Allows::Yes));
    }

    #[test]
    fn trust_policy_must_name_ecs_tasks() {
        let good: Value = serde_json::from_str(r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["ecs-tasks.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#).unwrap();
        let bad: Value = serde_json::from_str(r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#).unwrap();
        assert!(trusts_ecs_tasks(&good));
        assert!(!trusts_ecs_tasks(&bad));
    }
}
