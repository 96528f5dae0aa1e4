//! IAM's policy language, evaluated here: a role's identity policies and permissions boundary,
//! resource policies (KMS key policies, secret resource policies), trust policies, and the
//! meaning of IAM's own simulator answer. Wildcards match as IAM matches them ([`pattern`]),
//! policy variables are substituted and conditions evaluated where the request is known before
//! the task starts ([`context`], [`condition`]); what depends on anything else is reported as
//! not evaluated, never guessed. No call is made here: the documents come from `aws::iam`.

pub mod condition;
pub mod context;
mod pattern;
mod resource;
mod trust;

use serde_json::Value;

pub use condition::Truth;
pub use context::Context;
pub use resource::{Allows, Verdict, resource_verdict};
pub use trust::trust;

use crate::aws::iam::{RoleDocuments, Simulated};
use condition::Condition;
use pattern::{Pattern, Syntax};

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
    /// Its tags, the values of `aws:PrincipalTag/…`.
    pub tags: Vec<(String, String)>,
}

/// The principals a statement of a resource or trust policy names.
#[derive(Debug, Clone, Default)]
pub struct Principals {
    /// `NotPrincipal`: everyone but these.
    pub not: bool,
    /// `"*"` or `{"AWS": "*"}`.
    pub everyone: bool,
    pub aws: Vec<String>,
    pub services: Vec<String>,
}

/// One statement of a policy, with the policy it came from.
#[derive(Debug, Clone)]
pub struct Statement {
    pub policy: String,
    /// Its `Sid`, or `#n` for the n-th statement.
    pub sid: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub resources: Vec<String>,
    pub not_resources: Vec<String>,
    /// `None` in identity policies, which name no principal.
    pub principals: Option<Principals>,
    pub conditions: Vec<Condition>,
    /// Whether `${…}` is a policy variable: only in policies of version `2012-10-17`.
    pub variables: bool,
}

/// An Allow that names the action and the resource, but whose conditions do not hold for the
/// request: why a grant the user sees in a policy does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    pub policy: String,
    /// The condition keys that decided.
    pub keys: Vec<String>,
}

