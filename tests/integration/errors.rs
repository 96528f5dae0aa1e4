use crate::deploy::position;
use crate::util::{Env, count};

const TEMPLATE: &str = r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
  "containerDefinitions": [
    {
      "name": "web",
      "image": "web:1",
      "memory": 128,
      "environment": [
        { "name": "HOST", "value": "{{ssm:/web/host}}" },
        { "name": "EXTRA", "value": "EXTRA_VALUE" }
      ],
      "secrets": [
        { "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db:password}}" },
        { "name": "OTHER", "valueFrom": "OTHER_VALUE_FROM" }
      ]
    }
  ]
}"#;

/// Seeds what the template needs, with `extra` and `other` replacing the two placeholders-to-be.
fn setup(env: &Env, extra: &str, other: &str) -> (std::path::PathBuf, String) {
    env.secret("web/db", r#"{"password":"pw-canary-value"}"#);
    env.parameter("/web/host", "db.example", false);
    let text = TEMPLATE
        .replace("EXTRA_VALUE", extra)
        .replace("OTHER_VALUE_FROM", other);
    (env.file("web.json", &text), text)
}

fn place(path: &std::path::Path, text: &str, needle: &str) -> String {
    let (line, column) = position(text, needle);
    format!("{}:{line}:{column}", path.display())
}

#[test]
fn every_failing_reference_is_listed_with_its_place_and_nothing_is_registered() {
    let env = Env::new();
    let (path, text) = setup(
        &env,
        "{{ssm:/web/missing-param}}",
        "{{secretsmanager-arn:web/missing-secret}}",
    );
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(1);
    out.stderr_has("2 references could not be resolved; nothing was registered");
    let missing_param = place(&path, &text, "{{ssm:/web/missing-param}}");
    let missing_secret = place(&path, &text, "{{secretsmanager-arn:web/missing-secret}}");
    out.stderr_has(&format!(
        "{missing_param} (containerDefinitions[0].environment[1].value): `{{{{ssm:/web/missing-param}}}}`: parameter not found"
    ));
    out.stderr_has(&format!(
        "{missing_secret} (containerDefinitions[0].secrets[1].valueFrom): `{{{{secretsmanager-arn:web/missing-secret}}}}`: ResourceNotFoundException"
    ));
    let calls = env.calls();
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 0);
    assert_eq!(count(&calls, "DescribeTaskDefinition"), 0);
}

#[test]
fn missing_json_key_names_the_key_but_not_the_keys_there_are() {
    let env = Env::new();
    let (path, text) = setup(&env, "x", "{{secretsmanager-arn:web/db:password}}");
    let text = text.replace("{{ssm:/web/host}}", "{{secretsmanager:web/db:nope}}");
    std::fs::write(&path, &text).unwrap();
    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .output()
        .failure(1);
    out.stderr_has(&place(&path, &text, "{{secretsmanager:web/db:nope}}"));
    out.stderr_has("the secret has no JSON key `nope` (it has 1 key)");
    assert!(!out.all().contains("pw-canary-value"));
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
}

#[test]
fn unset_environment_variable_is_bad_input_and_calls_nothing() {
    let env = Env::new();
    let (path, text) = setup(&env, "{{env:SURELY_NOT_SET}}", "/web/param");
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has(&place(&path, &text, "{{env:SURELY_NOT_SET}}"));
    out.stderr_has("environment variable `SURELY_NOT_SET` is not set and has no fallback");
    assert!(env.calls().is_empty(), "no AWS call for bad input");
}

