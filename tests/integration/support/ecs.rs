//! A scripted ECS service for roll-out tests. moto registers task definitions but never rolls a
//! deployment out, so the stub answers the service calls (`DescribeServices`, `UpdateService`,
//! `ListTasks`, `DescribeTasks`) from a scenario, and passes every other call to moto.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::stub::{Answer, Stub};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `IN_PROGRESS`, then `COMPLETED` at the desired count.
    Clean,
    /// The circuit breaker rolls the new deployment back.
    CircuitBreaker,
    /// The rollout FAILS with stopped tasks that could not read a secret.
    SecretAccessDenied,
    /// Never finishes.
    Stuck,
    Inactive,
    Missing,
    CodeDeploy,
    /// A blue/green service deployment through its stages to `SUCCESSFUL`.
    BlueGreen,
    /// A canary deployment: production traffic shift, bake time, `SUCCESSFUL`.
    Canary,
    /// A linear deployment: production traffic shift step by step, bake time, `SUCCESSFUL`.
    Linear,
    /// A canary deployment rolled back by an alarm.
    AlarmRollback,
    /// A deployment stopped by someone.
    Stopped,
    /// A blue/green deployment that stays in its bake time.
    Baking,
    /// A linear deployment rolled back because a lifecycle hook failed: `ROLLBACK_SUCCESSFUL`.
    HookRollback,
    /// A canary deployment whose rollback failed: `ROLLBACK_FAILED`.
    RollbackFailed,
    /// ECS names a service deployment, but the service-deployment API does not answer: the
    /// service's deployments complete as in `Clean`.
    NoDeploymentApi,
    /// As the emulator answers: the service's deployments carry no id and keep the old revision.
    Unidentified,
    /// `rollback` of a deployment in progress: stopped with rollback, then ROLLBACK_SUCCESSFUL.
    RollbackInProgress,
    /// `rollback` of a finished deployment: its source revision runs `PREVIOUS_REVISION`, rolled
    /// out as in `Clean`.
    RollbackFinished,
}

pub const PREVIOUS_REVISION: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:41";

/// How the one-off task (`run-task`) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// Its container exits with this code.
    Exit(i32),
    /// It stops before its container ran (no exit code).
    FailedToStart,
}

pub const ONE_OFF_TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/default/migrate0001";

pub const SERVICE_DEPLOYMENT: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/default/web/Abc123xyz";

impl Scenario {
    fn has_service_deployment(self) -> bool {
        matches!(
            self,
            Scenario::BlueGreen
                | Scenario::Canary
                | Scenario::Linear
                | Scenario::AlarmRollback
                | Scenario::Stopped
                | Scenario::Baking
                | Scenario::HookRollback
                | Scenario::RollbackFailed
                | Scenario::NoDeploymentApi
        )
    }
}

pub const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/default/web";
pub const OLD_REVISION: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:0";
pub const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf";
pub const NEW_DEPLOYMENT: &str = "ecs-svc/2222222222222222222";

struct State {
    scenario: Scenario,
    /// The revision the service runs before any update, and that deployment's rollout state.
    current: String,
    current_rollout: &'static str,
    /// The revision the service was updated to.
    revision: Option<String>,
    polls_after_update: usize,
    service_deployment_polls: usize,
    task_end: TaskEnd,
    task_polls: usize,
    /// `StopServiceDeployment` was called.
    stopped: bool,
}

pub struct ScriptedEcs {
    stub: Stub,
    state: Arc<Mutex<State>>,
}

impl ScriptedEcs {
    pub fn start(moto_port: u16, scenario: Scenario) -> Self {
        let state = Arc::new(Mutex::new(State {
            scenario,
            current: OLD_REVISION.to_owned(),
            current_rollout: "COMPLETED",
            revision: None,
            polls_after_update: 0,
            service_deployment_polls: 0,
            task_end: TaskEnd::Exit(0),
            task_polls: 0,
            stopped: false,
        }));
        let shared = Arc::clone(&state);
        let stub = Stub::start(moto_port, move |request| {
            let mut state = shared.lock().unwrap();
            if request.operation == "DescribeServiceDeployments" {
                return describe_service_deployments(&mut state);
            }
            if let Some(answer) = rollback_calls(&request.operation, &mut state) {
                return answer;
            }
            match script(&request.operation, &request.json, &mut state) {
                Some(answer) => Answer::json(200, &answer),
                None => Answer::Forward,
            }
        });
        Self { stub, state }
    }

