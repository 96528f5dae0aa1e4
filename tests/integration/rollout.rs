//! Roll-out scenarios against the scripted ECS endpoint (moto does not roll deployments out).

use crate::support::ecs::{NEW_DEPLOYMENT, SECRET_ARN, Scenario, ScriptedEcs};
use crate::support::{Env, Output, count, trace};

fn template(env: &Env) -> String {
    env.secret("web/db", r#"{"password":"rollout-canary-pw"}"#);
    env.file(
        "web.json",
        r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [
    { "name": "web", "image": "web:1", "memory": 128,
      "secrets": [{ "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db:password}}" }] }
  ]
}"#,
    )
    .to_str()
    .unwrap()
    .to_owned()
}

fn deploy(env: &Env, ecs: &ScriptedEcs, path: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "deploy",
        "--task-definition",
        path,
        "--service",
        "web",
        "--poll-interval",
        "0.01",
    ];
    args.extend_from_slice(extra);
    env.run(args)
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .output()
}

#[test]
fn clean_rollout_waits_until_the_deployment_completes() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    let out = deploy(&env, &ecs, &path, &["--desired-count", "2"]).success();
    assert_eq!(out.report("rollout").as_deref(), Some("completed"));
    assert_eq!(out.report("deployment-id").as_deref(), Some(NEW_DEPLOYMENT));
    assert_eq!(out.report("service").as_deref(), Some("web"));
    let update = ecs.update().expect("UpdateService was called");
    assert_eq!(
        update["taskDefinition"].as_str(),
        out.report("task-definition-arn").as_deref()
    );
    assert_eq!(update["cluster"], "default");
    out.stderr_has("IN_PROGRESS running 0/2 pending 2");
    out.stderr_has("COMPLETED running 2/2 pending 0");
    out.stderr_has("event: (service web) has started 2 tasks");
    out.stderr_has("rollout: completed");
    let operations = ecs.operations();
    let register = operations
        .iter()
        .position(|o| o == "RegisterTaskDefinition")
        .unwrap();
    let first_describe = operations
        .iter()
        .position(|o| o == "DescribeServices")
        .unwrap();
    let update = operations
        .iter()
        .position(|o| o == "UpdateService")
        .unwrap();
    assert!(
        first_describe < register && register < update,
        "{operations:?}"
    );
}

#[test]
fn the_service_and_the_latest_revision_are_read_while_the_lookups_are_answered() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    let out = deploy(
        &env,
        &ecs,
        &path,
        &["--wait-for-service-stability=false", "-v"],
    )
    .success();
    let calls = trace(&out.stderr);
    let started = |op: &str| {
        calls
            .iter()
            .find(|c| c.0 == op)
            .unwrap_or_else(|| panic!("no {op}\n{out}"))
            .1
    };
    let ended = |op: &str| {
        calls
            .iter()
            .find(|c| c.0 == op)
            .unwrap_or_else(|| panic!("no {op}\n{out}"))
            .2
    };
    // The lookup (the secret's ARN) is the first call; the two ECS reads start before it ends,
    // and the writes wait for all three: lookups → register → update.
    let lookup_end = ended("ListSecrets");
    assert!(started("DescribeServices") <= lookup_end, "{calls:?}");
    assert!(started("DescribeTaskDefinition") <= lookup_end, "{calls:?}");
    let reads_end = lookup_end
        .max(ended("DescribeServices"))
        .max(ended("DescribeTaskDefinition"));
    assert!(started("RegisterTaskDefinition") >= reads_end, "{calls:?}");
    assert!(
        started("UpdateService") >= ended("RegisterTaskDefinition"),
        "{calls:?}"
    );
    // Each read once: the read-ahead replaces the later read, it does not add to it. (The second
    // DescribeTaskDefinition is the plan's read of the older revision the service runs.)
    let operations = ecs.operations();
    for (read, times) in [("DescribeServices", 1), ("DescribeTaskDefinition", 2)] {
        let reads = operations.iter().filter(|o| *o == read).count();
        assert_eq!(reads, times, "{read}: {operations:?}");
    }
}

#[test]
fn circuit_breaker_rollback_fails_with_events_stopped_tasks_and_a_diagnosis() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::CircuitBreaker);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has(
        "failed: the deployment failed: ECS deployment circuit breaker: tasks failed to start.",
    );
    out.stderr_has("last service events:");
    out.stderr_has("rolling back to deployment");
    out.stderr_has("stopped tasks of the new deployment:");
    out.stderr_has("task 0a1b2c3d4e5f: ResourceInitializationError");
    assert!(
        !out.stderr.contains("old0000"),
        "tasks of other deployments are left out:\n{out}"
    );
    assert!(!out.all().contains("rollout-canary-pw"));
}