#[test]
fn malformed_placeholders_are_all_reported_with_their_place() {
    let env = Env::new();
    let (path, text) = setup(
        &env,
        "{{sms:/web/host}}",
        "{{secretsmanager-arn:web/db:password:AWSCURRENT:abc}}",
    );
    env.record();
    let out = env
        .run(["render", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has(
        &format!(
            "{}: `{{{{sms:/web/host}}}}`: unknown placeholder kind `sms`",
            place(&path, &text, "{{sms:")
        )
        .replace(": `", " (containerDefinitions[0].environment[1].value): `"),
    );
    out.stderr_has("names both a version stage and a version id");
    assert!(env.calls().is_empty());
}

#[test]
fn secret_value_in_environment_is_refused_without_opt_in() {
    let env = Env::new();
    let (path, text) = setup(&env, "{{secretsmanager:web/db:password}}", "/web/param");
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has(&place(&path, &text, "{{secretsmanager:web/db:password}}"));
    out.stderr_has(
        "would put a secret value in plain text at `containerDefinitions[0].environment[1].value`",
    );
    out.stderr_has("`{{secretsmanager-arn:web/db:password}}` in `secrets[].valueFrom`");
    assert!(env.calls().is_empty(), "refused before reading any value");
}

#[test]
fn securestring_value_in_environment_is_refused_without_opt_in() {
    let env = Env::new();
    let (path, _) = setup(&env, "{{ssm:/web/token}}", "/web/param");
    env.parameter("/web/token", "securestring-canary", true);
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has("is a SecureString");
    out.stderr_has("`{{ssm-arn:/web/token}}`");
    assert!(!out.all().contains("securestring-canary"));
    let calls = env.calls();
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 0);
    assert!(
        calls
            .iter()
            .filter(|c| c.operation == "GetParameters")
            .all(|c| c.body["WithDecryption"] != serde_json::json!(true)),
        "a value that is going to be refused is never decrypted"
    );
}

#[test]
fn credential_environment_variables_are_secrets() {
    let env = Env::new();
    let (path, _) = setup(&env, "{{env:AWS_SECRET_ACCESS_KEY}}", "/web/param");
    env.record();
    let out = env
        .run(["render", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has("`AWS_SECRET_ACCESS_KEY` holds a credential");
    assert!(env.calls().is_empty());
}

#[test]
fn an_unwritable_output_fails_before_anything_is_registered() {
    let env = Env::new();
    let (path, _) = setup(&env, "x", "/web/param");
    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--output",
            "/nonexistent-dir/rendered.json",
        ])
        .output()
        .failure(1);
    out.stderr_has("cannot write `/nonexistent-dir/rendered.json`");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--output",
            "-",
        ])
        .output()
        .failure(2);
    out.stderr_has("give the rendered file a path");
}

#[test]
fn malformed_value_from_fails_validation_before_any_write() {
    let env = Env::new();
    let malformed = "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf:password";
    let (path, text) = setup(&env, "x", malformed);
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    // A literal value is found in the file by its text: the error names its line and column.
    out.stderr_has(&format!(
        "{} (containerDefinitions[0].secrets[1].valueFrom)",
        place(&path, &text, malformed)
    ));
    out.stderr_has("keep the colons");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
}

#[test]
fn ecs_limits_are_enforced_locally() {
    let env = Env::new();
    let containers: Vec<serde_json::Value> = (0..11)
        .map(|i| serde_json::json!({ "name": format!("c{i}"), "image": "x", "memory": 32 }))
        .collect();
    let path = env.file(
        "many.json",
        &serde_json::json!({ "family": "many", "containerDefinitions": containers }).to_string(),
    );
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has("11 containers; ECS accepts at most 10");

    let big = "x".repeat(70 * 1024);
    let path = env.file(
        "big.json",
        &serde_json::json!({ "family": "big", "containerDefinitions": [{ "name": "a", "image": "x", "memory": 32, "command": [big] }] }).to_string(),
    );
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has("ECS accepts at most 65536");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
}

#[test]
fn type_errors_are_caught_locally_with_the_field() {
    let env = Env::new();
    let path = env.file(
        "bad.json",
        r#"{"family":"bad","containerDefinitions":[{"name":"a","image":"x","memory":"lots"}]}"#,
    );
    env.record();
    let out = env
        .run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .failure(2);
    out.stderr_has(
        "(containerDefinitions[0].memory): does not match the RegisterTaskDefinition shape",
    );
    assert!(env.calls().is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    let out = env.run(["deploy"]).output().failure(2);
    out.stderr_has("input `task-definition` is required");
    let out = env
        .run(["deploy", "--task-definition", "nowhere.json"])
        .output()
        .failure(2);
    out.stderr_has("nowhere.json: cannot read");
    let out = env.run(["launch"]).output().failure(2);
    out.stderr_has("launch");
}
