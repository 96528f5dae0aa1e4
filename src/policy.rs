//! Least-privilege policies for a rendered definition: one for the task execution role (what ECS
//! needs to read the secrets at task start) and one for the CI role that runs `ecs-secrets`
//! (registering, rolling out, and only the read calls the template's placeholders need).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::placeholder::Reference;
use crate::reference::Arn;
use crate::taskdef::{Rendered, Resolved, Slot};

/// Groups `(action, resource)` pairs into statements, one per action set, resources sorted.
fn statements(needs: &[(String, String)], region: &str) -> Vec<Value> {
    let mut by_action: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (action, resource) in needs {
        let list = by_action.entry(action).or_default();
        if !list.contains(&resource.as_str()) {
            list.push(resource);
        }
    }
    by_action
        .into_iter()
        .map(|(action, mut resources)| {
            resources.sort_unstable();
            let mut statement =
                json!({ "Effect": "Allow", "Action": action, "Resource": resources });
            if action == "kms:Decrypt" {
                // Only when Secrets Manager or Parameter Store decrypt on the role's behalf, in
                // the Regions of the keys (the default Region for a key given as `*`).
                let mut regions: Vec<&str> = resources
                    .iter()
                    .map(|r| Arn::parse(r).map_or(region, |a| a.region))
                    .collect();
                regions.sort_unstable();
                regions.dedup();
                let services: Vec<String> = regions
                    .iter()
                    .flat_map(|r| {
                        [
                            format!("secretsmanager.{r}.amazonaws.com"),
                            format!("ssm.{r}.amazonaws.com"),
                        ]
                    })
                    .collect();
                statement["Condition"] = json!({ "StringEquals": { "kms:ViaService": services } });
            }
            statement
        })
        .collect()
}

/// The execution role's policy, from what `check` found the role needs.
pub fn execution_role(needs: &[(String, String)], region: &str) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements(needs, region) })
}

/// What else the CI role runs besides registering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// With `preflight`, the calls the check makes (see `check::Report::reads`).
    pub preflight: Option<&'a [(String, String)]>,
    pub keep_revisions: bool,
}

/// The read calls of `preflight` and the calls of `keep-revisions`.
fn extra_needs(extras: Extras, need: &mut impl FnMut(&str, String)) {
    for (action, resource) in extras.preflight.unwrap_or_default() {
        need(action, resource.clone());
    }
    if extras.keep_revisions {
        need("ecs:ListTaskDefinitions", "*".to_owned());
        need("ecs:DeregisterTaskDefinition", "*".to_owned());
        need("ecs:ListServices", "*".to_owned());
        need("ecs:DescribeServices", "*".to_owned());
    }
}

/// The CI role's policy.
pub fn deployer(
    rendered: &Rendered,
    slots: &[Slot],
    resolved: &std::collections::HashMap<Reference, Resolved>,
    region: &str,
    service: Option<(&str, &str)>,
    extras: Extras,
) -> Value {
    // Roles may be given by name (ECS accepts that); their account is that of the other role.
    let roles: Vec<&str> = ["executionRoleArn", "taskRoleArn"]
        .iter()
        .filter_map(|k| rendered.body.get(*k).and_then(Value::as_str))
        .collect();
    let parts = roles.iter().find_map(|r| Arn::parse(r));
    let account = parts.as_ref().map_or("*", |a| a.account);
    let partition = parts.as_ref().map_or("aws", |a| a.partition);
    let mut needs: Vec<(String, String)> = Vec::new();
    let mut need = |action: &str, resource: String| needs.push((action.to_owned(), resource));
    need("ecs:RegisterTaskDefinition", "*".to_owned());
    need("ecs:DescribeTaskDefinition", "*".to_owned());
    // Tags come from the template, the `tags` input, or the previous revision: always allowed on
    // this family's revisions.
    need(
        "ecs:TagResource",
        format!(
            "arn:{partition}:ecs:{region}:{account}:task-definition/{}:*",
            rendered.family()
        ),
    );
    if let Some((cluster, service)) = service {
        let arn = format!("arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}");
        need("ecs:DescribeServices", arn.clone());
        need("ecs:UpdateService", arn);
        need("ecs:ListTasks", "*".to_owned());
        need("ecs:DescribeTasks", "*".to_owned());
    }
    let secret_arn = |id: &str| {
        if id.starts_with("arn:") {
            id.split(':').take(7).collect::<Vec<_>>().join(":")
        } else {
            format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{id}-??????")
        }
    };
    let parameter_arn = |id: &str| {
        if id.starts_with("arn:") {
            id.to_owned()
        } else {
            format!(
                "arn:{partition}:ssm:{region}:{account}:parameter/{}",
                id.trim_start_matches('/')
            )
        }
    };
    extra_needs(extras, &mut need);
    for slot in slots {
        for (reference, _, _) in slot.references() {
            match reference {
                Reference::SecretArn(s) => {
                    let arn = resolved
                        .get(reference)
                        .map_or_else(|| secret_arn(&s.id), |r| secret_arn(r.text.expose()));
                    need("secretsmanager:DescribeSecret", arn);
                }
                Reference::Secret(s) => {
                    need("secretsmanager:BatchGetSecretValue", "*".to_owned());
                    need("secretsmanager:GetSecretValue", secret_arn(&s.id));
                    need("kms:Decrypt", "*".to_owned());
                }
                Reference::SsmArn(p) => need("ssm:GetParameters", parameter_arn(&p.id)),
                Reference::Ssm(p) => {
                    need("ssm:GetParameters", parameter_arn(&p.id));
                    if resolved.get(reference).is_some_and(|r| r.secret) {
                        need("kms:Decrypt", "*".to_owned());
                    }
                }
                Reference::Env { .. } => {}
            }
        }
    }
    let mut statements = statements(&needs, region);
    let pass_roles: Vec<String> = roles
        .iter()
        .map(|role| {
            if role.starts_with("arn:") {
                (*role).to_owned()
            } else {
                format!("arn:{partition}:iam::{account}:role/{role}")
            }
        })
        .collect();
    if !pass_roles.is_empty() {
        statements.push(json!({
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": pass_roles,
            "Condition": { "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_is_limited_to_the_services_that_decrypt() {
        let needs = vec![
            (
                "secretsmanager:GetSecretValue".to_owned(),
                "arn:aws:secretsmanager:us-east-1:1:secret:b-AbCdEf".to_owned(),
            ),
            (
                "secretsmanager:GetSecretValue".to_owned(),
                "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf".to_owned(),
            ),
            (
                "kms:Decrypt".to_owned(),
                "arn:aws:kms:us-east-1:1:key/k".to_owned(),
            ),
        ];
        let policy = execution_role(&needs, "us-east-1");
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        let kms = statements
            .iter()
            .find(|s| s["Action"] == "kms:Decrypt")
            .unwrap();
        assert_eq!(
            kms["Condition"]["StringEquals"]["kms:ViaService"][0],
            "secretsmanager.us-east-1.amazonaws.com"
        );
        let sm = statements
            .iter()
            .find(|s| s["Action"] == "secretsmanager:GetSecretValue")
            .unwrap();
        assert_eq!(
            sm["Resource"][0],
            "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf"
        );
    }
}
