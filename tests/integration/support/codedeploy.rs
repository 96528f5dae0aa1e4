//! A scripted CodeDeploy for blue/green roll-outs of `CODE_DEPLOY` services. moto keeps
//! applications, deployment groups and deployments (`CreateDeployment`, `GetDeploymentGroup`
//! reach it), but its deployments never move and it has no deployment targets nor
//! `StopDeployment`; the stub answers those from a scenario.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::emulator::Env;
use super::stub::{Answer, Stub};

pub const APPLICATION: &str = "AppECS-default-web";
pub const GROUP: &str = "DgpECS-default-web";
/// The deployment under way that `rollback` stops, and the one CodeDeploy starts to roll back.
pub const UNDER_WAY: &str = "d-UNDERWAY1";
pub const ROLLBACK: &str = "d-ROLLBACK1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Everything goes to the emulator (where deployments stay `Created`).
    Emulator,
    /// Through its lifecycle events and traffic shift to `Succeeded`.
    Succeeds,
    /// A hook fails after test traffic; CodeDeploy fails the deployment and rolls back.
    HookFails,
    /// Someone stops it.
    Stopped,
    /// All traffic shifted, the old task set kept for its termination wait: `Baking` forever.
    Baking,
    /// `rollback`: one deployment under way, stopped with rollback, rolled back.
    RollbackUnderWay,
}

struct State {
    scenario: Scenario,
    polls: usize,
    rollback_polls: usize,
    stopped: bool,
}

pub struct ScriptedCodeDeploy {
    stub: Stub,
}

