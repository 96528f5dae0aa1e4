use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::snapshot;
use crate::support::{Env, Scene, count, fixture};

/// Line and column (1-based) of the first occurrence of `needle` in `text`.
pub fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

fn env_entry(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn secret_entry(name: &str, value_from: &str) -> Value {
    json!({ "name": name, "valueFrom": value_from })
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, end to end
fn deploys_57_references_across_3_containers_in_the_minimum_calls() {
    let env = Env::new();
    for i in 0..23 {
        env.parameter(&format!("/app/cfg/{i}"), &format!("cfg-value-{i}"), false);
    }
    let tok_arns: Vec<String> = (0..22)
        .map(|i| env.secret(&format!("app/tok{i}"), &format!("token-canary-{i}-xyz")))
        .collect();
    let db_arn = env.secret(
        "app/db",
        r#"{"username":"dbuser-canary","password":"dbpass-canary-1"}"#,
    );
    env.rotate(
        "app/db",
        r#"{"username":"dbuser-canary","password":"dbpass-canary-2"}"#,
    );
    for i in 0..3 {
        env.parameter(
            &format!("/app/key/{i}"),
            &format!("key-canary-{i}-value"),
            true,
        );
    }

    let mut web_env: Vec<Value> = (0..23)
        .map(|i| env_entry(&format!("CFG_{i}"), &format!("{{{{ssm:/app/cfg/{i}}}}}")))
        .collect();
    web_env.reverse();
    let mut web_secrets = vec![
        secret_entry("DB_PASSWORD", "{{secretsmanager-arn:app/db:password}}"),
        secret_entry("DB_USER", "{{secretsmanager-arn:app/db:username}}"),
        secret_entry(
            "DB_PASSWORD_PREV",
            "{{secretsmanager-arn:app/db:password:AWSPREVIOUS}}",
        ),
        secret_entry("TOK0", "{{secretsmanager-arn:app/tok0}}"),
    ];
    for i in 0..3 {
        web_secrets.push(secret_entry(
            &format!("KEY_{i}"),
            &format!("{{{{ssm-arn:/app/key/{i}}}}}"),
        ));
    }
    let mut worker_env: Vec<Value> = (0..22)
        .map(|i| {
            env_entry(
                &format!("TOK_{i}"),
                &format!("{{{{secretsmanager:app/tok{i}}}}}"),
            )
        })
        .collect();
    worker_env.push(env_entry("STAGE", "{{env:DEPLOY_ENV}}"));
    worker_env.push(env_entry("OPTIONAL", "{{env:NOT_SET_ANYWHERE:-fallback}}"));
    let sidecar_env = vec![
        env_entry("DUP_CFG", "{{ssm:/app/cfg/0}}"),
        env_entry("DUP_TOK", "{{secretsmanager:app/tok1}}"),
        env_entry(
            "PREV_PASSWORD",
            "{{secretsmanager:app/db:password:AWSPREVIOUS}}",
        ),
    ];
    let template = json!({
        "family": "big",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "containerDefinitions": [
            { "name": "web", "image": "web:1", "memory": 256, "environment": web_env, "secrets": web_secrets },
            { "name": "worker", "image": "worker:1", "memory": 256, "environment": worker_env },
            { "name": "sidecar", "image": "sidecar:1", "memory": 64, "environment": sidecar_env },
        ]
    });
    let text = serde_json::to_string_pretty(&template).unwrap();
    assert_eq!(
        text.matches("{{").count(),
        57,
        "the template holds 57 references"
    );
    let path = env.file("big.json", &text);

    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .env("DEPLOY_ENV", "staging")
        .output()
        .success();
    assert_eq!(out.report("task-definition-revision").as_deref(), Some("1"));
    assert_eq!(out.report("changed").as_deref(), Some("true"));

    // The recorder: each reference fetched once, within AWS's batch limits, in the fewest calls.
    let calls = env.calls();
    let mut names = Vec::new();
    for call in calls.iter().filter(|c| c.operation == "GetParameters") {
        let batch = call.body["Names"].as_array().unwrap();
        assert!(
            batch.len() <= 10,
            "GetParameters with {} names",
            batch.len()
        );
        let decrypt = call.body["WithDecryption"].as_bool() == Some(true);
        names.extend(
            batch
                .iter()
                .map(|n| (n.as_str().unwrap().to_owned(), decrypt)),
        );
    }
    let unique: BTreeSet<_> = names.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "a parameter was fetched twice: {names:?}"
    );
    assert_eq!(names.len(), 23 + 3);
    assert!(
        names
            .iter()
            .filter(|(n, _)| n.starts_with("/app/key/"))
            .all(|(_, d)| !d),
        "ssm-arn references must not be decrypted"
    );
    let mut ids = Vec::new();
    for call in calls
        .iter()
        .filter(|c| c.operation == "BatchGetSecretValue")
    {
        let batch = call.body["SecretIdList"].as_array().unwrap();
        assert!(
            batch.len() <= 20,
            "BatchGetSecretValue with {} ids",
            batch.len()
        );
        ids.extend(batch.iter().map(|n| n.as_str().unwrap().to_owned()));
    }
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "a secret was fetched twice"
    );
    assert_eq!(ids.len(), 22);
    assert_eq!(
        count(&calls, "GetParameters"),
        3 + 1,
        "23 values in 3 calls, 3 ARNs in 1"
    );
    assert_eq!(count(&calls, "BatchGetSecretValue"), 2, "22 ids in 2 calls");
    assert_eq!(count(&calls, "GetSecretValue"), 1, "one pinned version");
    assert_eq!(
        count(&calls, "ListSecrets"),
        1,
        "only app/db needs metadata"
    );
    assert_eq!(count(&calls, "DescribeSecret"), 0);
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 1);
    assert_eq!(
        calls.len(),
        8 + 2,
        "no other call: {:?}",
        calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
    );

    // The registered revision, read back.
    let described = env
        .block_on(
            env.ecs
                .describe_task_definition()
                .task_definition("big")
                .send(),
        )
        .unwrap();
    let td = described.task_definition().unwrap();
    let find = |container: usize, name: &str| -> String {
        let c = &td.container_definitions()[container];
        c.secrets()
            .iter()
            .find(|s| s.name() == name)
            .map(|s| s.value_from().to_owned())
            .or_else(|| {
                c.environment()
                    .iter()
                    .find(|e| e.name() == Some(name))
                    .and_then(|e| e.value().map(str::to_owned))
            })
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(find(0, "DB_PASSWORD"), format!("{db_arn}:password::"));
    assert_eq!(find(0, "DB_USER"), format!("{db_arn}:username::"));
    assert_eq!(
        find(0, "DB_PASSWORD_PREV"),
        format!("{db_arn}:password:AWSPREVIOUS:")
    );
    assert_eq!(find(0, "TOK0"), tok_arns[0]);
    assert_eq!(find(0, "KEY_2"), Env::parameter_arn("/app/key/2"));
    assert!(
        db_arn.rsplit('-').next().unwrap().len() == 6,
        "full ARN with suffix: {db_arn}"
    );
    assert_eq!(find(0, "CFG_7"), "cfg-value-7");
    assert_eq!(find(1, "TOK_21"), "token-canary-21-xyz");
    assert_eq!(find(1, "STAGE"), "staging");
    assert_eq!(find(1, "OPTIONAL"), "fallback");
    assert_eq!(find(2, "PREV_PASSWORD"), "dbpass-canary-1");
    assert_eq!(find(2, "DUP_TOK"), "token-canary-1-xyz");

    for canary in [
        "token-canary-",
        "dbpass-canary",
        "dbuser-canary",
        "key-canary-",
    ] {
        assert!(
            !out.all().contains(canary),
            "`{canary}` leaked into the output:\n{out}"
        );
    }
}