#[test]
fn failed_rollout_names_the_execution_role_the_action_and_the_secret() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::SecretAccessDenied);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has("diagnosis: the task execution role `web-execution` may not read");
    out.stderr_has(&format!(
        "fix: allow `secretsmanager:GetSecretValue` on `{SECRET_ARN}`"
    ));
}

#[test]
fn a_rollout_that_never_finishes_times_out_with_the_state_it_reached() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Stuck);
    let started = std::time::Instant::now();
    let out = deploy(&env, &ecs, &path, &["--wait-for-minutes", "0.005"]).failure(1);
    assert!(started.elapsed().as_secs() < 10);
    out.stderr_has("did not complete within 0.005 minutes");
    out.stderr_has("IN_PROGRESS running 0/2 pending 2");
}

#[test]
fn without_waiting_the_update_is_reported_as_started() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Stuck);
    let out = deploy(&env, &ecs, &path, &["--wait-for-service-stability=false"]).success();
    assert_eq!(out.report("rollout").as_deref(), Some("started"));
    assert_eq!(
        ecs.operations()
            .iter()
            .filter(|o| *o == "DescribeServices")
            .count(),
        1
    );
}

#[test]
fn a_service_that_cannot_be_updated_fails_before_anything_is_registered() {
    for (scenario, message) in [
        (
            Scenario::Missing,
            "service `web` in cluster `default`: not found (MISSING)",
        ),
        (Scenario::Inactive, "its status is INACTIVE"),
        (
            Scenario::CodeDeploy,
            "it deploys through CodeDeploy, but there is no CodeDeploy application `AppECS-default-web`, deployment group `DgpECS-default-web`; name them with `codedeploy-application` and `codedeploy-deployment-group`",
        ),
    ] {
        let env = Env::new();
        let path = template(&env);
        let ecs = ScriptedEcs::start(env.port, scenario);
        env.record();
        let out = deploy(&env, &ecs, &path, &[]).failure(1);
        assert!(out.stderr.contains(message), "{scenario:?}: {out}");
        assert_eq!(
            count(&env.calls(), "RegisterTaskDefinition"),
            0,
            "{scenario:?}"
        );
        assert!(!ecs.operations().contains(&"UpdateService".to_owned()));
    }
}

#[test]
fn an_unchanged_definition_the_service_already_runs_is_not_rolled_out_again() {
    let env = Env::new();
    let path = template(&env);
    let first = ScriptedEcs::start(env.port, Scenario::Clean);
    let arn = deploy(&env, &first, &path, &[])
        .success()
        .report("task-definition-arn")
        .unwrap();

    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).running(&arn);
    let out = deploy(&env, &ecs, &path, &[]).success();
    assert_eq!(out.report("changed").as_deref(), Some("false"));
    assert_eq!(out.report("rollout").as_deref(), Some("unchanged"));
    out.stderr_has("already runs");
    assert!(!ecs.operations().contains(&"UpdateService".to_owned()));

    // Forced (a rotated secret): a new deployment of the same revision.
    let forced = ScriptedEcs::start(env.port, Scenario::Clean).running(&arn);
    let out = deploy(&env, &forced, &path, &["--force-new-deployment"]).success();
    assert_eq!(out.report("rollout").as_deref(), Some("completed"));
    let update = forced.update().unwrap();
    assert_eq!(update["forceNewDeployment"], true);
    assert_eq!(update["taskDefinition"].as_str(), Some(arn.as_str()));
}

#[test]
fn a_secret_changed_after_the_running_deployment_started_forces_a_redeploy_when_asked() {
    let env = Env::new();
    let path = template(&env);
    let first = ScriptedEcs::start(env.port, Scenario::Clean);
    let arn = deploy(&env, &first, &path, &[])
        .success()
        .report("task-definition-arn")
        .unwrap();

    // The scripted deployment started in 2025; the secret was created just now.
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).running(&arn);
    let out = deploy(&env, &ecs, &path, &["--redeploy-on-secret-change"]).success();
    out.stderr_has("`{{secretsmanager-arn:web/db:password}}` changed at");
    assert_eq!(out.report("rollout").as_deref(), Some("completed"));
    assert_eq!(ecs.update().unwrap()["forceNewDeployment"], true);
}

#[test]
fn a_service_whose_deployment_of_the_revision_failed_is_not_reported_unchanged() {
    let env = Env::new();
    let path = template(&env);
    let first = ScriptedEcs::start(env.port, Scenario::Clean);
    let arn = deploy(&env, &first, &path, &[])
        .success()
        .report("task-definition-arn")
        .unwrap();
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).running_failed(&arn);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has("FAILED; run with `force-new-deployment` to try again");
    assert!(ecs.update().is_none());
}