    /// Makes the service run `revision` before the update.
    pub fn running(self, revision: &str) -> Self {
        revision.clone_into(&mut self.state.lock().unwrap().current);
        self
    }

    /// Makes the one-off task end this way.
    pub fn one_off(self, end: TaskEnd) -> Self {
        self.state.lock().unwrap().task_end = end;
        self
    }

    /// The body of the `RunTask` call, if there was one.
    pub fn run_task(&self) -> Option<Value> {
        self.stub.bodies("RunTask").pop()
    }

    /// Makes the service's current deployment of `revision` one that FAILED.
    pub fn running_failed(self, revision: &str) -> Self {
        {
            let mut state = self.state.lock().unwrap();
            revision.clone_into(&mut state.current);
            state.current_rollout = "FAILED";
        }
        self
    }

    pub fn url(&self) -> String {
        self.stub.url()
    }

    pub fn port(&self) -> u16 {
        self.stub.port
    }

    /// The ECS operations the binary called, in order.
    pub fn operations(&self) -> Vec<String> {
        self.stub.operations()
    }

    /// The body of the `UpdateService` call, if there was one.
    pub fn update(&self) -> Option<Value> {
        self.stub.bodies("UpdateService").pop()
    }
}

fn deployment(
    id: &str,
    status: &str,
    task_definition: &str,
    rollout: &str,
    running: i32,
    pending: i32,
) -> Value {
    json!({
        "id": id, "status": status, "taskDefinition": task_definition,
        "desiredCount": 2, "runningCount": running, "pendingCount": pending,
        "failedTasks": if rollout == "FAILED" { 2 } else { 0 },
        "rolloutState": rollout, "createdAt": 1_764_400_000.0, "updatedAt": 1_764_400_000.0,
        "launchType": "FARGATE"
    })
}

fn event(id: &str, message: &str) -> Value {
    json!({ "id": id, "createdAt": 1_764_400_000.0, "message": message })
}