fn simple_template(env: &Env) -> std::path::PathBuf {
    env.secret("web/db", r#"{"password":"pw-canary-value"}"#);
    env.parameter("/web/host", "db.example", false);
    env.file("web.json", &fixture("web.json"))
}

/// The scene of the simple template: a secret, a parameter, and `web.json`.
fn simple() -> Scene {
    let scene = Scene::new()
        .secret("web/db", r#"{"password":"pw-canary-value"}"#)
        .parameter("/web/host", "db.example")
        .template("web.json", &fixture("web.json"));
    scene.record();
    scene
}

#[test]
fn deploying_the_same_definition_twice_registers_one_revision() {
    let scene = simple();
    let first = scene.deploy(&["--image", "web=web:2"]).output().success();
    let second = scene.deploy(&["--image", "web=web:2"]).output().success();
    assert_eq!(
        count(&scene.calls(), "RegisterTaskDefinition"),
        1,
        "{second}"
    );
    assert_eq!(first.report("changed").as_deref(), Some("true"));
    assert_eq!(second.report("changed").as_deref(), Some("false"));
    assert_eq!(
        second.report("task-definition-arn"),
        first.report("task-definition-arn")
    );
    assert_eq!(
        second.plan(),
        "plan: no change against revision 1 of `web`\n"
    );

    // A new image is a change: a plan line names it, and revision 2 is registered.
    let third = scene.deploy(&["--image", "web=web:3"]).output().success();
    assert_eq!(
        third.report("task-definition-revision").as_deref(),
        Some("2")
    );
    snapshot!("plan_new_image", scene.dir.path(), third.plan());

    // skip-unchanged off: always register.
    let fourth = scene
        .deploy(&["--image", "web=web:3", "--skip-unchanged=false"])
        .output()
        .success();
    assert_eq!(
        fourth.report("task-definition-revision").as_deref(),
        Some("3")
    );
}

#[test]
fn dry_run_plans_and_registers_nothing() {
    let env = Env::new();
    let path = simple_template(&env);
    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--dry-run",
        ])
        .output()
        .success();
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
    assert_eq!(out.report("task-definition-arn"), None);
    out.stderr_has("no ACTIVE revision");
}

