use std::ops::Not as _;

use crate::support::{Env, count, fixture, mode};

fn seed(env: &Env) -> std::path::PathBuf {
    env.secret("svc/db", r#"{"password":"render-canary-pw"}"#);
    env.parameter("/svc/token", "render-canary-token", true);
    env.file("svc.yaml", &fixture("svc.yaml"))
}

#[test]
fn render_writes_references_only_and_makes_no_aws_write() {
    let env = Env::new();
    env.secret("svc/db", r#"{"password":"render-canary-pw"}"#);
    let path = env.file("svc.yaml", &fixture("svc-arn.yaml"));
    let output = env.dir.path().join("rendered.json");
    env.record();
    let out = env
        .run([
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ])
        .output()
        .success();
    let rendered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    let value_from = rendered["containerDefinitions"][0]["secrets"][0]["valueFrom"]
        .as_str()
        .unwrap();
    assert!(value_from.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:svc/db-"));
    assert!(value_from.ends_with(":password::"));
    assert_eq!(
        rendered["memory"], "512",
        "task-level memory is sent as the string the API takes"
    );
    assert_eq!(mode(&output), 0o644);
    assert_eq!(
        out.report("task-definition").as_deref(),
        Some(output.to_str().unwrap())
    );
    let calls = env.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        count(&calls, "ListSecrets"),
        1,
        "the ARN needs metadata only, no value"
    );
}

#[test]
fn render_prints_to_stdout_by_default() {
    let env = Env::new();
    let path = env.file(
        "plain.json",
        r#"{"family":"plain","containerDefinitions":[{"name":"a","image":"{{env:IMAGE}}","memory":32}]}"#,
    );
    let out = env
        .run(["render", "--task-definition", path.to_str().unwrap()])
        .env("IMAGE", "repo/a:7")
        .output()
        .success();
    let rendered: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rendered["containerDefinitions"][0]["image"], "repo/a:7");
}

#[test]
fn plaintext_secret_output_is_private_and_never_printed() {
    let env = Env::new();
    let path = seed(&env);
    let output = env.dir.path().join("rendered.json");
    let out = env
        .run([
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "--output",
            output.to_str().unwrap(),
        ])
        .output()
        .success();
    assert_eq!(
        mode(&output),
        0o600,
        "a file with a secret value is owner-only"
    );
    assert!(
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("render-canary-pw"),
        "the user asked for the value in the file"
    );
    out.stderr_has("readable by its owner only (0600)");
    assert!(!out.all().contains("render-canary"), "{out}");

    let out = env
        .run([
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .output()
        .failure(2);
    out.stderr_has("refusing to print it");
    assert!(!out.all().contains("render-canary"), "{out}");
}

#[test]
fn secret_values_never_reach_output_at_trace_level() {
    let env = Env::new();
    let path = seed(&env);
    for verbosity in [None, Some("trace"), Some("debug")] {
        let mut run = env.run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "-vv",
        ]);
        if let Some(level) = verbosity {
            run = run.env("RUST_LOG", level);
        }
        let out = run.output().success();
        for canary in ["render-canary-pw", "render-canary-token"] {
            assert!(
                !out.all().contains(canary),
                "{canary} leaked at {verbosity:?}:\n{out}"
            );
        }
    }
}

#[test]
fn github_masks_each_value_before_any_other_line_and_writes_outputs() {
    let env = Env::new();
    let path = seed(&env);
    let outputs = env.dir.path().join("github_output");
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", outputs.to_str().unwrap())
        .output()
        .success();
    let lines: Vec<&str> = out.stderr.lines().collect();
    let mask_of = |value: &str| {
        lines
            .iter()
            .position(|l| *l == format!("::add-mask::{value}"))
    };
    let first_mask =
        mask_of("render-canary-pw").unwrap_or_else(|| panic!("no mask for the password\n{out}"));
    assert!(
        mask_of("render-canary-token").is_none(),
        "an `ssm-arn` reference reads no value, so there is none to mask\n{out}"
    );
    assert!(
        lines[..first_mask]
            .iter()
            .all(|l| l.starts_with("::add-mask::") || !l.contains("render-canary")),
        "a line before the mask carries the value"
    );
    assert!(
        lines
            .iter()
            .any(|l| !l.starts_with("::add-mask::") && l.contains("::add-mask::"))
            .not(),
        "a mask command is only ever a whole line"
    );
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(
        written.contains("task-definition-arn<<ghadelimiter_"),
        "{written}"
    );
    assert!(
        written.contains("arn:aws:ecs:us-east-1:123456789012:task-definition/svc:1"),
        "{written}"
    );
    assert!(!written.contains("render-canary"));
}

#[test]
fn codepipeline_artifacts_are_written_by_render() {
    let env = Env::new();
    let path = env.file(
        "bg.json",
        r#"{"family":"bg","containerDefinitions":[{"name":"web","image":"<IMAGE1_NAME>","memory":64,"portMappings":[{"containerPort":8080}]},{"name":"side","image":"{{env:SIDE_IMAGE}}","memory":32}]}"#,
    );
    let dir = env.dir.path().join("codedeploy");
    let images = env.dir.path().join("imagedefinitions.json");
    env.run([
        "render",
        "--task-definition",
        path.to_str().unwrap(),
        "--output",
        "rendered.json",
        "--image-definitions",
        images.to_str().unwrap(),
        "--codedeploy-artifacts",
        dir.to_str().unwrap(),
    ])
    .env("SIDE_IMAGE", "repo/side:9")
    .output()
    .success();
    let definitions: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&images).unwrap()).unwrap();
    assert_eq!(
        definitions,
        serde_json::json!([{ "name": "web", "imageUri": "<IMAGE1_NAME>" }, { "name": "side", "imageUri": "repo/side:9" }])
    );
    let taskdef: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("taskdef.json")).unwrap()).unwrap();
    assert_eq!(
        taskdef["containerDefinitions"][0]["image"], "<IMAGE1_NAME>",
        "the CodeDeploy image placeholder is kept"
    );
    let appspec = std::fs::read_to_string(dir.join("appspec.yaml")).unwrap();
    assert!(
        appspec.contains("TaskDefinition: <TASK_DEFINITION>"),
        "{appspec}"
    );
    assert!(appspec.contains("ContainerName: \"web\""), "{appspec}");
    assert!(appspec.contains("ContainerPort: 8080"), "{appspec}");
}

#[test]
fn verbose_runs_trace_each_call_from_the_start_of_the_run() {
    let env = Env::new();
    env.secret("trace/db", "trace-canary-value");
    let path = env.file(
        "trace.json",
        r#"{"family":"trace","containerDefinitions":[{"name":"a","image":"a","memory":32,
            "secrets":[{"name":"DB","valueFrom":"{{secretsmanager-arn:trace/db}}"}]}]}"#,
    );
    let out = env
        .run(["render", "--task-definition", path.to_str().unwrap(), "-v"])
        .output()
        .success();
    let start = out
        .stderr
        .lines()
        .find(|l| l.contains("call ") && l.contains(".ListSecrets starts at +"))
        .unwrap_or_else(|| panic!("no start line\n{out}"));
    let end = out
        .stderr
        .lines()
        .find(|l| l.contains(".ListSecrets ends at +") && l.contains("ms, ok)"))
        .unwrap_or_else(|| panic!("no end line\n{out}"));
    assert!(!start.is_empty() && !end.is_empty());
    // Without `-v`, no trace.
    let out = env
        .run(["render", "--task-definition", path.to_str().unwrap()])
        .output()
        .success();
    assert!(!out.stderr.contains("starts at +"), "{out}");
}
