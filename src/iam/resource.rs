//! What a resource policy (a KMS key policy, a secret's resource policy) says about the
//! execution role and one action: a Deny, a grant to the role itself, or a grant to its account
//! that leaves the decision to the account's IAM policies.

use serde_json::Value;

use super::{Context, Principals, Statement, Truth, statements};
use crate::reference::Arn;

/// How a resource policy allows something: not at all, always, or only if conditions on keys
/// not known before the task starts hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allows {
    No,
    Yes,
    If {
        sid: String,
        unknown: Vec<String>,
    },
    /// The policy could not be read: it may allow it.
    Unknown,
}

impl Allows {
    /// The stronger of two answers: `Yes` over `If` over `Unknown` over `No`.
    pub(super) fn or(self, other: Allows) -> Allows {
        match (self, other) {
            (Allows::Yes, _) | (_, Allows::Yes) => Allows::Yes,
            (a @ Allows::If { .. }, _) | (_, a @ Allows::If { .. }) => a,
            (Allows::Unknown, _) | (_, Allows::Unknown) => Allows::Unknown,
            (Allows::No, Allows::No) => Allows::No,
        }
    }
}

/// A Deny statement that applies, or may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deny {
    /// It names the role, its account or everyone.
    Named { sid: String },
    /// `NotPrincipal`: it denies everyone it does not list, and does not list the role.
    AllBut { sid: String },
    /// It applies if conditions on these keys hold, which are not known before the task starts.
    If { sid: String, unknown: Vec<String> },
    /// `NotPrincipal` lists the role or its account, but no session of the role: ECS starts one
    /// per task, with a name not known here, and AWS matches the session.
    AllButSessions { sid: String },
}

impl Deny {
    pub fn sid(&self) -> &str {
        match self {
            Deny::Named { sid }
            | Deny::AllBut { sid }
            | Deny::If { sid, .. }
            | Deny::AllButSessions { sid } => sid,
        }
    }

    /// What the statement does, for a message: "statement `X` of {policy} {this}".
    pub fn describe(&self, role: &str, action: &str) -> String {
        match self {
            Deny::Named { .. } => format!("denies `{role}` `{action}`"),
            Deny::AllBut { .. } => format!(
                "denies `{action}` to every principal its `NotPrincipal` does not list, and it does not list `{role}`"
            ),
            Deny::If { unknown, .. } => format!(
                "denies `{action}` if {} holds, which is not known before the task starts",
                super::keys(unknown)
            ),
            Deny::AllButSessions { .. } => format!(
                "denies `{action}` to every principal its `NotPrincipal` does not list; it lists `{role}` or its account but no session of the role, and ECS starts a session per task whose name is not known here: AWS may deny it"
            ),
        }
    }
}

/// What a resource policy says about one role and one action.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// A statement that denies it.
    pub denied: Option<Deny>,
    /// A statement that may deny it.
    pub may_deny: Option<Deny>,
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

/// Whom a principal list names: the role itself (or everyone), its account, or neither.
struct Named {
    role: bool,
    account: bool,
    /// A session of the role: `arn:…:sts::ACCOUNT:assumed-role/NAME/SESSION`.
    session: bool,
}

fn named(principals: &Principals, role_arn: &str, role: &Arn<'_>) -> Named {
    let root = format!("arn:{}:iam::{}:root", role.partition, role.account);
    let name = role.resource.rsplit('/').next().unwrap_or_default();
    let sessions = format!(
        "arn:{}:sts::{}:assumed-role/{name}/",
        role.partition, role.account
    );
    Named {
        role: principals.everyone || principals.aws.iter().any(|p| p == role_arn),
        account: principals
            .aws
            .iter()
            .any(|p| p == role.account || p == &root),
        session: principals.aws.iter().any(|p| p.starts_with(&sessions)),
    }
}

/// What `policy`, a resource policy, says about `action` on `resource` by the role `role_arn`
/// in the request `context` describes. Principals are matched as AWS does: `*`, the exact role
/// ARN, the account's root ARN or its id (no partial wildcards in principals); `Resource` and
/// `NotResource` as in identity policies; conditions are evaluated where their keys are known.
pub fn resource_verdict(
    policy: &Value,
    action: &str,
    resource: &str,
    role_arn: &str,
    context: &Context,
) -> Verdict {
    let mut verdict = Verdict {
        denied: None,
        may_deny: None,
        to_role: Allows::No,
        to_account: Allows::No,
    };
    let Some(role) = Arn::parse(role_arn) else {
        return verdict;
    };
    for statement in statements("resource", policy) {
        let Some(principals) = &statement.principals else {
            continue;
        };
        let holds = statement.applies(action, Some(resource), context);
        if matches!(holds, Truth::No(_)) {
            continue;
        }
        let named = named(principals, role_arn, &role);
        if principals.not {
            // Everyone but the principals listed: a grant that way is not counted.
            if !statement.allow {
                deny_all_but(&mut verdict, &statement, &named, holds);
            }
            continue;
        }
        if !(named.role || named.account) {
            continue;
        }
        let sid = statement.sid.clone();
        match (statement.allow, holds) {
            (false, Truth::Yes) => {
                verdict.denied.get_or_insert(Deny::Named { sid });
            }
            (false, Truth::Unknown(unknown)) => {
                verdict.may_deny.get_or_insert(Deny::If { sid, unknown });
            }
            (true, holds) => {
                let allows = match holds {
                    Truth::Unknown(unknown) => Allows::If { sid, unknown },
                    _ => Allows::Yes,
                };
                if named.role {
                    verdict.to_role = verdict.to_role.clone().or(allows);
                } else {
                    verdict.to_account = verdict.to_account.clone().or(allows);
                }
            }
            (false, Truth::No(_)) => {}
        }
    }
    verdict
}