#[test]
fn a_manifest_deploys_many_services_resolving_shared_references_once() {
    let env = Env::new();
    let web = template(&env);
    let worker = env.file(
        "worker.json",
        r#"{"family":"worker","executionRoleArn":"arn:aws:iam::123456789012:role/web-execution","containerDefinitions":[{"name":"worker","image":"worker:1","memory":64,"secrets":[{"name":"DB_PASSWORD","valueFrom":"{{secretsmanager-arn:web/db:password}}"}]}]}"#,
    );
    let manifest = env.file(
        "services.yaml",
        &format!(
            "services:\n  - task-definition: {web}\n    service: web\n    image: web=repo/web:7\n  - task-definition: {}\n",
            worker.display()
        ),
    );
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    env.record();
    let out = env
        .run([
            "deploy",
            "--manifest",
            manifest.to_str().unwrap(),
            "--poll-interval",
            "0.01",
        ])
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .output()
        .success();
    out.stdout_has(
        "web.task-definition-arn=arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    );
    out.stdout_has("web.rollout=completed");
    out.stdout_has(
        "worker.task-definition-arn=arn:aws:ecs:us-east-1:123456789012:task-definition/worker:1",
    );
    let calls = env.calls();
    assert_eq!(
        count(&calls, "ListSecrets") + count(&calls, "DescribeSecret"),
        1,
        "the shared reference is resolved once"
    );
    assert_eq!(
        ecs.update().unwrap()["taskDefinition"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    );

    // A service that cannot be updated stops the whole manifest before any registration.
    let missing = ScriptedEcs::start(env.port, Scenario::Missing);
    let out = env
        .run([
            "deploy",
            "--manifest",
            manifest.to_str().unwrap(),
            "--image",
            "worker=worker:2",
        ])
        .env("AWS_ENDPOINT_URL_ECS", missing.url())
        .output()
        .failure(1);
    out.stderr_has("not found (MISSING)");
    assert!(
        !missing
            .operations()
            .contains(&"RegisterTaskDefinition".to_owned()),
        "{:?}",
        missing.operations()
    );
}

#[test]
fn a_blue_green_deployment_is_followed_through_its_stages_to_successful() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::BlueGreen);
    let out = deploy(&env, &ecs, &path, &[]).success();
    assert_eq!(out.report("rollout").as_deref(), Some("completed"));
    for stage in [
        "SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
    ] {
        out.stderr_has(&format!(
            "deployment Abc123xyz: IN_PROGRESS · BLUE_GREEN · stage {stage}"
        ));
    }
    out.stderr_has("deployment Abc123xyz: SUCCESSFUL");
    let operations = ecs.operations();
    assert_eq!(
        operations
            .iter()
            .filter(|o| *o == "DescribeServiceDeployments")
            .count(),
        6,
        "one read a poll until SUCCESSFUL: {operations:?}"
    );
}

#[test]
fn canary_and_linear_deployments_succeed_only_on_successful() {
    let env = Env::new();
    let path = template(&env);
    for (scenario, strategy, reads) in [
        (Scenario::Canary, "CANARY", 3),
        (Scenario::Linear, "LINEAR", 5),
    ] {
        let ecs = ScriptedEcs::start(env.port, scenario);
        let out = deploy(&env, &ecs, &path, &[]).success();
        assert_eq!(out.report("rollout").as_deref(), Some("completed"));
        for stage in ["PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"] {
            out.stderr_has(&format!(
                "deployment Abc123xyz: IN_PROGRESS · {strategy} · stage {stage}"
            ));
        }
        out.stderr_has(&format!("deployment Abc123xyz: SUCCESSFUL · {strategy}"));
        let operations = ecs.operations();
        assert_eq!(
            operations
                .iter()
                .filter(|o| *o == "DescribeServiceDeployments")
                .count(),
            reads,
            "{strategy}: still in progress is not success: {operations:?}"
        );
    }
}

#[test]
fn a_rollback_by_alarm_and_a_stopped_deployment_fail_with_the_reason() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::AlarmRollback);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has("the deployment is being rolled back: Rollback triggered by CloudWatch alarm web-5xx (alarms fired: web-5xx)");
    out.stderr_has("alarms fired: web-5xx");
    out.stderr_has("last service events:");
    drop(ecs);

    let ecs = ScriptedEcs::start(env.port, Scenario::Stopped);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has(
        "the deployment was stopped: Service deployment stopped by StopServiceDeployment",
    );
}

