//! A role's trust policy: whether ECS (`ecs-tasks.amazonaws.com`) may assume the role for a
//! task of this account and Region. Evaluated like any policy: an explicit Deny wins, and the
//! conditions whose keys ECS sets (`aws:SourceAccount`, `aws:SourceArn`) are evaluated.

use serde_json::Value;

use super::{Allows, Context, Principals, Truth, statements};

const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";
const ASSUME_ROLE: &str = "sts:AssumeRole";

/// What the trust policy says about ECS tasks assuming the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// How it lets them.
    pub allows: Allows,
    /// A statement that would let them, but whose conditions tasks of this account and Region
    /// do not meet: its id and the condition keys.
    pub refused: Option<(String, Vec<String>)>,
    /// A Deny that applies: its id.
    pub denied: Option<String>,
    /// A Deny that applies if conditions not known here hold: its id and their keys.
    pub may_deny: Option<(String, Vec<String>)>,
}

/// Whether the statement's principals include ECS tasks in `partition`.
fn names_ecs_tasks(principals: &Principals, partition: &str) -> bool {
    let china = partition == "aws-cn";
    let listed = principals.everyone
        || principals
            .services
            .iter()
            .any(|s| s == ECS_TASKS || (china && s == "ecs-tasks.amazonaws.com.cn"));
    listed != principals.not
}

/// An Allow that names ECS tasks only as `{"AWS": "*"}`: whether that takes in a service
/// principal is not settled here.
fn only_as_any_aws(principals: &Principals) -> bool {
    !principals.not && principals.services.is_empty() && principals.aws.iter().any(|a| a == "*")
}

/// Evaluates the trust policy `document` for ECS assuming the role, in `partition`, in the
/// request `context` describes (see [`super::context::assume`]).
pub fn trust(document: &Value, partition: &str, context: &Context) -> Trust {
    let mut trust = Trust {
        allows: Allows::No,
        refused: None,
        denied: None,
        may_deny: None,
    };
    for statement in statements("trust", document) {
        let Some(principals) = &statement.principals else {
            continue;
        };
        if !names_ecs_tasks(principals, partition) {
            continue;
        }
        let sid = statement.sid.clone();
        let mut applies = statement.applies(ASSUME_ROLE, None, context);
        if statement.allow && applies == Truth::Yes && only_as_any_aws(principals) {
            applies = Truth::Unknown(vec![
                r#"whether its principal `{"AWS":"*"}` takes in the service `ecs-tasks.amazonaws.com`"#
                    .to_owned(),
            ]);
        }
        match (statement.allow, applies) {
            (false, Truth::Yes) => {
                trust.denied.get_or_insert(sid);
            }
            (false, Truth::Unknown(keys)) => {
                trust.may_deny.get_or_insert((sid, keys));
            }
            (_, Truth::No(keys)) if keys.is_empty() => {}
            (false, Truth::No(_)) => {}
            (true, Truth::Yes) => trust.allows = Allows::Yes,
            (true, Truth::Unknown(unknown)) => {
                trust.allows = trust.allows.clone().or(Allows::If { sid, unknown });
            }
            (true, Truth::No(keys)) => {
                trust.refused.get_or_insert((sid, keys));
            }
        }
    }
    trust
}

#[cfg(test)]
mod tests {
    use super::super::context::assume;
    use super::*;

    fn trust_of(statements: &str) -> Trust {
        let document = serde_json::from_str(&format!(
            r#"{{"Version":"2012-10-17","Statement":{statements}}}"#
        ))
        .unwrap();
        trust(
            &document,
            "aws",
            &assume("aws", "us-east-1", "123456789012"),
        )
    }

    const ECS: &str = r#"{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}"#;

    #[test]
    fn ecs_tasks_must_be_named_and_may_be_named_with_not_action() {
        assert_eq!(trust_of(ECS).allows, Allows::Yes);
        let ec2 = ECS.replace("ecs-tasks", "ec2");
        assert_eq!(trust_of(&ec2).allows, Allows::No);
        let list = r#"{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ecs-tasks.amazonaws.com"]},"Action":["sts:AssumeRole","sts:TagSession"]}"#;
        assert_eq!(trust_of(list).allows, Allows::Yes);
        let not_action = r#"{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"NotAction":"sts:TagSession"}"#;
        assert_eq!(trust_of(not_action).allows, Allows::Yes);
        let only_tags = r#"{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"NotAction":"sts:AssumeRole*"}"#;
        assert_eq!(trust_of(only_tags).allows, Allows::No);
        let china = ECS.replace("amazonaws.com", "amazonaws.com.cn");
        assert_eq!(trust_of(&china).allows, Allows::No, "outside aws-cn");
        let any_aws =
            r#"{"Sid":"Any","Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}"#;
        assert!(matches!(trust_of(any_aws).allows, Allows::If { .. }));
        let anyone = r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}"#;
        assert_eq!(trust_of(anyone).allows, Allows::Yes);
    }

    #[test]
    fn a_deny_wins_and_conditions_are_evaluated() {
        let deny_ecs = format!(
            r#"[{ECS},{{"Sid":"NoEcs","Effect":"Deny","Principal":{{"Service":"ecs-tasks.amazonaws.com"}},"Action":"sts:AssumeRole"}}]"#
        );
        assert_eq!(trust_of(&deny_ecs).denied.as_deref(), Some("NoEcs"));
        let deny_all = format!(
            r#"[{ECS},{{"Sid":"Nobody","Effect":"Deny","Principal":"*","Action":"sts:*"}}]"#
        );
        assert_eq!(trust_of(&deny_all).denied.as_deref(), Some("Nobody"));
        let other_account = r#"{"Sid":"Scoped","Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"999999999999"}}}"#;
        let t = trust_of(other_account);
        assert_eq!(t.allows, Allows::No);
        assert_eq!(
            t.refused,
            Some(("Scoped".to_owned(), vec!["aws:SourceAccount".to_owned()]))
        );
        let this_account = other_account.replace("999999999999", "123456789012");
        assert_eq!(trust_of(&this_account).allows, Allows::Yes);
        let external = r#"{"Sid":"Ext","Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}"#;
        assert_eq!(
            trust_of(external).allows,
            Allows::If {
                sid: "Ext".to_owned(),
                unknown: vec!["sts:ExternalId".to_owned()]
            }
        );
    }
}
