//! Services on the `CODE_DEPLOY` controller: deployed through CodeDeploy as the deploy action
//! does (an AppSpec naming the new revision, `CreateDeployment` on the application and group),
//! watched through lifecycle events and traffic, and rolled back with `StopDeployment`.
//! Creation goes to the emulator; what moto cannot do (move a deployment) is scripted.

use serde_json::Value;

use crate::support::codedeploy::{self, APPLICATION, GROUP, ScriptedCodeDeploy};
use crate::support::ecs::{Scenario, ScriptedEcs};
use crate::support::{Env, Output, count};

const TEMPLATE: &str = r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [
    { "name": "web", "image": "web:1", "memory": 128,
      "portMappings": [{ "containerPort": 8080 }],
      "secrets": [{ "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db:password}}" }] }
  ]
}"#;

fn deploy(env: &Env, ecs: &ScriptedEcs, codedeploy: &ScriptedCodeDeploy, extra: &[&str]) -> Output {
    let path = env.file("web.json", TEMPLATE);
    let mut args = vec![
        "deploy",
        "--task-definition",
        path.to_str().unwrap(),
        "--service",
        "web",
        "--poll-interval",
        "0.01",
    ];
    args.extend_from_slice(extra);
    env.run(args)
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .env("AWS_ENDPOINT_URL_CODEDEPLOY", codedeploy.url())
        .output()
}