/// A `NotPrincipal` Deny: it denies the role unless it lists it, and listing the role or its
/// account does not list the session ECS uses.
fn deny_all_but(verdict: &mut Verdict, statement: &Statement, named: &Named, holds: Truth) {
    let sid = statement.sid.clone();
    let listed = named.role || named.account || named.session;
    match (listed, holds) {
        (false, Truth::Unknown(unknown)) => {
            verdict.may_deny.get_or_insert(Deny::If { sid, unknown });
        }
        (false, _) => {
            verdict.denied.get_or_insert(Deny::AllBut { sid });
        }
        (true, _) => {
            verdict.may_deny.get_or_insert(Deny::AllButSessions { sid });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/web-execution";
    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/k";

    fn context() -> Context {
        let mut context = Context::default();
        context.set("aws:PrincipalArn", ROLE);
        context.set("aws:PrincipalAccount", "123456789012");
        context.set("kms:ViaService", "secretsmanager.us-east-1.amazonaws.com");
        context
    }

    fn verdict(statements: &str) -> Verdict {
        let policy = serde_json::from_str(&format!(
            r#"{{"Version":"2012-10-17","Statement":{statements}}}"#
        ))
        .unwrap();
        resource_verdict(&policy, "kms:Decrypt", KEY, ROLE, &context())
    }

    const DELEGATION: &str = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}"#;

    #[test]
    fn a_resource_policy_names_the_role_delegates_to_its_account_or_says_nothing() {
        // The default key policy: the account's IAM policies decide.
        let v = verdict(&format!("[{DELEGATION}]"));
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
    }

    #[test]
    fn denies_by_name_by_condition_and_by_not_principal() {
        let v = verdict(&format!(
            r#"[{DELEGATION},{{"Sid":"NoDecrypt","Effect":"Deny","Principal":"*","NotAction":"kms:Describe*","Resource":"*"}}]"#
        ));
        assert_eq!(
            v.denied,
            Some(Deny::Named {
                sid: "NoDecrypt".into()
            })
        );
        // A condition on a key not known here: it may deny.
        let v = verdict(&format!(
            r#"[{DELEGATION},{{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{{"StringNotEquals":{{"aws:PrincipalOrgID":"o-1"}}}}}}]"#
        ));
        assert_eq!(
            (v.denied, v.may_deny, v.to_account),
            (
                None,
                Some(Deny::If {
                    sid: "OrgOnly".into(),
                    unknown: vec!["aws:PrincipalOrgID".into()]
                }),
                Allows::Yes
            )
        );
        // A condition that is known not to hold: no Deny.
        let v = verdict(&format!(
            r#"[{DELEGATION},{{"Sid":"OtherAccounts","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{{"StringNotEquals":{{"aws:PrincipalAccount":"123456789012"}}}}}}]"#
        ));
        assert_eq!((v.denied, v.may_deny), (None, None));
        // Everyone but an admin role: the execution role is denied.
        let v = verdict(&format!(
            r#"[{DELEGATION},{{"Sid":"AllBut","Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::123456789012:role/admin"}},"Action":"kms:*","Resource":"*"}}]"#
        ));
        assert_eq!(
            v.denied,
            Some(Deny::AllBut {
                sid: "AllBut".into()
            })
        );
        // Everyone but the role and its account: its sessions may still be denied.
        let v = verdict(&format!(
            r#"[{DELEGATION},{{"Sid":"AllBut","Effect":"Deny","NotPrincipal":{{"AWS":["{ROLE}","arn:aws:iam::123456789012:root"]}},"Action":"kms:*","Resource":"*"}}]"#
        ));
        assert_eq!(
            (v.denied, v.may_deny),
            (
                None,
                Some(Deny::AllButSessions {
                    sid: "AllBut".into()
                })
            )
        );
    }

    #[test]
    fn grants_under_conditions_are_evaluated_where_their_keys_are_known() {
        let via = |service: &str| {
            verdict(&format!(
                r#"[{{"Sid":"ViaSM","Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:ViaService":"{service}"}}}}}}]"#
            ))
        };
        assert_eq!(
            via("secretsmanager.us-east-1.amazonaws.com").to_role,
            Allows::Yes
        );
        assert_eq!(via("ssm.us-east-1.amazonaws.com").to_role, Allows::No);
        let v = verdict(&format!(
            r#"[{{"Sid":"Vpce","Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"aws:SourceVpce":"vpce-1"}}}}}}]"#
        ));
        assert_eq!(
            v.to_role,
            Allows::If {
                sid: "Vpce".into(),
                unknown: vec!["aws:SourceVpce".into()]
            }
        );
    }

    #[test]
    fn a_statement_about_another_resource_says_nothing_about_this_one() {
        let other = format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{ROLE}"}},"Action":"kms:Decrypt","Resource":"arn:aws:kms:us-east-1:123456789012:key/other"}}"#
        );
        assert!(!verdict(&other).allows_at_all());
        let this = other.replace("key/other", "key/k");
        assert_eq!(verdict(&this).to_role, Allows::Yes);
        let deny_other = format!(
            r#"[{DELEGATION},{{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/other"}}]"#
        );
        assert_eq!(verdict(&deny_other).denied, None);
    }
}
