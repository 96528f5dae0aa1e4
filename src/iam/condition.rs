//! A statement's `Condition` block, evaluated against what is known of the request: each
//! condition holds, does not, or depends on a key that is not known before the task starts.

use serde_json::Value;

use super::context::{Context, Known};
use super::pattern::{self, Pattern, Syntax};

/// Whether something holds: `No` and `Unknown` name the condition keys that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Truth {
    Yes,
    No(Vec<String>),
    Unknown(Vec<String>),
}

impl Truth {
    pub fn of(yes: bool) -> Truth {
        if yes {
            Truth::Yes
        } else {
            Truth::No(Vec::new())
        }
    }

    /// Both: a `No` decides; otherwise any `Unknown` leaves it open.
    pub fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::No(mut a), Truth::No(b)) => {
                a.extend(b);
                Truth::No(a)
            }
            (no @ Truth::No(_), _) | (_, no @ Truth::No(_)) => no,
            (Truth::Unknown(mut a), Truth::Unknown(b)) => {
                a.extend(b);
                Truth::Unknown(a)
            }
            (unknown @ Truth::Unknown(_), Truth::Yes)
            | (Truth::Yes, unknown @ Truth::Unknown(_)) => unknown,
            (Truth::Yes, Truth::Yes) => Truth::Yes,
        }
    }

    /// Either: a `Yes` decides; otherwise any `Unknown` leaves it open.
    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::Yes, _) | (_, Truth::Yes) => Truth::Yes,
            (Truth::Unknown(mut a), Truth::Unknown(b)) => {
                a.extend(b);
                Truth::Unknown(a)
            }
            (unknown @ Truth::Unknown(_), Truth::No(_))
            | (Truth::No(_), unknown @ Truth::Unknown(_)) => unknown,
            (Truth::No(mut a), Truth::No(b)) => {
                a.extend(b);
                Truth::No(a)
            }
        }
    }

    pub fn not(self) -> Truth {
        match self {
            Truth::Yes => Truth::No(Vec::new()),
            Truth::No(_) => Truth::Yes,
            unknown @ Truth::Unknown(_) => unknown,
        }
    }

    /// The same answer, naming `key` when it names nothing yet.
    fn about(self, key: &str) -> Truth {
        match self {
            Truth::No(keys) if keys.is_empty() => Truth::No(vec![key.to_owned()]),
            Truth::Unknown(keys) if keys.is_empty() => Truth::Unknown(vec![key.to_owned()]),
            other => other,
        }
    }
}

/// One condition: `{"StringEquals": {"aws:SourceAccount": ["123"]}}` is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// The conditions of a `Condition` block.
pub fn parse(block: Option<&Value>) -> Vec<Condition> {
    let Some(Value::Object(operators)) = block else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else { continue };
        for (key, values) in keys {
            let values = match values {
                Value::Array(items) => items.iter().filter_map(text).collect(),
                one => text(one).into_iter().collect(),
            };
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    out
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// How an operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Text {
        ignore_case: bool,
        like: bool,
    },
    Arn,
    Bool,
    Null,
    /// Numbers, dates, addresses, binary: not evaluated here.
    Other,
}

/// An operator taken apart: `ForAllValues:StringNotLikeIfExists`.
struct Operator {
    compare: Compare,
    negated: bool,
    if_exists: bool,
    /// `Some(true)` for `ForAllValues:`, `Some(false)` for `ForAnyValue:`.
    for_all: Option<bool>,
}