#[test]
fn a_rollback_by_a_failed_hook_and_a_failed_rollback_are_told_apart() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::HookRollback);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has("IN_PROGRESS · LINEAR · stage POST_TEST_TRAFFIC_SHIFT");
    out.stderr_has("the deployment was rolled back to the previous revision: Lifecycle hook arn:aws:lambda:us-east-1:123456789012:function:smoke returned FAILED at POST_TEST_TRAFFIC_SHIFT");
    assert!(!out.stderr.contains("alarms fired"), "{out}");
    drop(ecs);

    let ecs = ScriptedEcs::start(env.port, Scenario::RollbackFailed);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has(
        "the deployment failed and so did its rollback: the service may run neither revision fully",
    );
}

#[test]
fn time_running_out_in_bake_time_fails_or_succeeds_with_a_warning_when_asked() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Baking);
    let out = deploy(&env, &ecs, &path, &["--wait-for-minutes", "0.002"]).failure(1);
    out.stderr_has("still in its bake time (bake time 60 minutes)");
    out.stderr_has("set `succeed-while-baking`");
    drop(ecs);

    let ecs = ScriptedEcs::start(env.port, Scenario::Baking);
    let out = deploy(
        &env,
        &ecs,
        &path,
        &["--wait-for-minutes", "0.002", "--succeed-while-baking"],
    )
    .success();
    assert_eq!(out.report("rollout").as_deref(), Some("baking"));
    out.stderr_has("ECS can still roll it back");
}

#[test]
fn without_the_service_deployment_api_the_services_deployments_are_read() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::NoDeploymentApi);
    let out = deploy(&env, &ecs, &path, &[]).success();
    assert_eq!(out.report("rollout").as_deref(), Some("completed"));
    out.stderr_has("DescribeServiceDeployments does not answer");
    out.stderr_has("COMPLETED running 2/2 pending 0");
}

#[test]
fn a_deployment_that_cannot_be_identified_is_never_called_a_rollback() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Unidentified);
    let out = deploy(&env, &ecs, &path, &[]).failure(1);
    out.stderr_has("the deployment cannot be identified in ECS's answer");
    assert!(!out.stderr.contains("rolled back"), "{out}");
}

#[test]
fn a_migration_runs_the_new_revision_in_the_services_network_before_the_service_moves() {
    use crate::support::ecs::{ONE_OFF_TASK, TaskEnd};
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).one_off(TaskEnd::Exit(0));
    let out = deploy(
        &env,
        &ecs,
        &path,
        &[
            "--run-task",
            "--run-task-before-deploy",
            "--run-task-command",
            "bin/rails db:migrate",
        ],
    )
    .success();
    let run = ecs.run_task().expect("RunTask was called");
    assert_eq!(
        run["taskDefinition"].as_str(),
        out.report("task-definition-arn").as_deref(),
        "the new revision, so the task gets the service's secrets"
    );
    assert_eq!(
        run["overrides"]["containerOverrides"][0],
        serde_json::json!({"name": "web", "command": ["bin/rails", "db:migrate"]})
    );
    assert_eq!(
        run["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        serde_json::json!(["subnet-0abc"]),
        "the service's network"
    );
    assert_eq!(run["count"], 1);
    assert_eq!(run["cluster"], "default");
    assert_eq!(run["startedBy"], "ecs-secrets");
    assert!(
        run["clientToken"].as_str().is_some_and(|t| t.len() <= 64),
        "idempotent: {run}"
    );
    assert!(
        run.get("launchType").is_none(),
        "launched as the service's tasks (here: the cluster's default): {run}"
    );
    assert_eq!(
        out.report("run-task-arn"),
        Some(format!("[\"{ONE_OFF_TASK}\"]"))
    );
    out.stderr_has("run-task: every essential container exited 0");
    let operations = ecs.operations();
    let position = |op: &str| operations.iter().position(|o| o == op).unwrap();
    assert!(
        position("RunTask") < position("UpdateService"),
        "{operations:?}"
    );
}

#[test]
fn a_failed_migration_leaves_the_service_untouched() {
    use crate::support::ecs::TaskEnd;
    let env = Env::new();
    let path = template(&env);
    for (end, message) in [
        (
            TaskEnd::Exit(1),
            "container `web` of task migrate0001 exited with code 1",
        ),
        (
            TaskEnd::FailedToStart,
            "has no exit code: the task stopped (TaskFailedToStart: ResourceInitializationError",
        ),
    ] {
        let ecs = ScriptedEcs::start(env.port, Scenario::Clean).one_off(end);
        let out = deploy(
            &env,
            &ecs,
            &path,
            &["--run-task", "--run-task-before-deploy"],
        )
        .failure(1);
        out.stderr_has(message);
        out.stderr_has("the service was not updated");
        out.stderr_has("the task: arn:aws:ecs:us-east-1:123456789012:task/default/migrate0001");
        assert!(
            !ecs.operations().iter().any(|o| o == "UpdateService"),
            "{:?}",
            ecs.operations()
        );
    }
}