#[test]
fn describe_output_fed_back_registers_cleanly_and_unknown_fields_reach_ecs() {
    let env = Env::new();
    let path = simple_template(&env);
    env.run(["deploy", "--task-definition", path.to_str().unwrap()])
        .output()
        .success();

    let mut described = env.ecs_raw(
        "DescribeTaskDefinition",
        &json!({ "taskDefinition": "web", "include": ["TAGS"] }),
    );
    assert!(described["taskDefinition"]["revision"].is_number());
    described["taskDefinition"]["futureTopLevelField"] = json!({ "mode": "on" });
    described["taskDefinition"]["containerDefinitions"][0]["futureContainerKnob"] = json!(true);
    let fed_back = env.file(
        "described.json",
        &serde_json::to_string_pretty(&described).unwrap(),
    );

    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            fed_back.to_str().unwrap(),
            "--skip-unchanged=false",
        ])
        .output()
        .success();
    assert_eq!(out.report("task-definition-revision").as_deref(), Some("2"));
    out.stderr_has("dropped read-only fields");
    assert!(
        out.stderr.contains("futureTopLevelField"),
        "a warning names the unknown field:\n{out}"
    );
    let calls = env.calls();
    let register = calls
        .iter()
        .find(|c| c.operation == "RegisterTaskDefinition")
        .unwrap();
    assert_eq!(
        register.body["futureTopLevelField"],
        json!({ "mode": "on" })
    );
    assert_eq!(
        register.body["containerDefinitions"][0]["futureContainerKnob"],
        json!(true)
    );
    for field in [
        "taskDefinitionArn",
        "revision",
        "status",
        "compatibilities",
        "requiresAttributes",
    ] {
        assert!(
            register.body.get(field).is_none(),
            "read-only `{field}` was sent"
        );
    }
}

