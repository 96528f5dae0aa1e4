//! Least-privilege policies for a rendered definition: one for the task execution role (what ECS
//! needs to read the secrets at task start) and one for the CI role that runs `ecs-secrets`
//! (registering, rolling out, and only the read calls the template's placeholders need).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::placeholder::{Reference, Resolved};
use crate::reference::Arn;
use crate::template::{Rendered, Slot};

/// The version of the `policy` output's shape.
pub const VERSION: u32 = 1;

/// Both policies, as `policy` prints them.
#[derive(Debug, Serialize)]
pub struct Policies {
    pub version: u32,
    #[serde(rename = "execution-role")]
    pub execution_role: Document,
    pub deployer: Document,
    /// References the execution role's policy cannot make readable (a secret, parameter or key
    /// that does not exist, or that the check could not read), each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// An IAM policy document.
#[derive(Debug, Serialize, PartialEq)]
pub struct Document {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Statement")]
    statements: Vec<Statement>,
}

#[derive(Debug, Serialize, PartialEq)]
struct Statement {
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Resource")]
    resources: Vec<String>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    condition: Option<BTreeMap<&'static str, BTreeMap<&'static str, Value>>>,
}

fn document(statements: Vec<Statement>) -> Document {
    Document {
        version: "2012-10-17",
        statements,
    }
}

/// The services that decrypt with a key on the role's behalf, by key ARN (`kms:ViaService`).
pub type Via = BTreeMap<String, BTreeSet<String>>;

/// Groups `(action, resource)` pairs into statements, one per action, resources sorted; KMS
/// decryption limited to the services that decrypt with each key on the role's behalf (`via`),
/// or for a key without, to Secrets Manager and Parameter Store in the key's Region.
fn statements(needs: &[(String, String)], via: &Via, region: &str) -> Vec<Statement> {
    let mut by_action: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (action, resource) in needs {
        let list = by_action.entry(action).or_default();
        if !list.contains(&resource.as_str()) {
            list.push(resource);
        }
    }
    let mut out = Vec::new();
    for (action, mut resources) in by_action {
        resources.sort_unstable();
        if action != "kms:Decrypt" {
            out.push(Statement {
                effect: "Allow",
                action: action.to_owned(),
                resources: resources.into_iter().map(str::to_owned).collect(),
                condition: None,
            });
            continue;
        }
        // Keys decrypted through the same services share a statement.
        let mut by_services: BTreeMap<BTreeSet<String>, Vec<String>> = BTreeMap::new();
        for resource in resources {
            let services = via.get(resource).cloned().unwrap_or_else(|| {
                let r = Arn::parse(resource).map_or(region, |a| a.region);
                BTreeSet::from([
                    format!("secretsmanager.{r}.amazonaws.com"),
                    format!("ssm.{r}.amazonaws.com"),
                ])
            });
            by_services
                .entry(services)
                .or_default()
                .push(resource.to_owned());
        }
        for (services, resources) in by_services {
            let services: Vec<String> = services.into_iter().collect();
            out.push(Statement {
                effect: "Allow",
                action: action.to_owned(),
                resources,
                condition: Some(condition("kms:ViaService", Value::from(services))),
            });
        }
    }
    out
}

fn condition(
    key: &'static str,
    value: Value,
) -> BTreeMap<&'static str, BTreeMap<&'static str, Value>> {
    BTreeMap::from([("StringEquals", BTreeMap::from([(key, value)]))])
}

/// The execution role's policy: what the check found the role needs.
pub fn execution_role(needs: &[(String, String)], via: &Via, region: &str) -> Document {
    document(statements(needs, via, region))
}

/// What the deployer's policy covers besides the placeholders.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The reads the preflight check makes, when it runs.
    pub preflight: Option<&'a [(String, String)]>,
    pub keep_revisions: bool,
    /// The service rolled out to: (cluster, service).
    pub service: Option<(&'a str, &'a str)>,
    /// `run-task`: the cluster the one-off task runs in.
    pub run_task: Option<&'a str>,
    /// A service on the `CODE_DEPLOY` controller: its CodeDeploy application and deployment group.
    pub codedeploy: Option<(&'a str, &'a str)>,
    /// The deployer is a CodePipeline action (a Lambda function or a custom action's worker).
    pub codepipeline: bool,
}