/// The application and group in the emulator, and the secret the template references.
fn seed(env: &Env, termination: u32) {
    codedeploy::seed(env, termination);
    env.secret("web/db", r#"{"password":"codedeploy-canary-pw"}"#);
}

/// The AppSpec a `CreateDeployment` carried, checked against its SHA-256.
fn appspec(created: &Value) -> Value {
    use sha2::Digest as _;
    let content = &created["revision"]["appSpecContent"];
    assert_eq!(created["revision"]["revisionType"], "AppSpecContent");
    let text = content["content"].as_str().unwrap();
    let digest = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::new(), |hex, b| hex + &format!("{b:02x}"));
    assert_eq!(content["sha256"], digest.as_str());
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_code_deploy_service_gets_a_codedeploy_deployment_of_an_appspec_naming_the_new_revision() {
    let env = Env::new();
    seed(&env, 5);
    let ecs = ScriptedEcs::start(env.port, Scenario::CodeDeploy);
    let cd = ScriptedCodeDeploy::start(env.port, codedeploy::Scenario::Emulator);
    let out = deploy(
        &env,
        &ecs,
        &cd,
        &[
            "--wait-for-service-stability=false",
            "--codedeploy-deployment-config",
            "CodeDeployDefault.ECSCanary10Percent5Minutes",
            "--codedeploy-deployment-description",
            "deployed by ecs-secrets",
        ],
    )
    .success();
    let arn = out.report("task-definition-arn").unwrap();
    let created = cd.created().expect("a CreateDeployment");
    assert_eq!(created["applicationName"], APPLICATION);
    assert_eq!(created["deploymentGroupName"], GROUP);
    assert_eq!(
        created["deploymentConfigName"],
        "CodeDeployDefault.ECSCanary10Percent5Minutes"
    );
    assert_eq!(created["description"], "deployed by ecs-secrets");
    let spec = appspec(&created);
    let properties = &spec["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(properties["TaskDefinition"], arn.as_str());
    assert_eq!(properties["LoadBalancerInfo"]["ContainerName"], "web");
    assert_eq!(properties["LoadBalancerInfo"]["ContainerPort"], 8080);
    assert_eq!(properties["PlatformVersion"], "1.4.0");
    // The emulator holds the deployment the output names; the service itself was not updated.
    let id = out.report("codedeploy-deployment-id").unwrap();
    assert_eq!(out.report("deployment-id").as_deref(), Some(id.as_str()));
    assert_eq!(out.report("rollout").as_deref(), Some("started"));
    let held = env.json_raw(
        "CodeDeploy_20141006",
        "codedeploy",
        "GetDeployment",
        &serde_json::json!({ "deploymentId": id }),
    );
    assert_eq!(held["deploymentInfo"]["deploymentGroupName"], GROUP);
    assert!(!ecs.operations().iter().any(|o| o == "UpdateService"));
    out.stderr_has("made from the service's load balancer (container `web`, port 8080)");
    assert!(!out.all().contains("codedeploy-canary-pw"));
}

#[test]
fn a_users_appspec_keeps_its_hooks_and_gets_the_new_revision() {
    let env = Env::new();
    seed(&env, 5);
    let ecs = ScriptedEcs::start(env.port, Scenario::CodeDeploy);
    let cd = ScriptedCodeDeploy::start(env.port, codedeploy::Scenario::Emulator);
    // The deploy action's default file name, found without the input.
    env.file(
        "appspec.yaml",
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 8080\nHooks:\n  - AfterAllowTestTraffic: arn:aws:lambda:us-east-1:123456789012:function:smoke\n",
    );
    let out = deploy(&env, &ecs, &cd, &["--wait-for-service-stability=false"]).success();
    let spec = appspec(&cd.created().unwrap());
    assert_eq!(
        spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"],
        out.report("task-definition-arn").unwrap().as_str()
    );
    assert_eq!(
        spec["Hooks"][0]["AfterAllowTestTraffic"],
        "arn:aws:lambda:us-east-1:123456789012:function:smoke"
    );
    out.stderr_has("CodeDeploy AppSpec from `appspec.yaml`");
}

#[test]
fn an_appspec_that_cannot_be_used_stops_the_run_before_anything_is_registered() {
    for (file, text, message) in [
        (
            "missing.yaml",
            None,
            "input `codedeploy-appspec`: cannot read `missing.yaml`",
        ),
        (
            "bad.yaml",
            Some("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n"),
            "input `codedeploy-appspec`: `bad.yaml`: resource `TargetService` has no `Properties`",
        ),
    ] {
        let env = Env::new();
        seed(&env, 5);
        let ecs = ScriptedEcs::start(env.port, Scenario::CodeDeploy);
        let cd = ScriptedCodeDeploy::start(env.port, codedeploy::Scenario::Emulator);
        if let Some(text) = text {
            env.file(file, text);
        }
        env.record();
        let out = deploy(&env, &ecs, &cd, &["--codedeploy-appspec", file]).failure(2);
        out.stderr_has(message);
        assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0, "{file}");
        assert!(cd.created().is_none());
    }
}

#[test]
fn a_codedeploy_deployment_is_followed_through_its_lifecycle_events_and_traffic_to_success() {
    let env = Env::new();
    seed(&env, 5);
    let ecs = ScriptedEcs::start(env.port, Scenario::CodeDeploy);
    let cd = ScriptedCodeDeploy::start(env.port, codedeploy::Scenario::Succeeds);
    let out = deploy(&env, &ecs, &cd, &["--wait-for-service-stability"]).success();
    out.stderr_has(
        "Install InProgress · GREEN 0% traffic, 2/2 tasks · BLUE 100% traffic, 2/2 tasks",
    );
    out.stderr_has("AllowTraffic InProgress");
    out.stderr_has(": Succeeded · AfterAllowTraffic Succeeded · GREEN 100% traffic");
    out.stderr_has("rollout: completed");
    assert_eq!(out.report("rollout").as_deref(), Some("completed"));
    assert!(!ecs.operations().iter().any(|o| o == "UpdateService"));
}

#[test]
fn a_failed_hook_or_a_stop_fails_the_rollout_saying_which_and_why() {
    for (scenario, messages) in [
        (
            codedeploy::Scenario::HookFails,
            &[
                "the CodeDeploy deployment failed: HOOK_EXECUTION_FAILURE: The deployment failed because one or more of the lifecycle event hooks failed.",
                "lifecycle event AfterAllowTestTraffic failed: ScriptFailed: CodeDeployHook_AfterAllowTestTraffic: The hook Lambda function returned Failed: smoke test on the test listener got 502",
                "rollback: Deployment was rolled back by d-AUTOROLLBK after the failure",
            ][..],
        ),
        (
            codedeploy::Scenario::Stopped,
            &[
                "the CodeDeploy deployment was stopped: MANUAL_STOP: The deployment was stopped by a user.",
            ][..],
        ),
    ] {
        let env = Env::new();
        seed(&env, 5);
        let ecs = ScriptedEcs::start(env.port, Scenario::CodeDeploy);
        let cd = ScriptedCodeDeploy::start(env.port, scenario);
        let out = deploy(&env, &ecs, &cd, &["--wait-for-service-stability"]).failure(1);
        for message in messages {
            out.stderr_has(message);
        }
        // The forensics of any roll-out follow.
        out.stderr_has("stopped task");
        assert!(!out.all().contains("codedeploy-canary-pw"), "{scenario:?}");
    }
}

#[test]
fn time_running_out_while_baking_fails_or_succeeds_with_a_warning_when_asked() {
    let env = Env::new();
    seed(&env, 0);
    let ecs = ScriptedEcs::start(env.port, Scenario::CodeDeploy);
    let cd = ScriptedCodeDeploy::start(env.port, codedeploy::Scenario::Baking);
    let wait = [
        "--wait-for-service-stability",
        "--wait-for-minutes",
        "0.001",
    ];
    let out = deploy(&env, &ecs, &cd, &wait).failure(1);
    out.stderr_has("the CodeDeploy deployment was still baking after");
    let cd = ScriptedCodeDeploy::start(env.port, codedeploy::Scenario::Baking);
    let mut asked = wait.to_vec();
    asked.push("--succeed-while-baking");
    let out = deploy(&env, &ecs, &cd, &asked).success();
    assert_eq!(out.report("rollout").as_deref(), Some("baking"));
}

#[test]
fn rollback_of_a_code_deploy_service_stops_its_deployment_with_rollback_and_follows_it() {
    let env = Env::new();
    seed(&env, 0);
    let ecs = ScriptedEcs::start(env.port, Scenario::CodeDeploy);
    let cd = ScriptedCodeDeploy::start(env.port, codedeploy::Scenario::RollbackUnderWay);
    let out = env
        .run(["rollback", "--service", "web", "--poll-interval", "0.01"])
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .env("AWS_ENDPOINT_URL_CODEDEPLOY", cd.url())
        .output()
        .success();
    out.stderr_has(&format!(
        "rollback: CodeDeploy deployment {} of service `web` stopped with rollback",
        codedeploy::UNDER_WAY
    ));
    out.stderr_has(&format!("deployment {}: Succeeded", codedeploy::ROLLBACK));
    assert_eq!(out.report("rollout").as_deref(), Some("rolled-back"));
    assert!(cd.operations().iter().any(|o| o == "StopDeployment"));
    assert!(!ecs.operations().iter().any(|o| o == "UpdateService"));
}
