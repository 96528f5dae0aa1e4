//! The hardening issue: no value escapes, no output lies, no input is silently misread. One test
//! (or more) per item, each failing on the code before its fix.

use serde_json::{Value, json};

use crate::deploy::position;
use crate::support::ecs::{Scenario, ScriptedEcs};
use crate::support::{ACCOUNT, Env, REGION, count};

fn container(extra: &Value) -> Value {
    let mut container = json!({ "name": "web", "image": "web:1", "memory": 64 });
    for (key, value) in extra.as_object().unwrap() {
        container[key] = value.clone();
    }
    container
}

fn definition(family: &str, extra: &Value) -> String {
    serde_json::to_string_pretty(&json!({
        "family": family,
        "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/exec"),
        "containerDefinitions": [container(extra)],
    }))
    .unwrap()
}

/// Lines of `text` that a GitHub runner would read as a workflow command (after trimming leading
/// white space, as it does), other than the tool's own.
fn forged_commands(text: &str) -> Vec<String> {
    text.split(['\n', '\r'])
        .map(str::trim_start)
        .filter(|line| line.starts_with("::") || line.contains("##["))
        .filter(|line| {
            ![
                "::add-mask::",
                "::error ",
                "::warning ",
                "::group::",
                "::endgroup::",
            ]
            .iter()
            .any(|own| line.starts_with(own))
        })
        .map(str::to_owned)
        .collect()
}

// 1. A value escapes through the plan.

#[test]
fn a_value_placeholder_in_value_from_is_refused_even_with_the_opt_in() {
    let env = Env::new();
    env.secret("web/api", "api-canary-Hq2");
    env.parameter("/web/key", "key-canary-Hq3", true);
    for (field, placeholder) in [
        ("secrets", "{{secretsmanager:web/api}}"),
        ("secrets", "{{ssm:/web/key}}"),
    ] {
        let path = env.file(
            "web.json",
            &definition(
                "web",
                &json!({ field: [{ "name": "API_KEY", "valueFrom": placeholder }] }),
            ),
        );
        env.record();
        let out = env
            .run([
                "deploy",
                "--task-definition",
                path.to_str().unwrap(),
                "--allow-plaintext-secrets",
            ])
            .output()
            .failure(2);
        out.stderr_has("where ECS expects an ARN");
        out.stderr_has("refused even with `allow-plaintext-secrets`");
        assert!(!out.all().contains("canary"), "{out}");
        assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
    }
    // In a log configuration's secretOptions too.
    let path = env.file(
        "log.json",
        &definition(
            "web",
            &json!({ "logConfiguration": { "logDriver": "splunk", "secretOptions": [{ "name": "splunk-token", "valueFrom": "{{secretsmanager:web/api}}" }] } }),
        ),
    );
    let out = env
        .run([
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "--output",
            "out.json",
        ])
        .output()
        .failure(2);
    out.stderr_has("logConfiguration.secretOptions[0].valueFrom");
    assert!(!env.dir.path().join("out.json").exists());
}