/// The CI role's policy for deploying `rendered`.
pub fn deployer(
    rendered: &Rendered,
    slots: &[Slot],
    resolved: &HashMap<Reference, Resolved>,
    region: &str,
    extras: Extras,
) -> Document {
    let roles: Vec<&str> = ["executionRoleArn", "taskRoleArn"]
        .iter()
        .filter_map(|k| rendered.body.get(*k).and_then(Value::as_str))
        .collect();
    let parts = roles.iter().find_map(|r| Arn::parse(r));
    let place = Place {
        region,
        account: parts.as_ref().map_or("*", |a| a.account),
        partition: parts.as_ref().map_or("aws", |a| a.partition),
    };
    let mut needs: Vec<(String, String)> = Vec::new();
    let mut need = |action: &str, resource: String| needs.push((action.to_owned(), resource));
    ecs_needs(rendered.family(), &place, extras, &mut need);
    if extras.run_task.is_some() {
        one_off_log_needs(rendered, &place, &mut need);
    }
    if extras.codepipeline {
        // Reporting a job takes no resource; a worker polls its custom action types.
        for action in [
            "codepipeline:PutJobSuccessResult",
            "codepipeline:PutJobFailureResult",
            "codepipeline:AcknowledgeJob",
            "codepipeline:GetJobDetails",
        ] {
            need(action, "*".to_owned());
        }
        need(
            "codepipeline:PollForJobs",
            format!(
                "arn:{}:codepipeline:{}:{}:actiontype:Custom/*",
                place.partition, place.region, place.account
            ),
        );
    }
    for slot in slots {
        for (reference, _, _) in slot.references() {
            reference_needs(reference, resolved.get(reference), &place, &mut need);
        }
    }
    let mut statements = statements(&needs, &Via::new(), region);
    let pass_roles: Vec<String> = roles
        .iter()
        .map(|role| {
            if role.starts_with("arn:") {
                (*role).to_owned()
            } else {
                format!("arn:{}:iam::{}:role/{role}", place.partition, place.account)
            }
        })
        .collect();
    if !pass_roles.is_empty() {
        statements.push(Statement {
            effect: "Allow",
            action: "iam:PassRole".to_owned(),
            resources: pass_roles,
            condition: Some(condition(
                "iam:PassedToService",
                Value::from("ecs-tasks.amazonaws.com"),
            )),
        });
    }
    document(statements)
}

/// The partition, Region and account that ARNs without their own are in.
struct Place<'a> {
    region: &'a str,
    account: &'a str,
    partition: &'a str,
}

impl Place<'_> {
    fn secret_arn(&self, id: &str) -> String {
        if id.starts_with("arn:") {
            id.split(':').take(7).collect::<Vec<_>>().join(":")
        } else {
            format!(
                "arn:{}:secretsmanager:{}:{}:secret:{id}-??????",
                self.partition, self.region, self.account
            )
        }
    }

    fn parameter_arn(&self, id: &str) -> String {
        if id.starts_with("arn:") {
            id.to_owned()
        } else {
            format!(
                "arn:{}:ssm:{}:{}:parameter/{}",
                self.partition,
                self.region,
                self.account,
                id.trim_start_matches('/')
            )
        }
    }
}