fn script(operation: &str, request: &Value, state: &mut State) -> Option<Value> {
    match operation {
        "RunTask" => Some(json!({
            "tasks": [{ "taskArn": ONE_OFF_TASK, "lastStatus": "PROVISIONING",
                        "taskDefinitionArn": request["taskDefinition"] }],
            "failures": []
        })),
        "DescribeTasks" if request["tasks"][0] == ONE_OFF_TASK => Some(one_off(state)),
        "DescribeServices" => Some(describe_services(state)),
        "UpdateService" => {
            let revision = request["taskDefinition"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            state.revision = Some(revision.clone());
            let mut service = service(state, &revision);
            if state.scenario.has_service_deployment() {
                service["currentServiceDeployment"] = json!(SERVICE_DEPLOYMENT);
            }
            if state.scenario == Scenario::Unidentified {
                service["deployments"] = unidentified();
                return Some(json!({ "service": service }));
            }
            service["deployments"] = json!([
                deployment(NEW_DEPLOYMENT, "PRIMARY", &revision, "IN_PROGRESS", 0, 0),
                deployment(
                    "ecs-svc/1111111111111111111",
                    "ACTIVE",
                    OLD_REVISION,
                    "COMPLETED",
                    2,
                    0
                ),
            ]);
            Some(json!({ "service": service }))
        }
        "ListTasks" => {
            let failing = matches!(
                state.scenario,
                Scenario::SecretAccessDenied | Scenario::CircuitBreaker
            );
            let arns: Vec<&str> = if failing {
                vec![
                    "arn:aws:ecs:us-east-1:123456789012:task/default/0a1b2c3d4e5f",
                    "arn:aws:ecs:us-east-1:123456789012:task/default/old0000",
                ]
            } else {
                vec![]
            };
            Some(json!({ "taskArns": arns }))
        }
        "DescribeTasks" => {
            let revision = state.revision.clone().unwrap_or_default();
            let reason = format!(
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret {SECRET_ARN} from secrets manager: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/web-execution/0a1b2c3d is not authorized to perform: secretsmanager:GetSecretValue on resource: {SECRET_ARN} because no identity-based policy allows the secretsmanager:GetSecretValue action"
            );
            Some(json!({ "tasks": [
                {
                    "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/0a1b2c3d4e5f",
                    "taskDefinitionArn": revision, "lastStatus": "STOPPED", "startedBy": NEW_DEPLOYMENT,
                    "stopCode": "TaskFailedToStart", "stoppedReason": reason,
                    "containers": [{ "name": "web", "lastStatus": "STOPPED" }]
                },
                {
                    "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/old0000",
                    "taskDefinitionArn": OLD_REVISION, "lastStatus": "STOPPED",
                    "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/0)",
                    "containers": []
                }
            ], "failures": [] }))
        }
        _ => None,
    }
}

/// The one-off task: RUNNING at the first poll, then STOPPED as its scenario ends.
fn one_off(state: &mut State) -> Value {
    state.task_polls += 1;
    if state.task_polls == 1 {
        return json!({ "tasks": [{ "taskArn": ONE_OFF_TASK, "lastStatus": "RUNNING",
            "containers": [{ "name": "web", "lastStatus": "RUNNING" }] }], "failures": [] });
    }
    let task = match state.task_end {
        TaskEnd::Exit(code) => json!({
            "taskArn": ONE_OFF_TASK, "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "containers": [{ "name": "web", "lastStatus": "STOPPED", "exitCode": code }]
        }),
        TaskEnd::FailedToStart => json!({
            "taskArn": ONE_OFF_TASK, "lastStatus": "STOPPED", "stopCode": "TaskFailedToStart",
            "stoppedReason": "ResourceInitializationError: unable to pull secrets or registry auth",
            "containers": [{ "name": "web", "lastStatus": "STOPPED" }]
        }),
    };
    json!({ "tasks": [task], "failures": [] })
}

fn service(state: &State, task_definition: &str) -> Value {
    let controller = if state.scenario == Scenario::CodeDeploy {
        "CODE_DEPLOY"
    } else {
        "ECS"
    };
    let status = if state.scenario == Scenario::Inactive {
        "INACTIVE"
    } else {
        "ACTIVE"
    };
    let mut service = json!({
        "serviceArn": SERVICE_ARN, "serviceName": "web",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
        "status": status, "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
        "taskDefinition": task_definition,
        "deploymentController": { "type": controller },
        "currentServiceDeployment": if matches!(state.scenario, Scenario::RollbackInProgress | Scenario::RollbackFinished) {
            json!(SERVICE_DEPLOYMENT)
        } else {
            Value::Null
        },
        "networkConfiguration": { "awsvpcConfiguration": {
            "subnets": ["subnet-0abc"], "securityGroups": ["sg-0abc"], "assignPublicIp": "DISABLED"
        } },
        "deployments": [deployment("ecs-svc/1111111111111111111", "PRIMARY", task_definition, state.current_rollout, 2, 0)],
        "events": [event("e0", "(service web) has reached a steady state.")]
    });
    if state.scenario == Scenario::CodeDeploy {
        service["loadBalancers"] = json!([{
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/0123456789abcdef",
            "containerName": "web", "containerPort": 8080
        }]);
        service["platformVersion"] = json!("1.4.0");
    }
    service
}

#[allow(clippy::too_many_lines)] // one table of scenarios
fn describe_services(state: &mut State) -> Value {
    if state.scenario == Scenario::Missing {
        return json!({ "services": [], "failures": [{ "arn": SERVICE_ARN, "reason": "MISSING" }] });
    }
    let Some(revision) = state.revision.clone() else {
        return json!({ "services": [service(state, &state.current)], "failures": [] });
    };
    state.polls_after_update += 1;
    let poll = state.polls_after_update;
    let old = deployment(
        "ecs-svc/1111111111111111111",
        "ACTIVE",
        OLD_REVISION,
        "COMPLETED",
        2,
        0,
    );
    let started = event(
        "e1",
        &format!(
            "(service web) has started 2 tasks: (task 0a1b2c3d4e5f) (task 9f8e7d6c5b4a). (deployment {NEW_DEPLOYMENT})"
        ),
    );
    let mut service = service(state, &revision);
    if state.scenario == Scenario::Unidentified {
        service["deployments"] = unidentified();
        return json!({ "services": [service], "failures": [] });
    }
    let (deployments, events) = match (state.scenario, poll) {
        (_, 1)
        | (
            Scenario::Stuck
            | Scenario::BlueGreen
            | Scenario::Canary
            | Scenario::Linear
            | Scenario::AlarmRollback
            | Scenario::Stopped
            | Scenario::Baking
            | Scenario::HookRollback
            | Scenario::RollbackFailed,
            _,
        ) => (
            json!([
                deployment(NEW_DEPLOYMENT, "PRIMARY", &revision, "IN_PROGRESS", 0, 2),
                old
            ]),
            json!([
                started,
                event("e0", "(service web) has reached a steady state.")
            ]),
        ),
        (Scenario::Clean | Scenario::NoDeploymentApi | Scenario::RollbackFinished, _) => (
            json!([deployment(
                NEW_DEPLOYMENT,
                "PRIMARY",
                &revision,
                "COMPLETED",
                2,
                0
            )]),
            json!([
                event("e2", "(service web) has reached a steady state."),
                started
            ]),
        ),
        (Scenario::CircuitBreaker, _) => {
            let mut failed = deployment(NEW_DEPLOYMENT, "ACTIVE", &revision, "FAILED", 0, 0);
            failed["rolloutStateReason"] =
                json!("ECS deployment circuit breaker: tasks failed to start.");
            service["taskDefinition"] = json!(OLD_REVISION);
            (
                json!([
                    deployment(
                        "ecs-svc/3333333333333333333",
                        "PRIMARY",
                        OLD_REVISION,
                        "IN_PROGRESS",
                        2,
                        0
                    ),
                    failed
                ]),
                json!([
                    event(
                        "e3",
                        "(service web) rolling back to deployment ecs-svc/1111111111111111111.",
                    ),
                    event(
                        "e2",
                        &format!(
                            "(service web) (deployment {NEW_DEPLOYMENT}) deployment failed: tasks failed to start."
                        )
                    ),
                    started
                ]),
            )
        }
        (Scenario::SecretAccessDenied, _) => {
            let mut failed = deployment(NEW_DEPLOYMENT, "PRIMARY", &revision, "FAILED", 0, 0);
            failed["rolloutStateReason"] =
                json!("ECS deployment circuit breaker: tasks failed to start.");
            (
                json!([failed, old]),
                json!([
                    event(
                        "e2",
                        "(service web) (deployment ecs-svc/2222222222222222222) deployment failed: tasks failed to start."
                    ),
                    started
                ]),
            )
        }
        _ => unreachable!("scenarios without a roll-out never reach a poll"),
    };
    service["deployments"] = deployments;
    service["events"] = events;
    json!({ "services": [service], "failures": [] })
}

/// The service's deployments as the emulator answers after an update: no id, the old revision.
fn unidentified() -> Value {
    json!([{
        "status": "PRIMARY", "taskDefinition": OLD_REVISION, "desiredCount": 2,
        "runningCount": 0, "pendingCount": 0, "rolloutState": "IN_PROGRESS",
        "launchType": "FARGATE"
    }])
}

/// `StopServiceDeployment` and `DescribeServiceRevisions`, for `rollback`.
fn rollback_calls(operation: &str, state: &mut State) -> Option<Answer> {
    match operation {
        "StopServiceDeployment" => {
            state.stopped = true;
            Some(Answer::json(
                200,
                &json!({ "serviceDeploymentArn": SERVICE_DEPLOYMENT }),
            ))
        }
        "DescribeServiceRevisions" => Some(Answer::json(
            200,
            &json!({ "serviceRevisions": [{
                "serviceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/default/web/41",
                "taskDefinition": PREVIOUS_REVISION
            }], "failures": [] }),
        )),
        _ => None,
    }
}

/// `DescribeServiceDeployments`, poll by poll, for each scenario that has one.
fn describe_service_deployments(state: &mut State) -> Answer {
    if state.scenario == Scenario::NoDeploymentApi {
        return Answer::error(
            400,
            "UnknownOperationException",
            "The operation DescribeServiceDeployments is not supported",
        );
    }
    state.service_deployment_polls += 1;
    let poll = state.service_deployment_polls;
    match state.scenario {
        Scenario::RollbackInProgress | Scenario::RollbackFinished => {
            let status = match (state.scenario, state.stopped, poll) {
                (Scenario::RollbackFinished, _, _) => "SUCCESSFUL",
                (_, false, _) => "IN_PROGRESS",
                (_, true, p) if p <= 2 => "ROLLBACK_IN_PROGRESS",
                (_, true, _) => "ROLLBACK_SUCCESSFUL",
            };
            return Answer::json(
                200,
                &json!({ "serviceDeployments": [{
                "serviceDeploymentArn": SERVICE_DEPLOYMENT, "status": status,
                "sourceServiceRevisions": [{ "arn": "arn:aws:ecs:us-east-1:123456789012:service-revision/default/web/41" }],
                "deploymentConfiguration": { "strategy": "ROLLING" }
            }], "failures": [] }),
            );
        }
        _ => {}
    }
    let (strategy, status, lifecycle) = match (state.scenario, poll) {
        (Scenario::BlueGreen, 1) => ("BLUE_GREEN", "IN_PROGRESS", "SCALE_UP"),
        (Scenario::BlueGreen, 2) => ("BLUE_GREEN", "IN_PROGRESS", "TEST_TRAFFIC_SHIFT"),
        (Scenario::BlueGreen, 3) => ("BLUE_GREEN", "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"),
        (Scenario::BlueGreen, 4) | (Scenario::Baking, _) => {
            ("BLUE_GREEN", "IN_PROGRESS", "BAKE_TIME")
        }
        (Scenario::BlueGreen, 5) => ("BLUE_GREEN", "IN_PROGRESS", "CLEAN_UP"),
        (Scenario::BlueGreen, _) => ("BLUE_GREEN", "SUCCESSFUL", "CLEAN_UP"),
        (Scenario::Canary | Scenario::AlarmRollback | Scenario::RollbackFailed, 1) => {
            ("CANARY", "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT")
        }
        (Scenario::Canary, 2) => ("CANARY", "IN_PROGRESS", "BAKE_TIME"),
        (Scenario::Canary, _) => ("CANARY", "SUCCESSFUL", "CLEAN_UP"),
        (Scenario::Linear, 1..=3) => ("LINEAR", "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"),
        (Scenario::Linear, 4) => ("LINEAR", "IN_PROGRESS", "BAKE_TIME"),
        (Scenario::Linear, _) => ("LINEAR", "SUCCESSFUL", "CLEAN_UP"),
        (Scenario::AlarmRollback, _) => {
            ("CANARY", "ROLLBACK_IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT")
        }
        (Scenario::HookRollback, 1) => ("LINEAR", "IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"),
        (Scenario::HookRollback, _) => ("LINEAR", "ROLLBACK_SUCCESSFUL", "POST_TEST_TRAFFIC_SHIFT"),
        (Scenario::RollbackFailed, _) => ("CANARY", "ROLLBACK_FAILED", "PRODUCTION_TRAFFIC_SHIFT"),
        (Scenario::Stopped, 1) => ("ROLLING", "IN_PROGRESS", "SCALE_UP"),
        (Scenario::Stopped, _) => ("ROLLING", "STOPPED", "SCALE_UP"),
        _ => return Answer::Forward,
    };
    let mut deployment = json!({
        "serviceDeploymentArn": SERVICE_DEPLOYMENT,
        "serviceArn": SERVICE_ARN,
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
        "createdAt": 1_764_400_000.0,
        "status": status,
        "lifecycleStage": lifecycle,
        "deploymentConfiguration": { "strategy": strategy, "bakeTimeInMinutes": 60 },
        "alarms": { "status": "MONITORING", "alarmNames": ["web-5xx"], "triggeredAlarmNames": [] }
    });
    if status.starts_with("ROLLBACK") {
        deployment["rollback"] = json!({
            "reason": "Rollback triggered by CloudWatch alarm web-5xx",
            "startedAt": 1_764_400_100.0,
            "serviceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/default/web/1"
        });
        deployment["alarms"]["status"] = json!("TRIGGERED");
        deployment["alarms"]["triggeredAlarmNames"] = json!(["web-5xx"]);
    }
    if state.scenario == Scenario::HookRollback && status.starts_with("ROLLBACK") {
        deployment["rollback"]["reason"] = json!(
            "Lifecycle hook arn:aws:lambda:us-east-1:123456789012:function:smoke returned FAILED at POST_TEST_TRAFFIC_SHIFT"
        );
        deployment["alarms"] =
            json!({ "status": "MONITORING", "alarmNames": ["web-5xx"], "triggeredAlarmNames": [] });
    }
    if status == "STOPPED" {
        deployment["statusReason"] = json!("Service deployment stopped by StopServiceDeployment");
    }
    Answer::json(
        200,
        &json!({ "serviceDeployments": [deployment], "failures": [] }),
    )
}

/// ECS as it stores a task definition: moto keeps what it was given, ECS fills in its defaults
/// (an EFS volume's root directory and transit encryption, a container's `essential` and `cpu`,
/// empty lists, a port's protocol, a health check's timings, task memory in MiB). This stub
/// answers `RegisterTaskDefinition` and `DescribeTaskDefinition` the way ECS does and passes
/// every other call to moto.
pub fn with_ecs_defaults(moto_port: u16) -> Stub {
    Stub::start(moto_port, |request| match request.operation.as_str() {
        "RegisterTaskDefinition" | "DescribeTaskDefinition" => Answer::ForwardEdited(fill_defaults),
        _ => Answer::Forward,
    })
}

pub fn fill_defaults(answer: &mut Value) {
    let Some(definition) = answer.get_mut("taskDefinition") else {
        return;
    };
    if let Some(memory) = definition.get("memory").and_then(Value::as_str)
        && let Some(gb) = memory.trim().strip_suffix("GB")
        && let Ok(gb) = gb.trim().parse::<u64>()
    {
        definition["memory"] = json!((gb * 1024).to_string());
    }
    for volume in definition["volumes"].as_array_mut().into_iter().flatten() {
        if let Some(efs) = volume.get_mut("efsVolumeConfiguration") {
            efs.as_object_mut()
                .unwrap()
                .entry("rootDirectory")
                .or_insert(json!("/"));
            efs.as_object_mut()
                .unwrap()
                .entry("transitEncryption")
                .or_insert(json!("DISABLED"));
        }
    }
    let awsvpc = definition.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    for container in definition["containerDefinitions"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let container = container.as_object_mut().unwrap();
        container.entry("essential").or_insert(json!(true));
        container.entry("cpu").or_insert(json!(0));
        for list in [
            "environment",
            "mountPoints",
            "volumesFrom",
            "systemControls",
        ] {
            container.entry(list).or_insert(json!([]));
        }
        for port in container
            .get_mut("portMappings")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let port = port.as_object_mut().unwrap();
            port.entry("protocol").or_insert(json!("tcp"));
            if awsvpc && let Some(container_port) = port.get("containerPort").cloned() {
                port.entry("hostPort").or_insert(container_port);
            }
        }
        if let Some(check) = container
            .get_mut("healthCheck")
            .and_then(Value::as_object_mut)
        {
            check.entry("interval").or_insert(json!(30));
            check.entry("timeout").or_insert(json!(5));
            check.entry("retries").or_insert(json!(3));
        }
    }
}
