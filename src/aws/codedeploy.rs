//! CodeDeploy, for services on the `CODE_DEPLOY` deployment controller: the deployment group, a
//! deployment of an AppSpec, how it goes (status, lifecycle events, task sets and their traffic)
//! and stopping it with rollback.

use serde_json::{Value, json};

use super::call::Client;
use super::{Failure, Kind};

const SERVICE: &str = "CodeDeploy";

/// What a deployment group says about waiting: how long a blue/green deployment may wait for
/// traffic to be rerouted and, after success, before the old task set ends (minutes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub ready_wait_minutes: i64,
    pub termination_wait_minutes: i64,
    /// The ECS services it deploys, `cluster/service`.
    pub services: Vec<String>,
}

/// Reads a deployment group; `Ok(None)` when the application or the group does not exist.
pub async fn group(
    client: &Client,
    application: &str,
    group: &str,
) -> Result<Option<Group>, Failure> {
    let input = json!({ "applicationName": application, "deploymentGroupName": group });
    let output = match client.call("GetDeploymentGroup", &input).await {
        Ok(output) => output,
        Err(failure) if failure.is(Kind::NotFound) => return Ok(None),
        Err(failure) => return Err(failure),
    };
    let info = &output["deploymentGroupInfo"];
    if info.is_null() {
        return Ok(None);
    }
    let blue_green = &info["blueGreenDeploymentConfiguration"];
    Ok(Some(Group {
        ready_wait_minutes: blue_green
            .pointer("/deploymentReadyOption/waitTimeInMinutes")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        termination_wait_minutes: blue_green
            .pointer("/terminateBlueInstancesOnDeploymentSuccess/terminationWaitTimeInMinutes")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        services: info["ecsServices"]
            .as_array()
            .map(|services| {
                services
                    .iter()
                    .map(|s| {
                        format!(
                            "{}/{}",
                            s["clusterName"].as_str().unwrap_or_default(),
                            s["serviceName"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }))
}

/// A deployment to start: where, the AppSpec (JSON) and its SHA-256, and the optional settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDeployment<'a> {
    pub application: &'a str,
    pub group: &'a str,
    pub appspec: &'a str,
    pub sha256: &'a str,
    pub config: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// Starts a deployment; returns its id.
pub async fn create(client: &Client, new: &NewDeployment<'_>) -> Result<String, Failure> {
    let mut input = json!({
        "applicationName": new.application,
        "deploymentGroupName": new.group,
        "revision": {
            "revisionType": "AppSpecContent",
            "appSpecContent": { "content": new.appspec, "sha256": new.sha256 },
        },
    });
    if let Some(config) = new.config {
        input["deploymentConfigName"] = json!(config);
    }
    if let Some(description) = new.description {
        input["description"] = json!(description);
    }
    let output = client.call("CreateDeployment", &input).await?;
    output["deploymentId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::answer(SERVICE, "CreateDeployment returned no deployment id"))
}

/// A deployment as `GetDeployment` tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed`, `Stopped`.
    pub status: String,
    /// The error code and message of a failed or stopped deployment.
    pub error: Option<String>,
    /// The rollback that ended it, or that it is.
    pub rollback: Option<String>,
    /// The deployment CodeDeploy started to roll this one back.
    pub rolled_back_by: Option<String>,
    pub messages: Vec<String>,
}

pub async fn get(client: &Client, id: &str) -> Result<Deployment, Failure> {
    let output = client
        .call("GetDeployment", &json!({ "deploymentId": id }))
        .await?;
    let info = &output["deploymentInfo"];
    if !info.is_object() {
        return Err(Failure::answer(
            SERVICE,
            "GetDeployment returned no deployment",
        ));
    }
    let text = |v: &Value| v.as_str().filter(|t| !t.is_empty()).map(str::to_owned);
    let error = match (
        text(&info["errorInformation"]["code"]),
        text(&info["errorInformation"]["message"]),
    ) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (code, message) => code.or(message),
    };
    Ok(Deployment {
        status: info["status"].as_str().unwrap_or("Unknown").to_owned(),
        error,
        rollback: text(&info["rollbackInfo"]["rollbackMessage"]),
        rolled_back_by: text(&info["rollbackInfo"]["rollbackDeploymentId"]),
        messages: info["deploymentStatusMessages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// One lifecycle event of the ECS target: `BeforeInstall`, `AllowTraffic`, … with its status
/// and, when it failed, the diagnosis CodeDeploy gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub name: String,
    pub status: String,
    pub diagnosis: Option<String>,
}

/// A task set of the deployment: `BLUE` or `GREEN`, its share of traffic and its tasks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskSet {
    pub label: String,
    pub traffic: f64,
    pub running: i64,
    pub desired: i64,
}

/// The ECS target of a deployment: its lifecycle events and task sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub events: Vec<LifecycleEvent>,
    pub task_sets: Vec<TaskSet>,
}

/// The deployment's ECS target (`ListDeploymentTargets`, `BatchGetDeploymentTargets`); `None`
/// before CodeDeploy has one.
pub async fn target(client: &Client, id: &str) -> Result<Option<Target>, Failure> {
    let listed = client
        .call("ListDeploymentTargets", &json!({ "deploymentId": id }))
        .await?;
    let ids: Vec<Value> = listed["targetIds"]
        .as_array()
        .map(|ids| ids.iter().take(25).cloned().collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return Ok(None);
    }
    let output = client
        .call(
            "BatchGetDeploymentTargets",
            &json!({ "deploymentId": id, "targetIds": ids }),
        )
        .await?;
    let Some(ecs) = output["deploymentTargets"]
        .as_array()
        .and_then(|targets| targets.iter().find_map(|t| t.get("ecsTarget")))
    else {
        return Ok(None);
    };
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    Ok(Some(Target {
        events: list(&ecs["lifecycleEvents"])
            .iter()
            .map(|e| LifecycleEvent {
                name: e["lifecycleEventName"].as_str().unwrap_or("?").to_owned(),
                status: e["status"].as_str().unwrap_or("Unknown").to_owned(),
                diagnosis: {
                    let d = &e["diagnostics"];
                    let parts: Vec<&str> = [&d["errorCode"], &d["scriptName"], &d["message"]]
                        .into_iter()
                        .filter_map(Value::as_str)
                        .filter(|p| !p.is_empty())
                        .collect();
                    (!parts.is_empty()).then(|| parts.join(": "))
                },
            })
            .collect(),
        task_sets: list(&ecs["taskSetsInfo"])
            .iter()
            .map(|t| TaskSet {
                label: t["taskSetLabel"].as_str().unwrap_or("?").to_uppercase(),
                traffic: t["trafficWeight"].as_f64().unwrap_or(0.0),
                running: t["runningCount"].as_i64().unwrap_or(0),
                desired: t["desiredCount"].as_i64().unwrap_or(0),
            })
            .collect(),
    }))
}

/// The deployments of a group that have not finished, newest first.
pub async fn unfinished(
    client: &Client,
    application: &str,
    group: &str,
) -> Result<Vec<String>, Failure> {
    let output = client
        .call(
            "ListDeployments",
            &json!({
                "applicationName": application,
                "deploymentGroupName": group,
                "includeOnlyStatuses": ["Created", "Queued", "InProgress", "Ready", "Baking"],
            }),
        )
        .await?;
    Ok(output["deployments"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Stops a deployment and rolls back to the revision it replaced.
pub async fn stop_with_rollback(client: &Client, id: &str) -> Result<(), Failure> {
    client
        .call(
            "StopDeployment",
            &json!({ "deploymentId": id, "autoRollbackEnabled": true }),
        )
        .await?;
    Ok(())
}