#[test]
fn service_settings_of_the_deploy_action_go_to_the_update_and_are_left_alone_unset() {
    let env = Env::new();
    let path = template(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    deploy(
        &env,
        &ecs,
        &path,
        &["--enable-ecs-managed-tags", "--propagate-tags", "SERVICE"],
    )
    .success();
    let update = ecs.update().unwrap();
    assert_eq!(update["enableECSManagedTags"], true);
    assert_eq!(update["propagateTags"], "SERVICE");
    drop(ecs);

    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    deploy(&env, &ecs, &path, &["--force-new-deployment"]).success();
    let update = ecs.update().unwrap();
    assert!(update.get("enableECSManagedTags").is_none(), "{update}");
    assert!(update.get("propagateTags").is_none(), "{update}");
    let out = deploy(&env, &ecs, &path, &["--propagate-tags", "ALL"]).failure(2);
    out.stderr_has("input `propagate-tags`: `ALL`");
}

#[test]
fn the_plan_also_shows_what_changes_for_the_tasks_of_a_service_on_an_older_revision() {
    let env = Env::new();
    let path = template(&env);
    // Revision 1 has an older image; revision 2 is what the template renders to.
    let mut body: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let secret = env.block_on(env.sm.describe_secret().secret_id("web/db").send());
    let arn = secret.unwrap().arn().unwrap().to_owned();
    body["containerDefinitions"][0]["secrets"][0]["valueFrom"] =
        serde_json::json!(format!("{arn}:password::"));
    body["containerDefinitions"][0]["image"] = serde_json::json!("web:0.9");
    let old = env.ecs_raw("RegisterTaskDefinition", &body)["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap()
        .to_owned();
    body["containerDefinitions"][0]["image"] = serde_json::json!("web:1");
    env.ecs_raw("RegisterTaskDefinition", &body);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).running(&old);
    let out = deploy(&env, &ecs, &path, &[]).success();
    out.stderr_has("plan: no change against revision 2 of `web`");
    out.stderr_has(&format!(
        "plan: service `web` runs {old}, not the family's latest revision; for its tasks:"
    ));
    out.stderr_has("against revision 1 of `web`:");
    out.stderr_has("\"web:0.9\" → \"web:1\"");
    assert_eq!(out.report("changed").as_deref(), Some("false"));
}

#[test]
fn rollback_stops_a_deployment_in_progress_with_rollback_and_waits_for_it() {
    let env = Env::new();
    let ecs = ScriptedEcs::start(env.port, Scenario::RollbackInProgress);
    let out = env
        .run(["rollback", "--service", "web", "--poll-interval", "0.01"])
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .output()
        .success();
    out.stderr_has("stopped with rollback");
    out.stderr_has("deployment Abc123xyz: ROLLBACK_SUCCESSFUL");
    assert_eq!(out.report("rollout").as_deref(), Some("rolled-back"));
    assert!(
        ecs.operations()
            .iter()
            .any(|o| o == "StopServiceDeployment")
    );
    assert!(!ecs.operations().iter().any(|o| o == "UpdateService"));
}

#[test]
fn rollback_of_a_finished_deployment_rolls_out_the_revision_it_replaced() {
    use crate::support::ecs::PREVIOUS_REVISION;
    let env = Env::new();
    let ecs = ScriptedEcs::start(env.port, Scenario::RollbackFinished);
    let out = env
        .run(["rollback", "--service", "web", "--poll-interval", "0.01"])
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .output()
        .success();
    out.stderr_has(&format!(
        "rollback: service `web` goes back to {PREVIOUS_REVISION}"
    ));
    assert_eq!(ecs.update().unwrap()["taskDefinition"], PREVIOUS_REVISION);
    assert_eq!(out.report("rollout").as_deref(), Some("completed"));
    assert_eq!(
        out.report("task-definition-arn").as_deref(),
        Some(PREVIOUS_REVISION)
    );
    assert!(
        !ecs.operations()
            .iter()
            .any(|o| o == "StopServiceDeployment")
    );
    let out = env.run(["rollback"]).output().failure(2);
    out.stderr_has("`rollback` needs `service`");
}
