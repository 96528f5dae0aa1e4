//! A scripted ECS endpoint for roll-out tests. moto registers task definitions but never rolls a
//! deployment out, so this small HTTP server in front of it answers the service calls
//! (`DescribeServices`, `UpdateService`, `ListTasks`, `DescribeTasks`) from a scenario, and forwards every
//! other call to moto. The binary talks to it over HTTP like it talks to AWS.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

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
    operations: Vec<String>,
    update: Option<Value>,
}

pub struct ScriptedEcs {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl ScriptedEcs {
    pub fn start(moto_port: u16, scenario: Scenario) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            scenario,
            current: OLD_REVISION.to_owned(),
            current_rollout: "COMPLETED",
            revision: None,
            polls_after_update: 0,
            operations: Vec::new(),
            update: None,
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || handle(stream, &state, moto_port));
            }
        });
        Self { port, state }
    }

    /// Makes the service run `revision` before the update.
    pub fn running(self, revision: &str) -> Self {
        revision.clone_into(&mut self.state.lock().unwrap().current);
        self
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
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The ECS operations the binary called, in order.
    pub fn operations(&self) -> Vec<String> {
        self.state.lock().unwrap().operations.clone()
    }

    /// The body of the `UpdateService` call, if there was one.
    pub fn update(&self) -> Option<Value> {
        self.state.lock().unwrap().update.clone()
    }
}

/// Reads one HTTP request: its head lines and its body.
pub fn read_request(stream: &TcpStream) -> Option<(Vec<String>, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_owned());
    }
    let length: usize = header(&head, "content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

pub fn header(head: &[String], name: &str) -> Option<String> {
    head.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The operation named by `X-Amz-Target`.
pub fn operation(head: &[String]) -> String {
    let target = header(head, "x-amz-target").unwrap_or_default();
    target.rsplit('.').next().unwrap_or_default().to_owned()
}

pub fn reply(stream: &mut TcpStream, status: u16, response: &str) {
    reply_as(stream, status, "application/x-amz-json-1.1", response);
}

pub fn reply_as(stream: &mut TcpStream, status: u16, content_type: &str, response: &str) {
    let reply = format!(
        "HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{response}",
        response.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

fn handle(mut stream: TcpStream, state: &Mutex<State>, moto_port: u16) {
    let Some((head, body)) = read_request(&stream) else {
        return;
    };
    let operation = operation(&head);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.lock().unwrap().operations.push(operation.clone());
    let scripted = script(&operation, &request, &mut state.lock().unwrap());
    let (status, response) = match scripted {
        Some(value) => (200, value.to_string()),
        None => forward(moto_port, &head, &body),
    };
    reply(&mut stream, status, &response);
}

/// Sends the request on to `port` as it came, and returns the answer.
pub fn forward(moto_port: u16, head: &[String], body: &[u8]) -> (u16, String) {
    let mut upstream = TcpStream::connect(("127.0.0.1", moto_port)).unwrap();
    let mut request = String::new();
    for (i, line) in head.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        if i > 0 && (lower.starts_with("connection:") || lower.starts_with("host:")) {
            continue;
        }
        request.push_str(line);
        request.push_str("\r\n");
    }
    let _ = write!(
        request,
        "Host: 127.0.0.1:{moto_port}\r\nConnection: close\r\n\r\n"
    );
    upstream.write_all(request.as_bytes()).unwrap();
    upstream.write_all(body).unwrap();
    let mut response = Vec::new();
    upstream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    (status, rest.to_owned())
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
        "DescribeServices" => Some(describe_services(state)),
        "UpdateService" => {
            let revision = request["taskDefinition"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            state.revision = Some(revision.clone());
            state.update = Some(request.clone());
            let mut service = service(state, &revision);
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
    json!({
        "serviceArn": SERVICE_ARN, "serviceName": "web",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
        "status": status, "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
        "taskDefinition": task_definition,
        "deploymentController": { "type": controller },
        "deployments": [deployment("ecs-svc/1111111111111111111", "PRIMARY", task_definition, state.current_rollout, 2, 0)],
        "events": [event("e0", "(service web) has reached a steady state.")]
    })
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
    let (deployments, events) = match (state.scenario, poll) {
        (_, 1) | (Scenario::Stuck, _) => (
            json!([
                deployment(NEW_DEPLOYMENT, "PRIMARY", &revision, "IN_PROGRESS", 0, 2),
                old
            ]),
            json!([
                started,
                event("e0", "(service web) has reached a steady state.")
            ]),
        ),
        (Scenario::Clean, _) => (
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