fn operator(text: &str) -> Option<Operator> {
    let lower = text.to_ascii_lowercase();
    let (for_all, rest) = if let Some(rest) = lower.strip_prefix("forallvalues:") {
        (Some(true), rest)
    } else if let Some(rest) = lower.strip_prefix("foranyvalue:") {
        (Some(false), rest)
    } else {
        (None, lower.as_str())
    };
    let (rest, if_exists) = match rest.strip_suffix("ifexists") {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let (compare, negated) = match rest {
        "stringequals" => (
            Compare::Text {
                ignore_case: false,
                like: false,
            },
            false,
        ),
        "stringnotequals" => (
            Compare::Text {
                ignore_case: false,
                like: false,
            },
            true,
        ),
        "stringequalsignorecase" => (
            Compare::Text {
                ignore_case: true,
                like: false,
            },
            false,
        ),
        "stringnotequalsignorecase" => (
            Compare::Text {
                ignore_case: true,
                like: false,
            },
            true,
        ),
        "stringlike" => (
            Compare::Text {
                ignore_case: false,
                like: true,
            },
            false,
        ),
        "stringnotlike" => (
            Compare::Text {
                ignore_case: false,
                like: true,
            },
            true,
        ),
        "arnequals" | "arnlike" => (Compare::Arn, false),
        "arnnotequals" | "arnnotlike" => (Compare::Arn, true),
        "bool" => (Compare::Bool, false),
        "null" => (Compare::Null, false),
        "numericnotequals" | "datenotequals" | "notipaddress" => (Compare::Other, true),
        other
            if other.starts_with("numeric")
                || other.starts_with("date")
                || other == "ipaddress"
                || other.starts_with("binary") =>
        {
            (Compare::Other, false)
        }
        _ => return None,
    };
    Some(Operator {
        compare,
        negated,
        if_exists,
        for_all,
    })
}

impl Condition {
    /// Whether the condition holds for the request `context` describes.
    pub fn holds(&self, context: &Context, variables: bool) -> Truth {
        let Some(op) = operator(&self.operator) else {
            return Truth::Unknown(vec![format!("{} (operator `{}`)", self.key, self.operator)]);
        };
        let Some(known) = context.get(&self.key) else {
            return Truth::Unknown(vec![self.key.clone()]);
        };
        let truth = match (known, op.compare) {
            (Known::Absent, _) => absent(&op, &self.values),
            (_, Compare::Null) => {
                Truth::of(self.values.iter().any(|v| v.eq_ignore_ascii_case("false")))
            }
            (_, Compare::Other) => Truth::Unknown(Vec::new()),
            (Known::Values(values), _) => self.compare(&op, &values, context, variables),
            (Known::ArnIn(prefix), _) => {
                let by_segment = op.compare == Compare::Arn;
                let matched = self.any_pattern(&op, context, variables, |tokens, ignore_case| {
                    match pattern::arn_in(tokens, &prefix, ignore_case, by_segment) {
                        Some(yes) => Truth::of(yes),
                        None => Truth::Unknown(Vec::new()),
                    }
                });
                if op.negated { matched.not() } else { matched }
            }
        };
        truth.about(&self.key)
    }

    /// The key's values against the condition's: per value, whether any pattern matches; then
    /// for one value, any (`ForAnyValue`) or all (`ForAllValues`).
    fn compare(
        &self,
        op: &Operator,
        values: &[String],
        context: &Context,
        variables: bool,
    ) -> Truth {
        let one = |value: &String| {
            let matched = self.any_pattern(op, context, variables, |tokens, ignore_case| {
                Truth::of(match op.compare {
                    Compare::Arn => pattern::arn(tokens, value),
                    Compare::Bool => pattern::text(tokens, value, true),
                    _ => pattern::text(tokens, value, ignore_case),
                })
            });
            if op.negated { matched.not() } else { matched }
        };
        if op.for_all == Some(true) {
            values.iter().map(one).fold(Truth::Yes, Truth::and)
        } else {
            values
                .iter()
                .map(one)
                .fold(Truth::No(Vec::new()), Truth::or)
        }
    }

    /// Whether any of the condition's values, read as patterns, matches by `test`.
    fn any_pattern(
        &self,
        op: &Operator,
        context: &Context,
        variables: bool,
        test: impl Fn(&[pattern::Token], bool) -> Truth,
    ) -> Truth {
        let (wildcards, ignore_case) = match op.compare {
            Compare::Text { ignore_case, like } => (like, ignore_case),
            Compare::Arn => (true, false),
            _ => (false, true),
        };
        let syntax = Syntax {
            wildcards,
            variables,
        };
        self.values
            .iter()
            .map(|v| match pattern::parse(v, syntax, context) {
                Pattern::Tokens(tokens) => test(&tokens, ignore_case),
                // (A statement with such a variable is settled before its conditions are.)
                Pattern::Absent(_) => Truth::No(Vec::new()),
                Pattern::Unknown(key) => Truth::Unknown(vec![key]),
            })
            .fold(Truth::No(Vec::new()), Truth::or)
    }
}

/// A condition on a key the request does not carry: `Null: true` holds, `…IfExists` holds,
/// `ForAllValues` holds (over no values) and `ForAnyValue` does not, a negated operator holds,
/// the rest do not.
fn absent(op: &Operator, values: &[String]) -> Truth {
    if op.compare == Compare::Null {
        return Truth::of(values.iter().any(|v| v.eq_ignore_ascii_case("true")));
    }
    if op.if_exists {
        return Truth::Yes;
    }
    Truth::of(match op.for_all {
        Some(all) => all,
        None => op.negated,
    })
}

/// Whether all of `conditions` hold.
pub fn all(conditions: &[Condition], context: &Context, variables: bool) -> Truth {
    conditions
        .iter()
        .map(|c| c.holds(context, variables))
        .fold(Truth::Yes, Truth::and)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(json: &str) -> Vec<Condition> {
        parse(Some(&serde_json::from_str(json).unwrap()))
    }

    fn holds(json: &str, context: &Context) -> Truth {
        all(&conditions(json), context, true)
    }

    fn trust() -> Context {
        super::super::context::assume("aws", "us-east-1", "123456789012")
    }

    #[test]
    fn source_account_and_source_arn_are_known_when_ecs_assumes_the_role() {
        let ctx = trust();
        let ok = r#"{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:ecs:us-east-1:123456789012:*"}}"#;
        assert_eq!(holds(ok, &ctx), Truth::Yes);
        let other = r#"{"StringEquals":{"aws:SourceAccount":"999999999999"}}"#;
        assert_eq!(
            holds(other, &ctx),
            Truth::No(vec!["aws:SourceAccount".to_owned()])
        );
        let region = r#"{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:eu-west-1:123456789012:*"}}"#;
        assert_eq!(
            holds(region, &ctx),
            Truth::No(vec!["aws:SourceArn".to_owned()])
        );
        let cluster =
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod"}}"#;
        assert_eq!(
            holds(cluster, &ctx),
            Truth::Unknown(vec!["aws:SourceArn".to_owned()])
        );
        let not = r#"{"StringNotEquals":{"aws:SourceAccount":["123456789012","210987654321"]}}"#;
        assert!(matches!(holds(not, &ctx), Truth::No(_)));
        let external = r#"{"StringEquals":{"sts:ExternalId":"x"}}"#;
        assert_eq!(
            holds(external, &ctx),
            Truth::Unknown(vec!["sts:ExternalId".to_owned()])
        );
        // Keys are not case-sensitive; operators neither.
        let case = r#"{"stringequals":{"AWS:SOURCEACCOUNT":"123456789012"}}"#;
        assert_eq!(holds(case, &ctx), Truth::Yes);
    }

    #[test]
    fn absent_keys_follow_iams_rules() {
        let ctx = trust();
        assert!(matches!(
            holds(r#"{"StringEquals":{"aws:username":"x"}}"#, &ctx),
            Truth::No(_)
        ));
        assert_eq!(
            holds(r#"{"StringNotEquals":{"aws:username":"x"}}"#, &ctx),
            Truth::Yes
        );
        assert_eq!(
            holds(r#"{"StringEqualsIfExists":{"aws:username":"x"}}"#, &ctx),
            Truth::Yes
        );
        assert_eq!(
            holds(r#"{"Null":{"aws:username":"true"}}"#, &ctx),
            Truth::Yes
        );
        assert!(matches!(
            holds(r#"{"Null":{"aws:SourceAccount":"true"}}"#, &ctx),
            Truth::No(_)
        ));
        assert_eq!(
            holds(r#"{"Bool":{"aws:SecureTransport":true}}"#, &ctx),
            Truth::Yes
        );
        // Numbers and addresses are not evaluated.
        assert!(matches!(
            holds(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &ctx),
            Truth::Unknown(_)
        ));
    }

    #[test]
    fn policy_variables_in_condition_values() {
        let mut ctx = Context::default();
        ctx.set("aws:ResourceAccount", "123456789012");
        ctx.set("aws:PrincipalAccount", "123456789012");
        let same = r#"{"StringEquals":{"aws:ResourceAccount":"${aws:PrincipalAccount}"}}"#;
        assert_eq!(holds(same, &ctx), Truth::Yes);
        let vpce = r#"{"StringEquals":{"aws:ResourceAccount":"${aws:SourceVpce}"}}"#;
        assert_eq!(
            holds(vpce, &ctx),
            Truth::Unknown(vec!["aws:SourceVpce".to_owned()])
        );
    }

    #[test]
    fn truth_combines_like_logic_with_an_unknown() {
        let no = Truth::No(vec!["a".into()]);
        let unknown = Truth::Unknown(vec!["b".into()]);
        assert_eq!(Truth::Yes.and(unknown.clone()), unknown);
        assert_eq!(unknown.clone().and(no.clone()), no);
        assert_eq!(unknown.clone().or(no.clone()), unknown);
        assert_eq!(no.clone().or(Truth::Yes), Truth::Yes);
        assert_eq!(unknown.clone().not(), unknown);
    }
}