#[test]
fn inputs_merge_environment_and_secrets_by_name_and_set_images() {
    let env = Env::new();
    let path = simple_template(&env);
    env.secret("web/api", "api-canary-value");
    env.record();
    env.run(["deploy", "--task-definition", path.to_str().unwrap()])
        .env(
            "INPUT_TASK-DEFINITION",
            "ignored-because-the-flag-wins.json",
        )
        .env("INPUT_IMAGE", "web=registry/web:sha-1")
        .env(
            "INPUT_ENVIRONMENT-VARIABLES",
            "HOST=override.example\nNEW_VAR={{env:GREETING}}",
        )
        .env(
            "ECS_SECRETS_SECRETS",
            "API_KEY={{secretsmanager-arn:web/api}}",
        )
        .env("GREETING", "hello")
        .output()
        .success();
    let calls = env.calls();
    let body = &calls
        .iter()
        .find(|c| c.operation == "RegisterTaskDefinition")
        .unwrap()
        .body;
    let container = &body["containerDefinitions"][0];
    assert_eq!(container["image"], "registry/web:sha-1");
    assert_eq!(
        container["environment"],
        json!([{ "name": "HOST", "value": "override.example" }, { "name": "NEW_VAR", "value": "hello" }])
    );
    let secrets = container["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[1]["name"], "API_KEY");
    assert!(
        secrets[1]["valueFrom"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:web/api-")
    );
    assert_eq!(
        count(&calls, "GetParameters"),
        0,
        "the overridden `{{{{ssm:/web/host}}}}` is not fetched"
    );
}

#[test]
fn family_may_be_a_placeholder_and_tags_count_when_given() {
    let env = Env::new();
    let path = env.file(
        "tagged.json",
        r#"{"family":"{{env:FAMILY}}","tags":[{"key":"team","value":"{{env:TEAM}}"}],"containerDefinitions":[{"name":"a","image":"a:1","memory":32}]}"#,
    );
    let path = path.to_str().unwrap();
    let deploy = |team: &str| {
        env.run(["deploy", "--task-definition", path])
            .env("FAMILY", "svc-from-env")
            .env("TEAM", team)
            .output()
            .success()
    };
    let first = deploy("blue");
    assert_eq!(first.report("family").as_deref(), Some("svc-from-env"));
    assert_eq!(deploy("blue").report("changed").as_deref(), Some("false"));
    let retagged = deploy("green");
    assert_eq!(
        retagged.report("changed").as_deref(),
        Some("true"),
        "{retagged}"
    );
    assert_eq!(
        retagged.report("task-definition-revision").as_deref(),
        Some("2")
    );
}

#[test]
fn tags_from_inputs_are_added_and_the_previous_revisions_tags_kept() {
    let env = Env::new();
    let path = env.file(
        "tagged.json",
        r#"{"family":"tagged","containerDefinitions":[{"name":"a","image":"a:1","memory":32}]}"#,
    );
    let path = path.to_str().unwrap();
    env.record();
    let first = env
        .run([
            "deploy",
            "--task-definition",
            path,
            "--tags",
            "team=blue\ncost-center=42",
        ])
        .output()
        .success();
    assert_eq!(
        first.report("task-definition-revision").as_deref(),
        Some("1")
    );
    let again = env
        .run(["deploy", "--task-definition", path])
        .output()
        .success();
    assert_eq!(
        again.report("changed").as_deref(),
        Some("false"),
        "the previous tags are kept:\n{again}"
    );
    let retagged = env
        .run(["deploy", "--task-definition", path, "--tags", "team=green"])
        .output()
        .success();
    assert_eq!(
        retagged.report("task-definition-revision").as_deref(),
        Some("2")
    );
    let calls = env.calls();
    let registers: Vec<_> = calls
        .iter()
        .filter(|c| c.operation == "RegisterTaskDefinition")
        .collect();
    assert_eq!(registers.len(), 2);
    assert_eq!(
        registers[1].body["tags"],
        json!([{ "key": "team", "value": "green" }, { "key": "cost-center", "value": "42" }])
    );
}

#[test]
fn keep_revisions_deregisters_all_but_the_newest() {
    let env = Env::new();
    let path = env.file(
        "pruned.json",
        r#"{"family":"pruned","containerDefinitions":[{"name":"a","image":"a:1","memory":32}]}"#,
    );
    let other = env.file(
        "pruned-worker.json",
        r#"{"family":"pruned-worker","containerDefinitions":[{"name":"a","image":"a:1","memory":32}]}"#,
    );
    env.run(["deploy", "--task-definition", other.to_str().unwrap()])
        .output()
        .success();
    for tag in 1..=3 {
        env.run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--image",
            &format!("a:{tag}"),
        ])
        .output()
        .success();
    }
    // The cluster's services cannot be read (there is no cluster): nothing is deregistered.
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--image",
            "a:4",
            "--keep-revisions",
            "2",
        ])
        .output()
        .success();
    out.stderr_has("services cannot be read, so nothing is deregistered");
    env.ecs_raw("CreateCluster", &json!({ "clusterName": "default" }));
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--image",
            "a:5",
            "--keep-revisions",
            "2",
            "-v",
        ])
        .output()
        .success();
    out.stderr_has("deregistered old revisions");
    let active = |family: &str| -> Vec<String> {
        let listed = env.ecs_raw(
            "ListTaskDefinitions",
            &json!({ "familyPrefix": family, "status": "ACTIVE" }),
        );
        listed["taskDefinitionArns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
            .collect()
    };
    let mut kept = active("pruned");
    kept.retain(|r| r.starts_with("pruned:"));
    kept.sort();
    assert_eq!(kept, vec!["pruned:4", "pruned:5"]);
    assert!(
        active("pruned-worker").contains(&"pruned-worker:1".to_owned()),
        "another family with the same prefix is untouched"
    );
}