/// What the role may do with one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        by: String,
    },
    /// Allowed only if conditions on keys not known before the task starts hold (`unknown`
    /// names them).
    AllowedIf {
        by: String,
        unknown: Vec<String>,
    },
    /// Allowed by `by` unless a Deny in `deny` applies, which depends on keys not known before the
    /// task starts (`unknown`).
    AllowedUnless {
        by: String,
        deny: String,
        unknown: Vec<String>,
    },
    Denied {
        by: String,
    },
    /// No identity policy allows it; `boundary_too` when the permissions boundary leaves it out
    /// as well; `unmet`: an Allow for it whose conditions do not hold for this request.
    NotAllowed {
        boundary_too: bool,
        unmet: Option<Unmet>,
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

fn principals(value: &Value, not: bool) -> Principals {
    match value {
        Value::String(star) => Principals {
            not,
            everyone: star == "*",
            ..Principals::default()
        },
        principal => {
            let aws = strings(principal.get("AWS"));
            Principals {
                not,
                everyone: aws.iter().any(|a| a == "*"),
                aws,
                services: strings(principal.get("Service")),
            }
        }
    }
}

/// The statements of a policy document.
pub fn statements(policy: &str, document: &Value) -> Vec<Statement> {
    let list = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let variables = document.get("Version").and_then(Value::as_str) == Some("2012-10-17");
    list.iter()
        .enumerate()
        .map(|(i, s)| Statement {
            policy: policy.to_owned(),
            sid: s
                .get("Sid")
                .and_then(Value::as_str)
                .filter(|sid| !sid.is_empty())
                .map_or_else(|| format!("#{}", i + 1), str::to_owned),
            allow: s.get("Effect").and_then(Value::as_str) == Some("Allow"),
            actions: strings(s.get("Action")),
            not_actions: strings(s.get("NotAction")),
            resources: strings(s.get("Resource")),
            not_resources: strings(s.get("NotResource")),
            principals: match (s.get("Principal"), s.get("NotPrincipal")) {
                (Some(p), _) => Some(principals(p, false)),
                (None, Some(p)) => Some(principals(p, true)),
                (None, None) => None,
            },
            conditions: condition::parse(s.get("Condition")),
            variables,
        })
        .collect()
}

/// IAM wildcard matching of plain text (`*` any run of characters, `?` one character), as for
/// actions.
pub fn matches(pattern: &str, value: &str, case_sensitive: bool) -> bool {
    let syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    match pattern::parse(pattern, syntax, &Context::default()) {
        Pattern::Tokens(tokens) => pattern::text(&tokens, value, !case_sensitive),
        Pattern::Absent(_) | Pattern::Unknown(_) => false,
    }
}

impl Statement {
    /// Whether the statement is about `action` (`Action`, or everything but `NotAction`).
    pub fn acts(&self, action: &str) -> bool {
        if self.not_actions.is_empty() {
            self.actions.iter().any(|a| matches(a, action, false))
        } else {
            !self.not_actions.iter().any(|a| matches(a, action, false))
        }
    }

    /// Whether the statement is about `resource` (`Resource`, or everything but
    /// `NotResource`); a statement with neither (a trust policy's) is about anything.
    fn covers(&self, resource: &str, context: &Context) -> Truth {
        let syntax = Syntax {
            wildcards: true,
            variables: self.variables,
        };
        let any = |patterns: &[String]| {
            patterns
                .iter()
                .map(|p| match pattern::parse(p, syntax, context) {
                    Pattern::Tokens(tokens) => Truth::of(pattern::resource(&tokens, resource)),
                    // (A statement with such a variable is settled before its resources are.)
                    Pattern::Absent(_) => Truth::No(Vec::new()),
                    Pattern::Unknown(key) => Truth::Unknown(vec![key]),
                })
                .fold(Truth::No(Vec::new()), Truth::or)
        };
        match (self.resources.is_empty(), self.not_resources.is_empty()) {
            (true, true) => Truth::Yes,
            (_, false) => any(&self.not_resources).not(),
            (false, true) => any(&self.resources),
        }
    }

    /// Whether its conditions hold for the request.
    pub fn holds(&self, context: &Context) -> Truth {
        condition::all(&self.conditions, context, self.variables)
    }

    /// The key of a policy variable in its resources or condition values that the request does
    /// not carry (and that has no default), if any.
    fn absent_variable(&self, context: &Context) -> Option<String> {
        if !self.variables {
            return None;
        }
        let syntax = Syntax {
            wildcards: true,
            variables: true,
        };
        let values = self.conditions.iter().flat_map(|c| &c.values);
        self.resources
            .iter()
            .chain(&self.not_resources)
            .chain(values)
            .find_map(|text| match pattern::parse(text, syntax, context) {
                Pattern::Absent(key) => Some(key),
                _ => None,
            })
    }

    /// Whether the statement applies to `action` on `resource` (none for a trust policy) in the
    /// request `context` describes: action, resource and conditions. A policy variable without a
    /// value may make AWS hold the whole statement invalid: such an Allow does not apply, and
    /// such a Deny may.
    pub fn applies(&self, action: &str, resource: Option<&str>, context: &Context) -> Truth {
        if !self.acts(action) {
            return Truth::No(Vec::new());
        }
        if let Some(key) = self.absent_variable(context) {
            return if self.allow {
                Truth::No(Vec::new())
            } else {
                Truth::Unknown(vec![format!(
                    "how AWS treats its variable `${{{key}}}`, which has no value here"
                )])
            };
        }
        let covered = resource.map_or(Truth::Yes, |r| self.covers(r, context));
        covered.and(self.holds(context))
    }
}

impl Role {
    /// Whether a condition of its policies or boundary is about a resource's tags: then they are
    /// worth reading.
    pub fn mentions_resource_tags(&self) -> bool {
        let boundary = self.boundary.iter().flat_map(|(_, b)| b);
        self.statements.iter().chain(boundary).any(|s| {
            s.conditions.iter().any(|c| {
                c.key.to_ascii_lowercase().contains("resourcetag/")
                    || c.values
                        .iter()
                        .any(|v| v.to_ascii_lowercase().contains("resourcetag/"))
            })
        })
    }

    /// The role its documents describe.
    pub fn from_documents(documents: RoleDocuments) -> Self {
        let mut role = Role {
            arn: documents.arn,
            name: documents.name,
            trust: documents.trust,
            statements: Vec::new(),
            boundary: None,
            boundary_unread: None,
            tags: documents.tags,
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

/// Evaluates the identity policies: an explicit Deny wins, then an Allow. A statement whose
/// conditions (or policy variables) depend on what is not known before the task starts makes
/// the answer "allowed only if they hold".
pub fn evaluate(
    statements: &[Statement],
    action: &str,
    resource: &str,
    context: &Context,
) -> Decision {
    let mut allow = None;
    let mut allow_if: Option<(&Statement, Vec<String>)> = None;
    let mut deny_if: Option<(&Statement, Vec<String>)> = None;
    let mut unmet = None;
    for statement in statements {
        match statement.applies(action, Some(resource), context) {
            Truth::Yes if !statement.allow => {
                return Decision::Denied {
                    by: statement.policy.clone(),
                };
            }
            Truth::Yes => {
                allow.get_or_insert(statement);
            }
            Truth::Unknown(keys) if statement.allow => {
                allow_if.get_or_insert((statement, keys));
            }
            Truth::Unknown(keys) => {
                deny_if.get_or_insert((statement, keys));
            }
            // Its action and resource match: only its conditions keep it out.
            Truth::No(keys)
                if statement.allow
                    && !keys.is_empty()
                    && statement.covers(resource, context) == Truth::Yes =>
            {
                unmet.get_or_insert(Unmet {
                    policy: statement.policy.clone(),
                    keys,
                });
            }
            Truth::No(_) => {}
        }
    }
    match (allow, allow_if, deny_if) {
        (Some(allow), _, Some((deny, keys))) => Decision::AllowedUnless {
            by: allow.policy.clone(),
            deny: deny.policy.clone(),
            unknown: keys,
        },
        (Some(allow), _, None) => Decision::Allowed {
            by: allow.policy.clone(),
        },
        (None, Some((allow, mut keys)), deny) => {
            keys.extend(deny.into_iter().flat_map(|(_, k)| k));
            Decision::AllowedIf {
                by: allow.policy.clone(),
                unknown: keys,
            }
        }
        (None, None, _) => Decision::NotAllowed {
            boundary_too: false,
            unmet,
        },
    }
}

/// Evaluates the role: its identity policies and its permissions boundary. An action must be
/// allowed by both; an explicit Deny in either wins.
pub fn evaluate_role(role: &Role, action: &str, resource: &str, context: &Context) -> Decision {
    let identity = evaluate(&role.statements, action, resource, context);
    let Some((_, boundary)) = &role.boundary else {
        return identity;
    };
    let bounded = evaluate(boundary, action, resource, context);
    let allows = |d: &Decision| {
        matches!(
            d,
            Decision::Allowed { .. } | Decision::AllowedIf { .. } | Decision::AllowedUnless { .. }
        )
    };
    match (identity, bounded) {
        (denied @ Decision::Denied { .. }, _) | (_, denied @ Decision::Denied { .. }) => denied,
        (Decision::NotAllowed { unmet, .. }, bounded) => Decision::NotAllowed {
            boundary_too: !allows(&bounded),
            unmet,
        },
        (_, Decision::NotAllowed { .. }) => Decision::OutsideBoundary,
        (Decision::Allowed { by }, Decision::Allowed { .. }) => Decision::Allowed { by },
        (unless @ Decision::AllowedUnless { .. }, Decision::Allowed { .. }) => unless,
        (Decision::Allowed { by }, Decision::AllowedUnless { deny, unknown, .. }) => {
            Decision::AllowedUnless { by, deny, unknown }
        }
        (identity, bounded) => Decision::AllowedIf {
            by: format!(
                "{}` and the permissions boundary `{}",
                by_of(&identity),
                by_of(&bounded)
            ),
            unknown: [unknown_of(&identity), unknown_of(&bounded)].concat(),
        },
    }
}

fn by_of(decision: &Decision) -> &str {
    match decision {
        Decision::Allowed { by }
        | Decision::AllowedIf { by, .. }
        | Decision::AllowedUnless { by, .. }
        | Decision::Denied { by } => by,
        Decision::NotAllowed { .. } | Decision::OutsideBoundary => "",
    }
}

fn unknown_of(decision: &Decision) -> Vec<String> {
    match decision {
        Decision::AllowedIf { unknown, .. } | Decision::AllowedUnless { unknown, .. } => {
            unknown.clone()
        }
        _ => Vec::new(),
    }
}

/// What is not known (or does not hold), for messages: condition keys, once each, as "the
/// condition on `aws:SourceIp`, `aws:SourceVpce`"; other reasons (which have spaces) as they
/// are.
pub fn keys(keys: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut reasons: Vec<&str> = Vec::new();
    for key in keys {
        if key.contains(' ') {
            if !reasons.contains(&key.as_str()) {
                reasons.push(key);
            }
        } else if !seen.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            seen.push(key);
        }
    }
    let mut parts: Vec<String> = Vec::new();
    if !seen.is_empty() {
        let list: Vec<String> = seen.iter().map(|k| format!("`{k}`")).collect();
        parts.push(format!("the condition on {}", list.join(", ")));
    }
    parts.extend(reasons.iter().map(|r| (*r).to_owned()));
    if parts.is_empty() {
        return "its condition".to_owned();
    }
    parts.join(" and ")
}

/// What IAM's simulator answer means for the role.
pub fn simulated(result: &Simulated) -> Decision {
    let by = result.matched.join(", ");
    match result.decision.as_str() {
        // A Deny on context the simulation lacked did not match, and may when the task starts.
        "allowed" if !result.missing_context.is_empty() => Decision::AllowedIf {
            by,
            unknown: result.missing_context.clone(),
        },
        "allowed" => Decision::Allowed { by },
        "explicitDeny" => Decision::Denied { by },
        // The organization's SCPs limit every grant, a resource policy's too.
        _ if result.outside_scps => Decision::Denied {
            by: "the organization's service control policies".to_owned(),
        },
        // Conditions on context the simulation lacked: it cannot say no for certain.
        _ if !result.missing_context.is_empty() => Decision::AllowedIf {
            by: if by.is_empty() {
                "the role's policies".to_owned()
            } else {
                by
            },
            unknown: result.missing_context.clone(),
        },
        // Whether the identity policies allow it is not in the answer: the caller knows them.
        _ if result.outside_boundary => Decision::OutsideBoundary,
        _ => Decision::NotAllowed {
            boundary_too: false,
            unmet: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Vec<Statement> {
        statements("p", &serde_json::from_str(json).unwrap())
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/web-execution";

    fn role(json: &str) -> Role {
        Role {
            arn: ROLE.to_owned(),
            name: "web-execution".to_owned(),
            trust: Value::Null,
            statements: policy(json),
            boundary: None,
            boundary_unread: None,
            tags: vec![("app".to_owned(), "web".to_owned())],
        }
    }

    /// The decision for the role reading `resource` (through Secrets Manager for `kms:Decrypt`).
    fn decide(role: &Role, action: &str, resource: &str) -> Decision {
        let via = action
            .starts_with("kms:")
            .then_some("secretsmanager.us-east-1.amazonaws.com");
        evaluate_role(
            role,
            action,
            resource,
            &context::request(role, resource, via),
        )
    }

    const GET: &str = "secretsmanager:GetSecretValue";

    fn secret(name: &str) -> String {
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf")
    }

    #[test]
    fn deny_wins_over_allow_and_known_conditions_are_evaluated() {
        let role = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"},{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:prod/*"},{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}},{"Effect":"Allow","Action":"ssm:GetParameters","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
        );
        assert!(matches!(
            decide(&role, GET, &secret("prod/db")),
            Decision::Denied { .. }
        ));
        assert!(matches!(
            decide(&role, GET, &secret("dev/db")),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            decide(
                &role,
                "kms:Decrypt",
                "arn:aws:kms:us-east-1:123456789012:key/k"
            ),
            Decision::Allowed { .. }
        ));
        assert_eq!(
            decide(
                &role,
                "ssm:GetParameters",
                "arn:aws:ssm:us-east-1:123456789012:parameter/x"
            ),
            Decision::AllowedIf {
                by: "p".to_owned(),
                unknown: vec!["aws:SourceIp".to_owned()]
            }
        );
        assert_eq!(
            decide(
                &role,
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:123456789012:q"
            ),
            Decision::NotAllowed {
                boundary_too: false,
                unmet: None
            }
        );
    }

    #[test]
    fn an_allow_whose_conditions_do_not_hold_is_named() {
        let role = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"ssm.us-east-1.amazonaws.com"}}},{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:*:key/other"}]}"#,
        );
        assert_eq!(
            decide(
                &role,
                "kms:Decrypt",
                "arn:aws:kms:us-east-1:123456789012:key/k"
            ),
            Decision::NotAllowed {
                boundary_too: false,
                unmet: Some(Unmet {
                    policy: "p".to_owned(),
                    keys: vec!["kms:ViaService".to_owned()]
                })
            }
        );
    }

    #[test]
    fn a_star_inside_an_arn_segment_does_not_reach_into_the_next() {
        // `*2` would take `us-east-1:123456789012` as text; as IAM reads it, it is a Region.
        let role = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*2:secret:prod/*"}]}"#,
        );
        assert!(matches!(
            decide(&role, GET, &secret("prod/db")),
            Decision::NotAllowed { .. }
        ));
    }

    #[test]
    fn policy_variables_come_from_the_roles_tags_and_account() {
        let tagged = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:${aws:PrincipalTag/app}/*"}]}"#,
        );
        assert!(matches!(
            decide(&tagged, GET, &secret("web/db")),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            decide(&tagged, GET, &secret("api/db")),
            Decision::NotAllowed { .. }
        ));
        let deny = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"},{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/app}/*"}]}"#,
        );
        assert!(matches!(
            decide(&deny, GET, &secret("web/db")),
            Decision::Denied { .. }
        ));
        // A role has no user name: a statement on `${aws:username}` matches nothing.
        let user = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:username}/*"}]}"#,
        );
        assert!(matches!(
            decide(&user, GET, &secret("web/db")),
            Decision::NotAllowed { .. }
        ));
        // A key not known before the task starts: neither yes nor no.
        let vpce = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:SourceVpce}/*"}]}"#,
        );
        assert!(matches!(
            decide(&vpce, GET, &secret("web/db")),
            Decision::AllowedIf { .. }
        ));
        // Without the 2012-10-17 version, `${…}` is text.
        let old = role(
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/app}/*"}]}"#,
        );
        assert!(matches!(
            decide(&old, GET, &secret("web/db")),
            Decision::NotAllowed { .. }
        ));
    }

    #[test]
    fn a_permissions_boundary_can_only_take_away() {
        let mut bounded = role(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
        bounded.boundary = Some((
            "boundary".to_owned(),
            statements(
                "boundary",
                &serde_json::from_str(r#"{"Statement":[{"Effect":"Allow","Action":["ssm:*","kms:Decrypt"],"Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:*:key/locked"}]}"#).unwrap(),
            ),
        ));
        let ssm = "arn:aws:ssm:us-east-1:1:parameter/x";
        assert!(matches!(
            decide(&bounded, "ssm:GetParameters", ssm),
            Decision::Allowed { .. }
        ));
        assert_eq!(
            decide(&bounded, GET, &secret("x")),
            Decision::OutsideBoundary
        );
        let locked = "arn:aws:kms:us-east-1:1:key/locked";
        assert!(matches!(
            decide(&bounded, "kms:Decrypt", locked),
            Decision::Denied { .. }
        ));
        // Neither the role's policies nor the boundary allow it: both are named.
        let narrow = Role {
            statements: policy(
                r#"{"Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}"#,
            ),
            ..bounded
        };
        assert_eq!(
            decide(&narrow, GET, &secret("x")),
            Decision::NotAllowed {
                boundary_too: true,
                unmet: None
            }
        );
        // A Deny in the boundary is a Deny, even where the role's policies allow nothing.
        assert!(matches!(
            decide(&narrow, "kms:Decrypt", locked),
            Decision::Denied { by } if by == "boundary"
        ));
    }

    #[test]
    fn condition_keys_are_listed_once_for_messages() {
        let keys_ = vec![
            "aws:SourceIp".to_owned(),
            "AWS:SourceIp".to_owned(),
            "x".to_owned(),
        ];
        assert_eq!(keys(&keys_), "the condition on `aws:SourceIp`, `x`");
        assert_eq!(keys(&[]), "its condition");
    }
}
