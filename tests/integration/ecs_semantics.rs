//! Faithful to what ECS does: change detection knows the defaults ECS fills in, a
//! `describe-task-definition` output registers without its nulls and read-only fields, and the
//! tags of either level of it are kept.

use serde_json::Value;

use crate::support::ecs::with_ecs_defaults;
use crate::support::{Scene, count, fixture};

#[test]
fn an_efs_definition_deploys_unchanged_the_second_time_though_ecs_fills_in_its_defaults() {
    // No `rootDirectory`, memory in GB, a health check without timings: ECS stores "/",
    // "DISABLED", "1024", 30/5/3, `essential`, `cpu: 0`, a port's protocol and host port.
    let scene = Scene::new()
        .secure("/web/api-key", "efs-canary-api-key")
        .template("efs.json", &fixture("efs.json"));
    let ecs = with_ecs_defaults(scene.port);
    let deploy = || {
        scene
            .deploy(&[])
            .env("AWS_ENDPOINT_URL_ECS", ecs.url())
            .output()
            .success()
    };
    let first = deploy();
    assert_eq!(first.report("changed").as_deref(), Some("true"));
    let second = deploy();
    assert_eq!(
        second.report("changed").as_deref(),
        Some("false"),
        "{second}"
    );
    assert_eq!(ecs.seen("RegisterTaskDefinition"), 1);
    assert_eq!(
        second.report("task-definition-arn"),
        first.report("task-definition-arn")
    );

    // A real change still is one, and the plan shows the field with both values.
    let text = fixture("efs.json").replace(
        r#""fileSystemId": "fs-0123456789abcdef0" }"#,
        r#""fileSystemId": "fs-0123456789abcdef0", "rootDirectory": "/www" }"#,
    );
    std::fs::write(scene.path(), text).unwrap();
    let third = deploy();
    assert_eq!(third.report("changed").as_deref(), Some("true"));
    let plan = third.plan();
    assert!(
        plan.contains("rootDirectory") && plan.contains("\"/www\""),
        "{plan}"
    );
}

fn has_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(has_null),
        Value::Object(map) => map.values().any(has_null),
        _ => false,
    }
}

#[test]
fn a_describe_output_registers_without_its_nulls_and_with_both_levels_of_tags() {
    let scene = Scene::new().template("described.json", &fixture("described.json"));
    scene.record();
    let out = scene.deploy(&[]).output().success();
    let calls = scene.calls();
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 1);
    let body = &calls
        .iter()
        .find(|c| c.operation == "RegisterTaskDefinition")
        .unwrap()
        .body;
    assert!(!has_null(body), "nulls sent to ECS: {body:#}");
    for read_only in [
        "revision",
        "status",
        "compatibilities",
        "requiresAttributes",
        "registeredAt",
    ] {
        assert!(body.get(read_only).is_none(), "{read_only} sent: {body:#}");
    }
    // The inner `tags: []` does not hide the outer tags.
    assert_eq!(
        body["tags"],
        serde_json::json!([{ "key": "team", "value": "payments" }])
    );
    // Fed back as it is, nothing changes.
    let again = scene.deploy(&[]).output().success();
    assert_eq!(again.report("changed").as_deref(), Some("false"), "{again}");
    assert_eq!(
        again.report("task-definition-arn"),
        out.report("task-definition-arn")
    );
}
