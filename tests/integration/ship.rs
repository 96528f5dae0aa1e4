//! The three ways ecs-secrets ships, run as their platforms run them: the GitHub Action (the
//! binary with no arguments and `INPUT_*` variables named as action.yml names them), and the
//! CodeBuild buildspec (its build commands in bash with CodeBuild's variables).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::support::Env;
use crate::support::ecs::{Scenario, ScriptedEcs};

fn manifest(file: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn seed(env: &Env) {
    env.secret("web/db", r#"{"password":"ship-canary-password"}"#);
    env.parameter("/web/host", "db.internal", false);
    std::fs::create_dir_all(env.dir.path().join("deploy")).unwrap();
    env.file(
        "deploy/web.json",
        r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [
    { "name": "web", "image": "placeholder", "memory": 128,
      "portMappings": [{ "containerPort": 8080 }],
      "environment": [{ "name": "DB_HOST", "value": "{{ssm:/web/host}}" }],
      "secrets": [{ "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db:password}}" }] }
  ]
}"#,
    );
}

/// Runs the binary as the GitHub runner runs the Docker action: no arguments, every input that
/// action.yml declares as `INPUT_<NAME>` (hyphens kept, unset ones empty), and the runner's files.
fn run_as_action(env: &Env, inputs: &[(&str, &str)]) -> (crate::support::Output, String, String) {
    let action = manifest("action.yml");
    let workspace = env.dir.path();
    let output = workspace.join("github_output");
    let summary = workspace.join("step_summary");
    let mut run = env
        .run(std::iter::empty::<&str>())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", output.to_str().unwrap())
        .env("GITHUB_ENV", workspace.join("github_env").to_str().unwrap())
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .env("RUNNER_TEMP", workspace.to_str().unwrap())
        .env("GITHUB_WORKSPACE", workspace.to_str().unwrap());
    for (name, spec) in action["inputs"].as_object().unwrap() {
        let given = inputs.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        let value = given.or(spec["default"].as_str()).unwrap_or_default();
        run = run.env(&format!("INPUT_{}", name.to_ascii_uppercase()), value);
    }
    let out = run.output();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (out, read(&output), read(&summary))
}

/// `name<<DELIM\nvalue\nDELIM` entries of a GITHUB_OUTPUT file.
fn parse_outputs(text: &str) -> Vec<(String, String)> {
    let mut outputs = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line.split_once("<<").expect("heredoc output");
        let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
        outputs.push((name.to_owned(), value.join("\n")));
    }
    outputs
}

#[test]
fn the_action_runs_the_binary_with_the_runners_inputs_and_files() {
    let env = Env::new();
    seed(&env);
    let (out, outputs, summary) = run_as_action(
        &env,
        &[
            ("task-definition", "deploy/web.json"),
            (
                "image",
                "web=123456789012.dkr.ecr.us-east-1.amazonaws.com/web:abc123",
            ),
        ],
    );
    let out = out.success();
    let outputs = parse_outputs(&outputs);
    let declared = manifest("action.yml")["outputs"]
        .as_object()
        .unwrap()
        .clone();
    for (name, _) in &outputs {
        assert!(
            declared.contains_key(name),
            "output `{name}` is not declared in action.yml"
        );
    }
    let get = |key: &str| {
        outputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("task-definition-arn"),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:1")
    );
    assert_eq!(get("changed"), Some("true"));
    assert!(
        summary.contains("### ecs-secrets deploy: `web`"),
        "{summary}"
    );
    assert!(
        summary.contains("| `web` | `123456789012.dkr.ecr.us-east-1.amazonaws.com/web:abc123` |"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "`DB_PASSWORD` → `arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-"
        ),
        "{summary}"
    );
    assert!(!summary.contains("ship-canary") && !out.all().contains("ship-canary"));
}

#[test]
fn the_action_annotates_placeholder_errors_in_the_template() {
    let env = Env::new();
    seed(&env);
    let path = env.dir.path().join("deploy/web.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("{{ssm:/web/host}}", "{{ssm:/web/nope}}");
    std::fs::write(&path, text).unwrap();
    let (out, _, _) = run_as_action(&env, &[("task-definition", "deploy/web.json")]);
    let out = out.failure(1);
    out.stderr_has("::error file=deploy/web.json,line=7,col=54,title=ecs-secrets::{{ssm:/web/nope}}: parameter not found");
}

#[test]
fn the_buildspec_commands_deploy_and_export_variables_and_artifacts() {
    let env = Env::new();
    seed(&env);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    let spec = manifest("buildspec-example.yml");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ecs-secrets"))
        .parent()
        .unwrap();
    let mut script = String::from("set -euo pipefail\n");
    for command in spec["phases"]["build"]["commands"].as_array().unwrap() {
        script.push_str(command.as_str().unwrap());
        script.push('\n');
    }
    let exported: Vec<&str> = spec["env"]["exported-variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in &exported {
        let _ = writeln!(script, "printf 'exported %s=%s\\n' {name} \"${name}\"");
    }
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut run = env
        .run(["-c", &script])
        .env("PATH", path)
        .env("CODEBUILD_BUILD_ID", "web-build:0a1b2c3d")
        .env("CODEBUILD_RESOLVED_SOURCE_VERSION", "4f2a9c1")
        .env(
            "REPOSITORY_URI",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web",
        )
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .env("ECS_SECRETS_POLL_INTERVAL", "0.01");
    for (name, value) in spec["env"]["variables"].as_object().unwrap() {
        run = run.env(name, value.as_str().unwrap());
    }
    let out = run.program("bash").output().success();
    let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";
    out.stdout_has(&format!("exported TASK_DEFINITION_ARN={arn}"));
    out.stdout_has("exported TASK_DEFINITION_REVISION=1");
    out.stdout_has("exported CHANGED=true");
    out.stderr_has("on CodeBuild: CodeBuild masks only the secrets it injects itself");
    out.stderr_has("rollout: completed");
    let definitions: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("imagedefinitions.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        definitions,
        serde_json::json!([{ "name": "web", "imageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:4f2a9c1" }])
    );
    for artifact in spec["artifacts"]["files"].as_array().unwrap() {
        assert!(
            env.dir.path().join(artifact.as_str().unwrap()).exists(),
            "{artifact}"
        );
    }
    assert_eq!(ecs.update().unwrap()["cluster"], "prod");
}