/// Seeds the emulator with the application and deployment group the deploy action's defaults
/// name for service `web` in cluster `default`, keeping the old task set `termination` minutes.
pub fn seed(env: &Env, termination: u32) {
    env.json_raw(
        "CodeDeploy_20141006",
        "codedeploy",
        "CreateApplication",
        &json!({ "applicationName": APPLICATION, "computePlatform": "ECS" }),
    );
    env.json_raw(
        "CodeDeploy_20141006",
        "codedeploy",
        "CreateDeploymentGroup",
        &json!({
            "applicationName": APPLICATION,
            "deploymentGroupName": GROUP,
            "serviceRoleArn": "arn:aws:iam::123456789012:role/codedeploy",
            "deploymentStyle": { "deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL" },
            "blueGreenDeploymentConfiguration": {
                "deploymentReadyOption": { "actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0 },
                "terminateBlueInstancesOnDeploymentSuccess": { "action": "TERMINATE", "terminationWaitTimeInMinutes": termination }
            },
            "ecsServices": [{ "serviceName": "web", "clusterName": "default" }]
        }),
    );
}

impl ScriptedCodeDeploy {
    pub fn start(moto_port: u16, scenario: Scenario) -> Self {
        let state = Arc::new(Mutex::new(State {
            scenario,
            polls: 0,
            rollback_polls: 0,
            stopped: false,
        }));
        let stub = Stub::start(moto_port, move |request| {
            let mut state = state.lock().unwrap();
            if state.scenario == Scenario::Emulator {
                return Answer::Forward;
            }
            match script(&request.operation, &request.json, &mut state) {
                Some(answer) => Answer::json(200, &answer),
                None => Answer::Forward,
            }
        });
        Self { stub }
    }

    pub fn url(&self) -> String {
        self.stub.url()
    }

    /// The CodeDeploy operations the binary called, in order.
    pub fn operations(&self) -> Vec<String> {
        self.stub.operations()
    }

    /// The body of the `CreateDeployment` call, if there was one.
    pub fn created(&self) -> Option<Value> {
        self.stub.bodies("CreateDeployment").pop()
    }
}

fn script(operation: &str, request: &Value, state: &mut State) -> Option<Value> {
    let id = request["deploymentId"].as_str().unwrap_or_default();
    match operation {
        "GetDeployment" if state.scenario == Scenario::RollbackUnderWay => {
            Some(rollback_deployment(id, state))
        }
        "GetDeployment" => {
            state.polls += 1;
            Some(deployment(id, state))
        }
        "ListDeploymentTargets" => Some(json!({ "targetIds": ["web-ecs-target"] })),
        "BatchGetDeploymentTargets" => Some(json!({ "deploymentTargets": [target(id, state)] })),
        "ListDeployments" => Some(json!({ "deployments": [UNDER_WAY] })),
        "StopDeployment" => {
            state.stopped = true;
            Some(json!({ "status": "Pending", "statusMessage": "stopping" }))
        }
        _ => None,
    }
}

/// The deployment at this poll of its scenario.
fn deployment(id: &str, state: &State) -> Value {
    let (status, error, rollback) = match (state.scenario, state.polls) {
        (_, 1) | (Scenario::Succeeds, 2) => ("InProgress", Value::Null, Value::Null),
        (Scenario::Succeeds, _) => ("Succeeded", Value::Null, Value::Null),
        (Scenario::HookFails, _) => (
            "Failed",
            json!({ "code": "HOOK_EXECUTION_FAILURE", "message": "The deployment failed because one or more of the lifecycle event hooks failed." }),
            json!({ "rollbackDeploymentId": "d-AUTOROLLBK", "rollbackMessage": "Deployment was rolled back by d-AUTOROLLBK after the failure" }),
        ),
        (Scenario::Stopped, _) => (
            "Stopped",
            json!({ "code": "MANUAL_STOP", "message": "The deployment was stopped by a user." }),
            Value::Null,
        ),
        _ => ("Baking", Value::Null, Value::Null),
    };
    json!({ "deploymentInfo": {
        "deploymentId": id, "applicationName": APPLICATION, "deploymentGroupName": GROUP,
        "status": status, "errorInformation": error, "rollbackInfo": rollback,
        "computePlatform": "ECS", "createTime": 1_764_400_000.0
    } })
}

/// The ECS target: lifecycle events so far and the two task sets' traffic.
fn target(id: &str, state: &State) -> Value {
    let names = [
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "AllowTestTraffic",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AllowTraffic",
        "AfterAllowTraffic",
    ];
    // How many events are done, and how the next one stands.
    let (done, next, green) = match (state.scenario, state.polls) {
        (_, 0 | 1) => (1, "InProgress", 0.0),
        (Scenario::Succeeds, 2) => (6, "InProgress", 0.0),
        (Scenario::HookFails, _) => (4, "Failed", 0.0),
        (Scenario::Stopped, _) => (2, "Skipped", 0.0),
        _ => (8, "Succeeded", 100.0),
    };
    let events: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let status = match i.cmp(&done) {
                std::cmp::Ordering::Less => "Succeeded",
                std::cmp::Ordering::Equal => next,
                std::cmp::Ordering::Greater => "Pending",
            };
            let mut event = json!({ "lifecycleEventName": name, "status": status });
            if status == "Failed" {
                event["diagnostics"] = json!({
                    "errorCode": "ScriptFailed",
                    "scriptName": "CodeDeployHook_AfterAllowTestTraffic",
                    "message": "The hook Lambda function returned Failed: smoke test on the test listener got 502"
                });
            }
            event
        })
        .collect();
    json!({
        "deploymentTargetType": "ECSTarget",
        "ecsTarget": {
            "deploymentId": id, "targetId": "web-ecs-target", "status": "InProgress",
            "lifecycleEvents": events,
            "taskSetsInfo": [
                { "identifer": "ecs-svc/green", "taskSetLabel": "Green", "trafficWeight": green,
                  "desiredCount": 2, "runningCount": 2, "status": "PRIMARY" },
                { "identifer": "ecs-svc/blue", "taskSetLabel": "Blue", "trafficWeight": 100.0 - green,
                  "desiredCount": 2, "runningCount": 2, "status": "ACTIVE" }
            ]
        }
    })
}

/// `rollback`: the deployment under way names its rollback once stopped; the rollback deployment
/// goes on, then succeeds.
fn rollback_deployment(id: &str, state: &mut State) -> Value {
    let info = if id == ROLLBACK {
        state.rollback_polls += 1;
        let status = if state.rollback_polls < 2 {
            "InProgress"
        } else {
            "Succeeded"
        };
        json!({ "deploymentId": id, "status": status, "creator": "codeDeployRollback" })
    } else if state.stopped {
        json!({ "deploymentId": id, "status": "Stopped",
                "rollbackInfo": { "rollbackDeploymentId": ROLLBACK, "rollbackMessage": "rolled back by user request" } })
    } else {
        json!({ "deploymentId": id, "status": "InProgress" })
    };
    json!({ "deploymentInfo": info })
}