/// Registering, tagging, the roll-out, and what the extras add.
fn ecs_needs(family: &str, place: &Place<'_>, extras: Extras, need: &mut impl FnMut(&str, String)) {
    let Place {
        region,
        account,
        partition,
    } = place;
    need("ecs:RegisterTaskDefinition", "*".to_owned());
    need("ecs:DescribeTaskDefinition", "*".to_owned());
    need(
        "ecs:TagResource",
        format!("arn:{partition}:ecs:{region}:{account}:task-definition/{family}:*"),
    );
    if let Some((cluster, service)) = extras.service {
        let arn = format!("arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}");
        need("ecs:DescribeServices", arn.clone());
        need("ecs:UpdateService", arn);
        // The deployment of any strategy is followed through the service-deployment API.
        need(
            "ecs:DescribeServiceDeployments",
            format!(
                "arn:{partition}:ecs:{region}:{account}:service-deployment/{cluster}/{service}/*"
            ),
        );
        need("ecs:ListTasks", "*".to_owned());
        need("ecs:DescribeTasks", "*".to_owned());
    }
    if let Some((application, group)) = extras.codedeploy {
        // As the deploy action documents for CODE_DEPLOY services, and the deployment's targets,
        // which the watch reads for its lifecycle events and traffic.
        let codedeploy = format!("arn:{partition}:codedeploy:{region}:{account}");
        let group = format!("{codedeploy}:deploymentgroup:{application}/{group}");
        for action in [
            "codedeploy:GetDeploymentGroup",
            "codedeploy:CreateDeployment",
            "codedeploy:GetDeployment",
            "codedeploy:ListDeploymentTargets",
            "codedeploy:BatchGetDeploymentTargets",
        ] {
            need(action, group.clone());
        }
        need(
            "codedeploy:GetDeploymentConfig",
            format!("{codedeploy}:deploymentconfig:*"),
        );
        need(
            "codedeploy:RegisterApplicationRevision",
            format!("{codedeploy}:application:{application}"),
        );
    }
    if let Some(cluster) = extras.run_task {
        // The task's roles are passed like the registration's (iam:PassRole below).
        need(
            "ecs:RunTask",
            format!("arn:{partition}:ecs:{region}:{account}:task-definition/{family}:*"),
        );
        let tasks = format!("arn:{partition}:ecs:{region}:{account}:task/{cluster}/*");
        need("ecs:DescribeTasks", tasks.clone());
        // `run-task-tags` tag the task as it starts.
        need("ecs:TagResource", tasks);
    }
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

/// A one-off task's logs, printed while it runs: its `awslogs` streams, and the value of each
/// secret it receives, read so that the redactor can mask it in those lines (without them the
/// task runs, its lines unprinted).
fn one_off_log_needs(rendered: &Rendered, place: &Place<'_>, need: &mut impl FnMut(&str, String)) {
    let Place {
        region,
        account,
        partition,
    } = place;
    for (i, container) in crate::template::containers(&rendered.body).enumerate() {
        let options = container
            .get("logConfiguration")
            .filter(|l| l.get("logDriver").and_then(Value::as_str) == Some("awslogs"))
            .and_then(|l| l.get("options"));
        let option = |key: &str| options.and_then(|o| o.get(key)).and_then(Value::as_str);
        if let (Some(group), Some(_)) = (option("awslogs-group"), option("awslogs-stream-prefix")) {
            let region = option("awslogs-region").unwrap_or(region);
            need(
                "logs:GetLogEvents",
                format!("arn:{partition}:logs:{region}:{account}:log-group:{group}:log-stream:*"),
            );
        }
        for entry in crate::template::secret_entries(i, container) {
            let Some(source) = entry.value_from else {
                continue;
            };
            if Arn::parse(source).is_some_and(|a| a.service == "secretsmanager") {
                need("secretsmanager:GetSecretValue", place.secret_arn(source));
            } else if let Ok(parameter) = crate::reference::Parameter::parse(source) {
                need("ssm:GetParameters", place.parameter_arn(&parameter.id));
            }
        }
    }
}

/// The read calls one placeholder needs.
fn reference_needs(
    reference: &Reference,
    resolved: Option<&Resolved>,
    place: &Place<'_>,
    need: &mut impl FnMut(&str, String),
) {
    match reference {
        Reference::SecretArn(s) => {
            let arn = resolved.map_or_else(
                || place.secret_arn(&s.id),
                |r| place.secret_arn(r.text.expose()),
            );
            need("secretsmanager:DescribeSecret", arn);
            // Many secrets' ARNs a call (DescribeSecret stays the fallback); it reveals names
            // and metadata, never a value, and takes no resource.
            if !s.id.starts_with("arn:") {
                need("secretsmanager:ListSecrets", "*".to_owned());
            }
        }
        Reference::Secret(s) => {
            need("secretsmanager:BatchGetSecretValue", "*".to_owned());
            need("secretsmanager:GetSecretValue", place.secret_arn(&s.id));
            need("kms:Decrypt", "*".to_owned());
        }
        Reference::SsmArn(p) => need("ssm:GetParameters", place.parameter_arn(&p.id)),
        Reference::Ssm(p) => {
            need("ssm:GetParameters", place.parameter_arn(&p.id));
            if resolved.is_some_and(|r| r.secret) {
                need("kms:Decrypt", "*".to_owned());
            }
        }
        Reference::Env { .. } => {}
    }
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
        let policy =
            serde_json::to_value(execution_role(&needs, &Via::new(), "us-east-1")).unwrap();
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

    #[test]
    fn each_key_is_granted_through_the_services_that_use_it() {
        let needs = vec![
            (
                "kms:Decrypt".to_owned(),
                "arn:aws:kms:us-east-1:1:key/secrets".to_owned(),
            ),
            (
                "kms:Decrypt".to_owned(),
                "arn:aws:kms:us-east-1:1:key/params".to_owned(),
            ),
        ];
        let via = Via::from([
            (
                "arn:aws:kms:us-east-1:1:key/secrets".to_owned(),
                BTreeSet::from(["secretsmanager.us-east-1.amazonaws.com".to_owned()]),
            ),
            (
                "arn:aws:kms:us-east-1:1:key/params".to_owned(),
                BTreeSet::from(["ssm.us-east-1.amazonaws.com".to_owned()]),
            ),
        ]);
        let policy = serde_json::to_value(execution_role(&needs, &via, "us-east-1")).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2, "{policy}");
        for statement in statements {
            let services = &statement["Condition"]["StringEquals"]["kms:ViaService"];
            assert_eq!(services.as_array().unwrap().len(), 1, "{statement}");
            let service = services[0].as_str().unwrap();
            let key = statement["Resource"][0].as_str().unwrap();
            assert_eq!(
                service.starts_with("ssm"),
                key.ends_with("params"),
                "{statement}"
            );
        }
    }
}
