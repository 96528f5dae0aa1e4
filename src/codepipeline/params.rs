//! A job's `UserParameters`: a JSON object of the tool's inputs (the same names as the action's
//! and the flags), plus `action` (`deploy`, the default, `render` or `check`). The action itself
//! sets where the output artifact's files go. A roll-out that is waited for is not held in one
//! invocation: the deploy starts it, and the pipeline calls again with a continuation token
//! until it ends ([`resume`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Outcome;
use crate::aws::Aws;
use crate::aws::ecs;
use crate::cli::table::INPUTS;

/// The longest continuation token CodePipeline takes.
const TOKEN_MAX: usize = 2048;

/// Inputs the action sets itself, for the output artifact and the report.
const SET_BY_THE_ACTION: [&str; 3] = ["output", "image-definitions", "report-format"];

#[derive(Debug)]
pub struct Params {
    action: String,
    /// Each input and its values, in the order given.
    inputs: Vec<(String, Vec<String>)>,
    /// `wait-for-service-stability`: watched across invocations.
    wait: bool,
    wait_minutes: f64,
}

/// What the pipeline hands back to a continued job.
#[derive(Debug, Serialize, Deserialize)]
struct Token {
    cluster: String,
    service: String,
    /// The ECS deployment, or the CodeDeploy deployment of a `CODE_DEPLOY` service.
    deployment: String,
    #[serde(default)]
    codedeploy: bool,
    /// The `region` input, where the service is.
    #[serde(default)]
    region: Option<String>,
    /// Epoch seconds after which the roll-out has taken too long.
    deadline: u64,
    variables: BTreeMap<String, String>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn truthy(values: &[String]) -> bool {
    values
        .last()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

impl Params {
    /// Reads `UserParameters`; the error is a `ConfigurationError` for the pipeline, and names
    /// keys, never values.
    pub fn parse(text: Option<&str>) -> Result<Params, String> {
        let Some(text) = text else {
            return Err("the action has no UserParameters: give a JSON object of inputs, at least `task-definition` or `manifest`".to_owned());
        };
        let object: serde_json::Map<String, Value> = serde_json::from_str(text).map_err(|e| {
            format!(
                "UserParameters is not a JSON object of inputs: {}",
                super::job::unquoted(&e.to_string())
            )
        })?;
        let mut action = "deploy".to_owned();
        let mut inputs = Vec::new();
        for (key, value) in object {
            let values = match &value {
                Value::String(s) => vec![s.clone()],
                Value::Bool(b) => vec![b.to_string()],
                Value::Number(n) => vec![n.to_string()],
                Value::Array(items) if items.iter().all(Value::is_string) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => {
                    return Err(format!(
                        "UserParameters: `{key}` must be a string, a boolean, a number or a list of strings"
                    ));
                }
            };
            if key == "action" {
                action = values.join("");
                if !["deploy", "render", "check"].contains(&action.as_str()) {
                    return Err(
                        "UserParameters: `action` is `deploy`, `render` or `check`".to_owned()
                    );
                }
                continue;
            }
            if SET_BY_THE_ACTION.contains(&key.as_str()) {
                return Err(format!(
                    "UserParameters: `{key}` is set by the action (the output artifact holds the rendered definition and imagedefinitions.json)"
                ));
            }
            if !INPUTS.iter().any(|spec| spec.name == key) {
                return Err(format!(
                    "UserParameters: `{key}` is not an input of ecs-secrets"
                ));
            }
            inputs.push((key, values));
        }
        let value = |name: &str| {
            inputs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let wait = action == "deploy"
            && value("service").is_some()
            && value("wait-for-service-stability").is_some_and(|v| truthy(&v));
        let wait_minutes = value("wait-for-minutes")
            .and_then(|v| v.last().and_then(|m| m.parse().ok()))
            .unwrap_or(30.0);
        Ok(Params {
            action,
            inputs,
            wait,
            wait_minutes,
        })
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.last().map(String::as_str))
    }

    /// The tool's arguments: the action, the inputs (`--name=value`, so no value reads as a
    /// flag), the image from a build stage's `imagedefinitions.json` when no `image` is given,
    /// and the output artifact's files.
    pub fn args(&self, input: &Path, out: Option<&Path>) -> Vec<String> {
        let mut args = vec![self.action.clone(), "--report-format=json".to_owned()];
        let single = self.value("manifest").is_none();
        for (key, values) in &self.inputs {
            if key == "codedeploy-artifacts" {
                if let Some(out) = out.filter(|_| truthy(values)) {
                    args.push(format!("--codedeploy-artifacts={}", out.display()));
                }
                continue;
            }
            if key == "wait-for-service-stability" && self.wait {
                args.push("--wait-for-service-stability=false".to_owned());
                continue;
            }
            for value in values {
                args.push(format!("--{key}={value}"));
            }
        }
        if self.value("image").is_none()
            && let Some(images) = image_definitions(input)
        {
            args.extend(
                images
                    .into_iter()
                    .map(|(name, uri)| format!("--image={name}={uri}")),
            );
        }
        if let Some(out) = out
            && self.action != "check"
        {
            if single {
                args.push(format!(
                    "--output={}",
                    out.join("task-definition.json").display()
                ));
            }
            args.push(format!(
                "--image-definitions={}",
                out.join("imagedefinitions.json").display()
            ));
        }
        args
    }

    /// The outcome of a run that succeeded, from its JSON report: output variables
    /// (`TASK_DEFINITION_ARN`, `TASK_DEFINITION_REVISION`, `CHANGED`, `DEPLOYMENT_ID`, …), a
    /// summary, and a continuation when the roll-out is to be watched.
    pub fn succeeded(&self, report: &Value) -> Outcome {
        let mut variables = BTreeMap::new();
        if let Some(object) = report.as_object() {
            for (key, value) in object {
                if matches!(key.as_str(), "task-definition" | "error" | "services") {
                    continue;
                }
                if let Some(value) = value.as_str() {
                    variables.insert(key.to_uppercase().replace('-', "_"), value.to_owned());
                }
            }
        }
        let get = |k: &str| report[k].as_str().map(str::to_owned);
        let mut summary = self.summary(report);
        // A CODE_DEPLOY service's roll-out is CodeDeploy's deployment (its report may name it
        // as the deployment too).
        let (deployment, codedeploy) = match (get("codedeploy-deployment-id"), get("deployment-id"))
        {
            (Some(id), _) => (Some(id), true),
            (None, Some(id)) => (Some(id), false),
            (None, None) => (None, false),
        };
        let external_id = deployment.clone().or_else(|| get("task-definition-arn"));
        let continuation = match (self.wait, deployment, get("service")) {
            (true, None, Some(service)) => {
                // Asked to wait, but nothing to watch: not a success that was not seen.
                return Outcome::Failed {
                    configuration: false,
                    message: format!(
                        "service {service} was updated, but the update named no deployment to watch (wait-for-service-stability); look at the service's deployments"
                    ),
                    external_id,
                };
            }
            (true, Some(deployment), Some(service)) => {
                summary.push_str("; watching the roll-out");
                Some(self.token(service, deployment, codedeploy, &variables))
            }
            _ => None,
        };
        Outcome::Succeeded {
            variables,
            summary,
            external_id,
            continuation,
        }
    }

    /// One line for the pipeline's console: what ran, on what, and how it went.
    fn summary(&self, report: &Value) -> String {
        let get = |k: &str| report[k].as_str().map(str::to_owned);
        let mut summary = match (get("family"), get("task-definition-revision")) {
            (Some(family), Some(revision)) => format!("{} {family}:{revision}", self.action),
            (Some(family), None) => format!("{} {family}", self.action),
            _ => match report["services"].as_array() {
                Some(services) => format!("{} {} services", self.action, services.len()),
                None => self.action.clone(),
            },
        };
        if let Some(changed) = get("changed") {
            summary.push_str(if changed == "true" {
                " (changed)"
            } else {
                " (unchanged)"
            });
        }
        if let (Some(service), Some(rollout)) = (get("service"), get("rollout")) {
            let _ = write!(summary, "; service {service}: {rollout}");
        }
        summary
    }

    /// The continuation token of a roll-out to watch, with what the last result reports; a
    /// token holds at most 2,048 characters, so only the main variables.
    fn token(
        &self,
        service: String,
        deployment: String,
        codedeploy: bool,
        variables: &BTreeMap<String, String>,
    ) -> String {
        let kept = [
            "FAMILY",
            "TASK_DEFINITION_ARN",
            "TASK_DEFINITION_REVISION",
            "CHANGED",
            "SERVICE",
            "DEPLOYMENT_ID",
            "CODEDEPLOY_DEPLOYMENT_ID",
        ];
        let mut variables = variables.clone();
        variables.retain(|k, _| kept.contains(&k.as_str()));
        let mut token = Token {
            cluster: self.value("cluster").unwrap_or("default").to_owned(),
            service,
            deployment,
            codedeploy,
            region: self.value("region").map(str::to_owned),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            deadline: now() + (self.wait_minutes * 60.0) as u64,
            variables,
        };
        let mut text = serde_json::to_string(&token).expect("a token serialises");
        if text.len() > TOKEN_MAX {
            // Long names: the last result reports fewer variables rather than none.
            token.variables.retain(|k, _| k == "TASK_DEFINITION_ARN");
            text = serde_json::to_string(&token).expect("a token serialises");
        }
        text
    }
}

/// The build stage's images: `imagedefinitions.json` (`[{"name", "imageUri"}]`) at the top of
/// the input.
fn image_definitions(input: &Path) -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(input.join("imagedefinitions.json")).ok()?;
    let list: Vec<Value> = serde_json::from_str(&text).ok()?;
    Some(
        list.iter()
            .filter_map(|i| {
                Some((
                    i["name"].as_str()?.to_owned(),
                    i["imageUri"].as_str()?.to_owned(),
                ))
            })
            .collect(),
    )
}

/// A continued job: one look at the deployment it started. Completed: success with the
/// first invocation's variables; failed, or out of time: failure; else: call again.
pub async fn resume(aws: &Aws, token: &str) -> Outcome {
    let Ok(token) = serde_json::from_str::<Token>(token) else {
        return Outcome::failed("the continuation token is not one this action wrote");
    };
    let external_id = Some(token.deployment.clone());
    let failed = |message: String| Outcome::Failed {
        configuration: false,
        message,
        external_id: external_id.clone(),
    };
    if token.codedeploy {
        return resume_codedeploy(aws, token).await;
    }
    let client = aws.ecs_in(token.region.as_deref());
    let service = match ecs::describe_service(&client, &token.cluster, &token.service).await {
        Ok(service) => service,
        Err(ecs::NoService::Failed(failure)) if failure.is(crate::aws::Kind::Throttled) => {
            return again(&token, "throttled; looking again");
        }
        Err(ecs::NoService::Failed(failure)) => {
            return failed(format!(
                "cannot read service `{}` (DescribeServices): {failure}",
                token.service
            ));
        }
        Err(ecs::NoService::Missing(reason)) => {
            return failed(format!("service `{}` is gone: {reason}", token.service));
        }
    };
    let Some(deployment) = service
        .deployments
        .iter()
        .find(|d| d.id == token.deployment)
    else {
        return failed(format!(
            "service {}: deployment {} is no longer listed (replaced or rolled back)",
            token.service, token.deployment
        ));
    };
    // Without a roll-out state (older APIs), steady is one deployment, all its tasks running.
    let steady = deployment.status == "PRIMARY"
        && deployment.running == deployment.desired
        && deployment.pending == 0
        && service.deployments.len() == 1;
    match deployment.rollout_state.as_deref() {
        Some("COMPLETED") => completed(token, "completed"),
        None if steady => completed(token, "steady"),
        Some("FAILED") => failed(format!(
            "service {}: deployment {} failed: {}",
            token.service,
            token.deployment,
            deployment
                .rollout_state_reason
                .as_deref()
                .unwrap_or("no reason given")
        )),
        _ if now() > token.deadline => failed(format!(
            "service {}: deployment {} did not complete in time (wait-for-minutes)",
            token.service, token.deployment
        )),
        _ => again(&token, "in progress"),
    }
}

/// A watched roll-out that ended well: the first invocation's variables, `ROLLOUT` as it ended.
fn completed(mut token: Token, how: &str) -> Outcome {
    token
        .variables
        .insert("ROLLOUT".to_owned(), "completed".to_owned());
    Outcome::Succeeded {
        summary: format!(
            "service {}: deployment {} {how}",
            token.service, token.deployment
        ),
        external_id: Some(token.deployment),
        variables: token.variables,
        continuation: None,
    }
}

/// A continued job whose service is on the `CODE_DEPLOY` controller: one look at the CodeDeploy
/// deployment.
async fn resume_codedeploy(aws: &Aws, token: Token) -> Outcome {
    let failed = |message: String| Outcome::Failed {
        configuration: false,
        message,
        external_id: Some(token.deployment.clone()),
    };
    let client = aws.codedeploy_in(token.region.as_deref());
    match crate::aws::codedeploy::get(&client, &token.deployment).await {
        Ok(d) if d.status == "Succeeded" => completed(token, "succeeded (CodeDeploy)"),
        Ok(d) if d.status == "Failed" || d.status == "Stopped" => failed(format!(
            "service {}: CodeDeploy deployment {} {}: {}",
            token.service,
            token.deployment,
            d.status.to_lowercase(),
            d.error.as_deref().unwrap_or("no reason given")
        )),
        Err(failure) if !failure.is(crate::aws::Kind::Throttled) => failed(format!(
            "cannot read CodeDeploy deployment {} (GetDeployment): {failure}",
            token.deployment
        )),
        _ if now() > token.deadline => failed(format!(
            "service {}: CodeDeploy deployment {} did not complete in time (wait-for-minutes)",
            token.service, token.deployment
        )),
        _ => again(&token, "in progress (CodeDeploy)"),
    }
}

fn again(token: &Token, why: &str) -> Outcome {
    Outcome::Succeeded {
        summary: format!(
            "service {}: deployment {} {why}",
            token.service, token.deployment
        ),
        external_id: Some(token.deployment.clone()),
        variables: BTreeMap::new(),
        continuation: Some(serde_json::to_string(token).expect("a token serialises")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_parameters_become_the_tool_s_arguments() {
        let params = Params::parse(Some(
            r#"{"task-definition": "taskdef.json", "cluster": "prod", "service": "web",
                "image": ["app=repo/app:2"], "wait-for-service-stability": true, "codedeploy-artifacts": true}"#,
        ))
        .unwrap();
        let args = params.args(Path::new("/in"), Some(Path::new("/out")));
        assert_eq!(
            args,
            [
                "deploy",
                "--report-format=json",
                "--task-definition=taskdef.json",
                "--cluster=prod",
                "--service=web",
                "--image=app=repo/app:2",
                "--wait-for-service-stability=false",
                "--codedeploy-artifacts=/out",
                "--output=/out/task-definition.json",
                "--image-definitions=/out/imagedefinitions.json",
            ]
        );
    }

    #[test]
    fn malformed_user_parameters_are_named_not_echoed() {
        for (text, expected) in [
            ("not json canary-up-1", "not a JSON object"),
            (r#"{"nosuch": "x"}"#, "`nosuch` is not an input"),
            (r#"{"output": "x"}"#, "`output` is set by the action"),
            (r#"{"action": "export"}"#, "`action` is"),
            (r#"{"cluster": {"a": "canary-up-2"}}"#, "`cluster` must be"),
        ] {
            let error = Params::parse(Some(text)).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("canary"), "{error}");
        }
        assert!(
            Params::parse(None)
                .unwrap_err()
                .contains("no UserParameters")
        );
    }

    #[test]
    fn a_watched_roll_out_continues_with_the_variables_kept_for_the_end() {
        let params = Params::parse(Some(
            r#"{"task-definition": "t.json", "service": "web", "wait-for-service-stability": "true"}"#,
        ))
        .unwrap();
        let report = serde_json::json!({
            "family": "web", "task-definition-arn": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
            "task-definition-revision": "3", "changed": "true", "service": "web",
            "rollout": "started", "deployment-id": "ecs-svc/1", "task-definition": "/out/x.json"});
        let Outcome::Succeeded {
            variables,
            continuation,
            external_id,
            ..
        } = params.succeeded(&report)
        else {
            panic!("succeeded");
        };
        assert_eq!(
            variables["TASK_DEFINITION_ARN"],
            "arn:aws:ecs:us-east-1:1:task-definition/web:3"
        );
        assert_eq!(variables["CHANGED"], "true");
        assert!(!variables.contains_key("TASK_DEFINITION"));
        assert_eq!(external_id.as_deref(), Some("ecs-svc/1"));
        let token: Token = serde_json::from_str(&continuation.unwrap()).unwrap();
        assert_eq!(token.deployment, "ecs-svc/1");
        assert_eq!(
            token.variables["TASK_DEFINITION_ARN"],
            variables["TASK_DEFINITION_ARN"]
        );
        assert!(!token.variables.contains_key("ROLLOUT"), "set when it ends");
        assert!(!token.codedeploy);

        // A CODE_DEPLOY service's deployment is watched through CodeDeploy.
        let mut codedeploy = report.clone();
        codedeploy.as_object_mut().unwrap().remove("deployment-id");
        codedeploy["codedeploy-deployment-id"] = serde_json::json!("d-ABC123");
        let Outcome::Succeeded { continuation, .. } = params.succeeded(&codedeploy) else {
            panic!("succeeded");
        };
        let token: Token = serde_json::from_str(&continuation.unwrap()).unwrap();
        assert!(token.codedeploy);
        assert_eq!(token.deployment, "d-ABC123");

        // Nothing to watch when waiting was asked for: a failure, not an unseen success.
        let mut unnamed = report.clone();
        unnamed.as_object_mut().unwrap().remove("deployment-id");
        let Outcome::Failed { message, .. } = params.succeeded(&unnamed) else {
            panic!("failed");
        };
        assert!(message.contains("no deployment to watch"), "{message}");
    }
}
