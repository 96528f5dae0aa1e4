//! One-off tasks on their own (`run`): the registered revision run once, its CloudWatch Logs
//! (through the emulator) printed while it runs, masked; no service update.

use serde_json::json;

use crate::support::ecs::{ONE_OFF_TASK, Scenario, ScriptedEcs, TaskEnd};
use crate::support::{Env, Output};

const CANARY: &str = "oneoff-canary-pw-7F3";

/// A template whose container logs to `awslogs` and receives a secret.
fn template(env: &Env) -> String {
    env.secret("web/db", &format!(r#"{{"password":"{CANARY}"}}"#));
    env.parameter("/web/api-key", "oneoff-canary-key-9Q1", true);
    env.file(
        "web.json",
        r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [
    { "name": "web", "image": "web:1", "memory": 128,
      "logConfiguration": { "logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app" } },
      "secrets": [
        { "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db:password}}" },
        { "name": "API_KEY", "valueFrom": "/web/api-key" }
      ] }
  ]
}"#,
    )
    .to_str()
    .unwrap()
    .to_owned()
}

/// The one-off task's log stream in the emulator, with these lines.
fn logs(env: &Env, lines: &[&str]) {
    let stream = format!("app/web/{}", ONE_OFF_TASK.rsplit('/').next().unwrap());
    env.log_lines("/ecs/web", &stream, lines);
}

fn run(env: &Env, ecs: &ScriptedEcs, path: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--task-definition", path, "--poll-interval", "0.01"];
    args.extend_from_slice(extra);
    env.run(args)
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .output()
}

#[test]
fn run_runs_the_new_revision_once_prints_its_logs_masked_and_updates_no_service() {
    let env = Env::new();
    let path = template(&env);
    logs(
        &env,
        &[
            "migrating 3 tables",
            &format!("connecting with password {CANARY}"),
            "api key oneoff-canary-key-9Q1 accepted",
            "\u{1b}[31mred\u{1b}[0m done",
        ],
    );
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).one_off(TaskEnd::Exit(0));
    let out = run(
        &env,
        &ecs,
        &path,
        &["--service", "web", "--run-task-command", "bin/migrate"],
    )
    .success();
    out.stderr_has("  [web] migrating 3 tables");
    out.stderr_has("  [web] connecting with password ***");
    out.stderr_has("  [web] api key *** accepted");
    out.stderr_has("  [web] \u{fffd}[31mred\u{fffd}[0m done");
    out.stderr_has("run-task: every essential container exited 0");
    for canary in [CANARY, "oneoff-canary-key-9Q1"] {
        assert!(!out.all().contains(canary), "{canary} leaked: {out}");
    }
    let task = ecs.run_task().expect("RunTask");
    assert_eq!(
        task["taskDefinition"].as_str(),
        out.report("task-definition-arn").as_deref()
    );
    assert_eq!(
        task["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        json!(["subnet-0abc"]),
        "the service lends its network"
    );
    assert_eq!(
        out.report("run-task-arn"),
        Some(format!("[\"{ONE_OFF_TASK}\"]"))
    );
    assert!(!ecs.operations().iter().any(|o| o == "UpdateService"));
    assert_eq!(out.report("rollout"), None);
}

#[test]
fn a_task_that_exits_non_zero_fails_the_run_after_its_last_lines() {
    let env = Env::new();
    let path = template(&env);
    logs(&env, &["migration 4 failed: duplicate column"]);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).one_off(TaskEnd::Exit(3));
    let out = run(&env, &ecs, &path, &["--run-task-subnets", "subnet-1"]).failure(1);
    out.stderr_has("  [web] migration 4 failed: duplicate column");
    out.stderr_has("container `web` of task migrate0001 exited with code 3");
    let task = ecs.run_task().unwrap();
    assert_eq!(
        task["launchType"], "FARGATE",
        "no service: the deploy action's default"
    );
}

#[test]
fn logs_are_not_printed_when_a_value_they_could_carry_cannot_be_read() {
    let env = Env::new();
    let path = template(&env);
    logs(&env, &[&format!("password {CANARY}")]);
    // The parameter is gone: its value cannot be learnt, so no line is printed.
    env.block_on(env.ssm.delete_parameter().name("/web/api-key").send())
        .unwrap();
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).one_off(TaskEnd::Exit(0));
    let out = run(&env, &ecs, &path, &[]).success();
    out.stderr_has(
        "the task's log lines are not printed: the value of `/web/api-key` cannot be read",
    );
    out.stderr_has("log group `/ecs/web`");
    assert!(!out.stderr.contains("[web] password"), "{out}");
    assert!(!out.all().contains(CANARY));
}