#[test]
fn the_plan_never_shows_an_old_value_it_cannot_prove_harmless() {
    let env = Env::new();
    let arn = env.secret("web/api", "api-canary-current");
    // A revision registered by someone else: a value in valueFrom, values under user map keys.
    env.ecs_raw(
        "RegisterTaskDefinition",
        &json!({
            "family": "web",
            "containerDefinitions": [container(&json!({
                "dockerLabels": { "name": "old-canary-label", "image": "old-canary-image" },
                "logConfiguration": { "logDriver": "awslogs", "options": { "image": "old-canary-option" } },
                "secrets": [{ "name": "API_KEY", "valueFrom": "old-canary-value-from" }],
            }))],
        }),
    );
    let path = env.file(
        "web.json",
        &serde_json::to_string(&json!({
            "family": "web",
            "containerDefinitions": [container(&json!({
                "dockerLabels": { "name": "new", "image": "new" },
                "logConfiguration": { "logDriver": "awslogs", "options": { "image": "new" } },
                "secrets": [{ "name": "API_KEY", "valueFrom": "{{secretsmanager-arn:web/api}}" }],
            }))],
        }))
        .unwrap(),
    );
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .success();
    assert!(!out.all().contains("old-canary"), "{out}");
    out.stderr_has(&format!(r#"secrets["API_KEY"].valueFrom: "***" → "{arn}""#));
    out.stderr_has(r#"dockerLabels.name: "***" → "new""#);
    out.stderr_has(r#"logConfiguration.options.image: "***" → "new""#);
}

// 2. JSON leaves that are not strings.

#[test]
fn non_string_json_leaves_are_masked_and_registered_with_the_runner() {
    let env = Env::new();
    env.secret(
        "web/pin",
        r#"{"pin":48213,"on":true,"code":"leaf-canary-9"}"#,
    );
    // Two containers named by the PIN: the validation error names the container.
    let path = env.file(
        "web.json",
        &serde_json::to_string(&json!({
            "family": "web",
            "containerDefinitions": [
                { "name": "{{secretsmanager:web/pin:pin}}", "image": "a", "memory": 64 },
                { "name": "{{secretsmanager:web/pin:pin}}", "image": "b", "memory": 64 },
            ],
        }))
        .unwrap(),
    );
    let out = env
        .run([
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .failure(2);
    out.stderr_has("container name `***` is used twice");
    out.stderr_has("::add-mask::48213\n");
    out.stderr_has("::add-mask::true\n");
    let shown: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(!shown.join("\n").contains("48213"), "{out}");
    // Named, never shown: the warning says which key is as common as a boolean.
    out.stderr_has("JSON key `on` of `secretsmanager:web/pin` is a boolean or null");
    out.stderr_has("JSON key `pin` of `secretsmanager:web/pin` is a number under 6 digits");
}

// 4. Workflow command injection.

#[test]
fn template_text_cannot_forge_a_workflow_command() {
    let env = Env::new();
    // A JSON key with a line break in an unknown field (an error: no field has such a name), and
    // a malformed placeholder holding one (an error).
    let warned = env.file(
        "warned.json",
        &definition(
            "web",
            &json!({ "a\n::stop-commands::pwned": 1, "b\r  ::warning::forged": 2, "c ##[error]x": 3 }),
        ),
    );
    let out = env
        .run([
            "render",
            "--task-definition",
            warned.to_str().unwrap(),
            "--output",
            "out.json",
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .failure(2);
    assert!(forged_commands(&out.all()).is_empty(), "{out}");
    out.stderr_has("a\\n::stop-commands::pwned");
    out.stderr_has("is not a field name");

    let broken = env.file(
        "broken.json",
        &definition("web", &json!({ "image": "{{ssm:\n::stop-commands::x\n" })),
    );
    let out = env
        .run(["render", "--task-definition", broken.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .failure(2);
    assert!(forged_commands(&out.all()).is_empty(), "{out}");
    out.stderr_has("unclosed placeholder");
}

// 5. Redaction corrupts machine-readable outputs.

#[test]
fn outputs_are_exact_even_when_a_secret_is_as_common_as_the_region() {
    let env = Env::new();
    env.secret(
        "web/common",
        &format!(r#"{{"region":"{REGION}","account":"{ACCOUNT}","flag":true,"word":"task","pass":"common-canary-7"}}"#),
    );
    let path = env.file(
        "web.json",
        &definition(
            "web",
            &json!({ "environment": [{ "name": "R", "value": "{{secretsmanager:web/common:region}}" }] }),
        ),
    );
    let github_output = env.dir.path().join("github_output");
    let summary = env.dir.path().join("summary.md");
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.to_str().unwrap())
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .output()
        .success();
    let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1");
    out.stdout_has(&format!("task-definition-arn={arn}\n"));
    out.stdout_has("changed=true\n");
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(outputs.contains("task-definition-arn<<"), "{outputs}");
    assert!(outputs.contains(&format!("\n{arn}\n")), "{outputs}");
    assert!(!outputs.contains("***"), "{outputs}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains(&format!("| task-definition-arn | `{arn}` |")),
        "{summary}"
    );
    assert!(summary.contains("| changed | `true` |"), "{summary}");
    // The log is still masked, and the warnings name secret and key, never the value.
    out.stderr_has("JSON key `region` of `secretsmanager:web/common` is an AWS Region name");
    out.stderr_has("JSON key `account` of `secretsmanager:web/common` is 12 digits");
    out.stderr_has("JSON key `word` of `secretsmanager:web/common` is a word of the tool's report");
    let log: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(!log.join("\n").contains("common-canary-7"), "{out}");

    // The shell report CodeBuild sources is exact too.
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "--report-format",
            "shell",
        ])
        .output()
        .success();
    out.stdout_has(&format!("export TASK_DEFINITION_ARN='{arn}'\n"));
    out.stdout_has("export CHANGED='false'\n");
}

// 6. Numbers are rewritten.

#[test]
fn numbers_reach_the_file_ecs_and_export_as_written() {
    let env = Env::new();
    let numbers =
        r#"{"big":123456789012345678901234567890,"ratio":1.10,"thousand":1e3,"small":2E-7}"#;
    let template = format!(
        r#"{{"family":"web","containerDefinitions":[{{"name":"web","image":"web:1","memory":64}}],"futureField":{numbers}}}"#
    );
    let path = env.file("web.json", &template);
    env.record();
    env.run([
        "deploy",
        "--task-definition",
        path.to_str().unwrap(),
        "--output",
        "rendered.json",
    ])
    .output()
    .success();
    let rendered = std::fs::read_to_string(env.dir.path().join("rendered.json")).unwrap();
    for text in ["123456789012345678901234567890", "1.10", "1e3", "2E-7"] {
        assert!(rendered.contains(text), "{text} in\n{rendered}");
    }
    let register = env
        .calls()
        .into_iter()
        .find(|c| c.operation == "RegisterTaskDefinition")
        .unwrap();
    assert!(register.raw.contains(numbers), "{}", register.raw);

    // YAML, the same.
    let yaml = env.file(
        "web.yaml",
        r"family: web
containerDefinitions:
  - name: web
    image: web:1
    memory: 64
futureField:
  ratio: 1.10
  thousand: 1e3
",
    );
    env.run([
        "render",
        "--task-definition",
        yaml.to_str().unwrap(),
        "--output",
        "yaml.json",
    ])
    .output()
    .success();
    let rendered = std::fs::read_to_string(env.dir.path().join("yaml.json")).unwrap();
    assert!(
        rendered.contains("\"ratio\": 1.10") && rendered.contains("\"thousand\": 1e3"),
        "{rendered}"
    );

    // A JSON secret's numbers, exported.
    env.secret("web/typed", numbers);
    env.run([
        "export",
        "--secret-ids",
        "web/typed",
        "--parse-json-secrets",
        "--env-file",
        "typed.env",
    ])
    .output()
    .success();
    let exported = std::fs::read_to_string(env.dir.path().join("typed.env")).unwrap();
    for line in [
        "WEB_TYPED_BIG='123456789012345678901234567890'",
        "WEB_TYPED_RATIO='1.10'",
        "WEB_TYPED_THOUSAND='1e3'",
    ] {
        assert!(exported.contains(line), "{line} in\n{exported}");
    }
}

// 7. A manifest deploy writes one set of true outputs.

#[test]
fn a_manifest_deploy_reports_each_service_and_true_aggregates() {
    let env = Env::new();
    let web = env.file("web.json", &definition("web", &json!({})));
    let worker = env.file("worker.json", &definition("worker", &json!({})));
    let manifest = env.file(
        "services.yaml",
        &format!(
            "services:\n  - task-definition: {}\n  - task-definition: {}\n",
            web.display(),
            worker.display()
        ),
    );
    let github_output = env.dir.path().join("github_output");
    let summary = env.dir.path().join("summary.md");
    let out = env
        .run(["deploy", "--manifest", manifest.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.to_str().unwrap())
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .output()
        .success();
    assert!(
        !out.stdout
            .lines()
            .any(|l| l == "family=" || l.starts_with("family=")),
        "{out}"
    );
    out.stdout_has("web.changed=true\n");
    out.stdout_has("worker.changed=true\n");
    out.stdout_has("\nchanged=true\n");
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(!outputs.contains("family<<"), "{outputs}");
    let changed = outputs.split("changed<<").nth(1).unwrap();
    assert!(changed.lines().nth(1) == Some("true"), "{outputs}");
    let services = outputs
        .split("services<<")
        .nth(1)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap();
    let services: Value = serde_json::from_str(services).unwrap();
    assert_eq!(services.as_array().unwrap().len(), 2);
    assert_eq!(services[1]["family"], "worker");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(!summary.contains("| family | `` |"), "{summary}");
    assert!(
        summary.contains("| `web` | deployed | `arn:aws:ecs:"),
        "{summary}"
    );

    // Deployed again: nothing changed anywhere, and the aggregate says so.
    let out = env
        .run(["deploy", "--manifest", manifest.to_str().unwrap()])
        .output()
        .success();
    out.stdout_has("\nchanged=false\n");
}

// 8. The step summary redacts before it escapes.

#[test]
fn the_step_summary_masks_a_value_holding_a_pipe_and_escapes_the_rest() {
    let env = Env::new();
    env.secret("web/pipe", "pipe|canary|value");
    let path = env.file(
        "web.json",
        &serde_json::to_string(&json!({
            "family": "web",
            "containerDefinitions": [
                { "name": "web", "image": "{{secretsmanager:web/pipe}}", "memory": 64 },
                { "name": "side", "image": "side:1|odd", "memory": 64 },
            ],
        }))
        .unwrap(),
    );
    let summary = env.dir.path().join("summary.md");
    env.run([
        "render",
        "--task-definition",
        path.to_str().unwrap(),
        "--allow-plaintext-secrets",
        "--output",
        "out.json",
    ])
    .env("GITHUB_ACTIONS", "true")
    .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
    .output()
    .success();
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(!summary.contains("canary"), "{summary}");
    assert!(summary.contains("| `web` | `***` |"), "{summary}");
    // A `|` that is no value is escaped, so the table keeps its columns.
    assert!(summary.contains("| `side` | `side:1\\|odd` |"), "{summary}");

    // A value in a field the summary shows exactly is refused at the source.
    let path = env.file(
        "family.json",
        &serde_json::to_string(&json!({
            "family": "{{secretsmanager:web/pipe}}",
            "containerDefinitions": [{ "name": "web", "image": "web:1", "memory": 64 }],
        }))
        .unwrap(),
    );
    let out = env
        .run([
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .output()
        .failure(2);
    out.stderr_has("would put a secret value into `family`");
}

// 9. Placeholders in keys.

#[test]
fn a_placeholder_in_a_key_is_refused_with_its_place() {
    let env = Env::new();
    let text = definition(
        "web",
        &json!({ "dockerLabels": { "{{env:LABEL}}": "x", "\\{{literal}}": "y" }, "logConfiguration": { "logDriver": "awslogs", "options": { "{{bogus:x}}": "z" } } }),
    );
    let path = env.file("web.json", &text);
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .env("LABEL", "team")
        .output()
        .failure(2);
    let (line, column) = position(&text, "{{env:LABEL}}");
    out.stderr_has(&format!(
        "web.json:{line}:{column} (containerDefinitions[0].dockerLabels.{{{{env:LABEL}}}}): `{{{{env:LABEL}}}}`: placeholders are resolved in values, not in keys"
    ));
    out.stderr_has("`{{bogus:x}}`: unknown placeholder kind `bogus`");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);

    // An escaped key is the literal text, as a value would be.
    let path = env.file(
        "escaped.json",
        &definition("web", &json!({ "dockerLabels": { "\\{{literal}}": "y" } })),
    );
    env.run([
        "render",
        "--task-definition",
        path.to_str().unwrap(),
        "--output",
        "out.json",
    ])
    .output()
    .success();
    let rendered: Value =
        serde_json::from_str(&std::fs::read_to_string(env.dir.path().join("out.json")).unwrap())
            .unwrap();
    assert_eq!(
        rendered["containerDefinitions"][0]["dockerLabels"]["{{literal}}"],
        "y"
    );
}

// 10. Nothing half-done.

#[test]
fn no_file_is_written_when_the_service_check_fails() {
    let env = Env::new();
    env.secret("web/api", "half-canary");
    let path = env.file(
        "web.json",
        &definition(
            "web",
            &json!({ "environment": [{ "name": "K", "value": "{{secretsmanager:web/api}}" }], "portMappings": [{ "containerPort": 80 }] }),
        ),
    );
    let ecs = ScriptedEcs::start(env.port, Scenario::Missing);
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "--service",
            "web",
            "--output",
            "rendered.json",
            "--image-definitions",
            "imagedefinitions.json",
            "--codedeploy-artifacts",
            "codedeploy",
        ])
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .output()
        .failure(1);
    out.stderr_has("not found");
    let left: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "web.json")
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn export_leaves_github_env_as_it_was_when_the_env_file_cannot_be_written() {
    let env = Env::new();
    env.secret("web/api", "export-half-canary");
    let github_env = env.file("github_env", "EARLIER=1\n");
    let out = env
        .run([
            "export",
            "--secret-ids",
            "web/api",
            "--env-file",
            "no/such/dir/values.env",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ENV", github_env.to_str().unwrap())
        .output()
        .failure(1);
    out.stderr_has("no/such/dir/values.env");
    assert_eq!(std::fs::read_to_string(&github_env).unwrap(), "EARLIER=1\n");
}

// 11 and 12. Ranges and usage.

#[test]
fn numeric_inputs_out_of_range_are_usage_errors() {
    let env = Env::new();
    let path = env.file("web.json", &definition("web", &json!({})));
    for (flag, value) in [("--poll-interval", "0"), ("--wait-for-minutes", "0")] {
        env.record();
        let out = env
            .run([
                "deploy",
                "--task-definition",
                path.to_str().unwrap(),
                "--service",
                "web",
                flag,
                value,
            ])
            .output()
            .failure(2);
        out.stderr_has("is out of range; expected");
        assert!(env.calls().is_empty(), "no call is made");
    }
}

#[test]
fn usage_mistakes_are_refused_and_a_byte_order_mark_is_not_one() {
    let env = Env::new();
    let text = definition("web", &json!({}));
    let path = env.file("web.json", &format!("\u{feff}{text}"));
    let yaml = env.file(
        "web.yaml",
        "\u{feff}family: web
containerDefinitions:
  - name: web
    image: web:1
    memory: 128
",
    );
    let manifest = env.file(
        "services.yaml",
        &format!("services:\n  - task-definition: {}\n", path.display()),
    );
    let path = path.to_str().unwrap();
    env.run(["render", "--task-definition", path, "--output", "a.json"])
        .output()
        .success();
    env.run([
        "render",
        "--task-definition",
        yaml.to_str().unwrap(),
        "--output",
        "b.json",
    ])
    .output()
    .success();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path,
            "--manifest",
            manifest.to_str().unwrap(),
        ])
        .output()
        .failure(2);
    out.stderr_has("`task-definition` and `manifest`");
    let out = env
        .run(["render", "--task-definition", path, "--desired-count", "2"])
        .output()
        .failure(2);
    out.stderr_has("input `desired-count` applies to `deploy`, not `render`");
    // From the environment (GitHub sets every input of an action), the same is ignored.
    env.run(["render", "--task-definition", path, "--output", "c.json"])
        .env("INPUT_DESIRED-COUNT", "2")
        .env("INPUT_WAIT-FOR-MINUTES", "0")
        .output()
        .success();
}

#[test]
fn no_region_is_a_usage_error_before_any_call() {
    let env = Env::new();
    env.secret("web/api", "region-canary");
    let path = env.file(
        "web.json",
        &definition(
            "web",
            &json!({ "secrets": [{ "name": "K", "valueFrom": "{{secretsmanager-arn:web/api}}" }] }),
        ),
    );
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .env("AWS_REGION", "")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .output()
        .failure(2);
    out.stderr_has("no AWS Region is configured");
    assert!(env.calls().is_empty(), "{:?}", env.calls());
    // A render of `env` placeholders alone needs no Region.
    let plain = env.file(
        "plain.json",
        &definition("plain", &json!({ "image": "{{env:IMAGE}}" })),
    );
    env.run([
        "render",
        "--task-definition",
        plain.to_str().unwrap(),
        "--output",
        "plain.out.json",
    ])
    .env("AWS_REGION", "")
    .env("AWS_CONFIG_FILE", "/nonexistent")
    .env("IMAGE", "web:2")
    .output()
    .success();
}

// 13. Type errors name the field that is wrong.

#[test]
fn type_errors_name_the_wrong_field_with_its_place() {
    let env = Env::new();
    let cases = [
        (
            json!({ "logConfiguration": { "logDriver": "awslogs", "options": { "Name": "x" }, "secretOptions": { "name": "k", "valueFrom": "v" } } }),
            "\"secretOptions\"",
            "containerDefinitions[0].logConfiguration.secretOptions",
        ),
        (
            json!({ "logConfiguration": { "logDriver": "awslogs", "options": { "awslogs-group": "g", "awslogs-create-group": true } } }),
            "\"awslogs-create-group\"",
            "containerDefinitions[0].logConfiguration.options.awslogs-create-group",
        ),
        (
            json!({ "ulimits": [{ "name": "nofile", "softLimit": 1024, "hardLimit": "lots" }] }),
            "\"lots\"",
            "containerDefinitions[0].ulimits[0].hardLimit",
        ),
    ];
    for (extra, needle, path) in cases {
        let text = definition("web", &extra);
        let file = env.file("web.json", &text);
        let out = env
            .run(["render", "--task-definition", file.to_str().unwrap()])
            .output()
            .failure(2);
        let (line, column) = position(&text, needle);
        // The place of the key, or of a string value, is its first character inside the quotes.
        let column = column + 1;
        out.stderr_has(&format!(
            "web.json:{line}:{column} ({path}): does not match"
        ));
    }
}
