//! Bad input and failed lookups: one error lists every failing reference with its place (file,
//! line, column, path) and the reason, never a value; nothing is registered; bad input costs no
//! call.

use serde_json::json;

use crate::snapshot;
use crate::support::{Scene, count, fixture};

/// The template of these tests, seeded, with `extra` and `other` in the two places left open.
fn scene(extra: &str, other: &str) -> Scene {
    let text = fixture("errors.json")
        .replace("EXTRA_VALUE", extra)
        .replace("OTHER_VALUE_FROM", other);
    let scene = Scene::new()
        .secret("web/db", r#"{"password":"pw-canary-value"}"#)
        .parameter("/web/host", "db.example")
        .template("web.json", &text);
    scene.record();
    scene
}

/// The error's text, from `error:` on (the log lines before it left out).
fn error(stderr: &str) -> String {
    stderr[stderr.find("error: ").expect("an error")..].to_owned()
}

#[test]
fn every_failing_reference_is_listed_with_its_place_and_nothing_is_registered() {
    let scene = scene(
        "{{ssm:/web/missing-param}}",
        "{{secretsmanager-arn:web/missing-secret}}",
    );
    let out = scene.deploy(&[]).output().failure(1);
    snapshot!(
        "every_failing_reference",
        scene.dir.path(),
        error(&out.stderr)
    );
    let calls = scene.calls();
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 0);
    // The family's latest revision is read with the lookups (it is needed whatever they find):
    // once at most, and nothing after the failure.
    assert!(count(&calls, "DescribeTaskDefinition") <= 1, "{calls:?}");
}

#[test]
fn missing_json_key_names_the_key_but_not_the_keys_there_are() {
    let scene = scene("{{secretsmanager:web/db:nope}}", "/web/param");
    let out = scene
        .deploy(&["--allow-plaintext-secrets"])
        .output()
        .failure(1);
    out.stderr_has(&scene.at("{{secretsmanager:web/db:nope}}"));
    out.stderr_has("the secret has no JSON key `nope` (it has 1 key)");
    assert!(!out.all().contains("pw-canary-value"));
    assert_eq!(count(&scene.calls(), "RegisterTaskDefinition"), 0);
}

#[test]
fn unset_environment_variable_is_bad_input_and_calls_nothing() {
    let scene = scene("{{env:SURELY_NOT_SET}}", "/web/param");
    let out = scene.deploy(&[]).output().failure(2);
    out.stderr_has(&scene.at("{{env:SURELY_NOT_SET}}"));
    out.stderr_has("environment variable `SURELY_NOT_SET` is not set and has no fallback");
    assert!(scene.calls().is_empty(), "no AWS call for bad input");
}

#[test]
fn malformed_placeholders_are_all_reported_with_their_place() {
    let scene = scene(
        "{{sms:/web/host}}",
        "{{secretsmanager-arn:web/db:password:AWSCURRENT:abc}}",
    );
    let out = scene.render(&[]).output().failure(2);
    snapshot!(
        "malformed_placeholders",
        scene.dir.path(),
        error(&out.stderr)
    );
    assert!(scene.calls().is_empty());
}

#[test]
fn secret_value_in_environment_is_refused_without_opt_in() {
    let scene = scene("{{secretsmanager:web/db:password}}", "/web/param");
    let out = scene.deploy(&[]).output().failure(2);
    snapshot!("secret_value_refused", scene.dir.path(), error(&out.stderr));
    assert!(scene.calls().is_empty(), "refused before reading any value");
}

#[test]
fn securestring_value_in_environment_is_refused_without_opt_in() {
    let scene =
        scene("{{ssm:/web/token}}", "/web/param").secure("/web/token", "securestring-canary");
    scene.record();
    let out = scene.deploy(&[]).output().failure(2);
    out.stderr_has("is a SecureString");
    out.stderr_has("`{{ssm-arn:/web/token}}`");
    assert!(!out.all().contains("securestring-canary"));
    let calls = scene.calls();
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 0);
    assert!(
        calls
            .iter()
            .filter(|c| c.operation == "GetParameters")
            .all(|c| c.body["WithDecryption"] != json!(true)),
        "a value that is going to be refused is never decrypted"
    );
}

#[test]
fn credential_environment_variables_are_secrets() {
    let scene = scene("{{env:AWS_SECRET_ACCESS_KEY}}", "/web/param");
    let out = scene.render(&[]).output().failure(2);
    out.stderr_has("`AWS_SECRET_ACCESS_KEY` holds a credential");
    assert!(scene.calls().is_empty());
}

#[test]
fn an_unwritable_output_fails_before_anything_is_registered() {
    let scene = scene("x", "/web/param");
    let out = scene
        .deploy(&["--output", "/nonexistent-dir/rendered.json"])
        .output()
        .failure(1);
    out.stderr_has("cannot write `/nonexistent-dir/rendered.json`");
    assert_eq!(count(&scene.calls(), "RegisterTaskDefinition"), 0);
    let out = scene.deploy(&["--output", "-"]).output().failure(2);
    out.stderr_has("give the rendered file a path");
}

#[test]
fn malformed_value_from_fails_validation_before_any_write() {
    let malformed = "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-AbCdEf:password";
    let scene = scene("x", malformed);
    let out = scene.deploy(&[]).output().failure(2);
    // A literal value is found in the file by its text: the error names its line and column.
    out.stderr_has(&format!(
        "{} (containerDefinitions[0].secrets[1].valueFrom)",
        scene.at(malformed)
    ));
    out.stderr_has("keep the colons");
    assert_eq!(count(&scene.calls(), "RegisterTaskDefinition"), 0);
}

#[test]
fn ecs_limits_are_enforced_locally() {
    let containers: Vec<serde_json::Value> = (0..11)
        .map(|i| json!({ "name": format!("c{i}"), "image": "x", "memory": 32 }))
        .collect();
    let many = json!({ "family": "many", "containerDefinitions": containers });
    let scene = Scene::new().template("many.json", &many.to_string());
    scene.record();
    let out = scene.deploy(&[]).output().failure(2);
    out.stderr_has("11 containers; ECS accepts at most 10");

    let big = "x".repeat(70 * 1024);
    let big = json!({ "family": "big", "containerDefinitions": [{ "name": "a", "image": "x", "memory": 32, "command": [big] }] });
    let scene = scene.template("big.json", &big.to_string());
    let out = scene.deploy(&[]).output().failure(2);
    out.stderr_has("ECS accepts at most 65536");
    assert_eq!(count(&scene.calls(), "RegisterTaskDefinition"), 0);
}

#[test]
fn type_errors_are_caught_locally_with_the_field() {
    let scene = Scene::new().template(
        "bad.json",
        r#"{"family":"bad","containerDefinitions":[{"name":"a","image":"x","memory":"lots"}]}"#,
    );
    scene.record();
    let out = scene.deploy(&[]).output().failure(2);
    snapshot!("type_error", scene.dir.path(), error(&out.stderr));
    assert!(scene.calls().is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let scene = Scene::new();
    let out = scene.run(["deploy"]).output().failure(2);
    out.stderr_has("input `task-definition` is required");
    let out = scene
        .run(["deploy", "--task-definition", "nowhere.json"])
        .output()
        .failure(2);
    out.stderr_has("nowhere.json: cannot read");
    let out = scene.run(["launch"]).output().failure(2);
    out.stderr_has("launch");
}
