//! What the peers' users rely on: the render action's inputs with their names and meaning, `mode`
//! beside the legacy `command`, registered revisions (ARN, family, a service's) as the template,
//! `init` from a running service, and get-secrets' habits in `export`.

use serde_json::{Value, json};

use crate::support::{Env, count};

const TEMPLATE: &str = r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
  "containerDefinitions": [{
    "name": "web",
    "image": "repo/web:1",
    "memory": 512,
    "environment": [{"name": "LOG_LEVEL", "value": "info"}],
    "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}}
  }]
}"#;

fn rendered(out: &crate::support::Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

/// Registers `body` through the API (as the AWS CLI would) and returns its ARN.
fn register(env: &Env, body: &Value) -> String {
    let answer = env.ecs_raw("RegisterTaskDefinition", body);
    answer["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A cluster `prod` with a service `web` running `task_definition`.
fn service(env: &Env, task_definition: &str) {
    env.ecs_raw("CreateCluster", &json!({"clusterName": "prod"}));
    env.ecs_raw(
        "CreateService",
        &json!({"cluster": "prod", "serviceName": "web", "taskDefinition": task_definition, "desiredCount": 1}),
    );
}

#[test]
fn the_render_actions_inputs_set_what_that_action_sets() {
    let env = Env::new();
    let path = env.file("web.json", TEMPLATE);
    let out = env
        .run(["render"])
        .env("INPUT_TASK-DEFINITION", path.to_str().unwrap())
        .env("INPUT_CONTAINER-NAME", "web")
        .env("INPUT_IMAGE", "repo/web:2")
        .env("INPUT_ENVIRONMENT-VARIABLES", "LOG_LEVEL=debug\nMODE=a=b")
        .env("INPUT_LOG-CONFIGURATION-LOG-DRIVER", "awslogs")
        .env(
            "INPUT_LOG-CONFIGURATION-OPTIONS",
            "awslogs-group=/ecs/web\nawslogs-region=us-east-1",
        )
        .env("INPUT_DOCKER-LABELS", "team=web\nrule=a=b")
        .env("INPUT_COMMAND", "npm  run start")
        .env(
            "INPUT_ENV-FILES",
            "arn:aws:s3:::bucket/web.env\narn:aws:s3:::bucket/common.env",
        )
        .env("INPUT_TASK-ROLE-ARN", "arn:aws:iam::123456789012:role/task")
        .env(
            "INPUT_EXECUTION-ROLE-ARN",
            "arn:aws:iam::123456789012:role/exec2",
        )
        .env("INPUT_KEEP-NULL-VALUE-KEYS", "tags,volumes")
        .output()
        .success();
    let body = rendered(&out);
    let web = &body["containerDefinitions"][0];
    assert_eq!(web["image"], "repo/web:2");
    assert_eq!(web["command"], json!(["npm", "run", "start"]));
    assert_eq!(
        web["environment"],
        json!([{"name": "LOG_LEVEL", "value": "debug"}, {"name": "MODE", "value": "a=b"}])
    );
    assert_eq!(web["logConfiguration"]["logDriver"], "awslogs");
    assert_eq!(
        web["logConfiguration"]["options"],
        json!({"max-size": "10m", "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"})
    );
    assert_eq!(web["dockerLabels"], json!({"team": "web", "rule": "a=b"}));
    assert_eq!(
        web["environmentFiles"],
        json!([
            {"value": "arn:aws:s3:::bucket/web.env", "type": "s3"},
            {"value": "arn:aws:s3:::bucket/common.env", "type": "s3"}
        ])
    );
    assert_eq!(body["taskRoleArn"], "arn:aws:iam::123456789012:role/task");
    assert_eq!(
        body["executionRoleArn"],
        "arn:aws:iam::123456789012:role/exec2"
    );

    // A JSON array keeps words with spaces.
    let out = env
        .run([
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--command",
            r#"["sh", "-c", "echo a  b"]"#,
        ])
        .output()
        .success();
    assert_eq!(
        rendered(&out)["containerDefinitions"][0]["command"],
        json!(["sh", "-c", "echo a  b"])
    );
}

#[test]
fn the_render_actions_inputs_are_checked_before_anything_runs() {
    let env = Env::new();
    let path = env.file("web.json", TEMPLATE);
    let path = path.to_str().unwrap();
    env.record();
    for (flag, value, message) in [
        (
            "--log-configuration-log-driver",
            "logentries",
            "`logentries` is not a log driver ECS takes",
        ),
        (
            "--task-role-arn",
            "arn:aws:iam::123:role/x",
            "is not an IAM role ARN",
        ),
        (
            "--env-files",
            "s3://bucket/web.env",
            "is not an S3 object ARN",
        ),
        ("--command", "[\"npm\", 3]", "not a JSON array of strings"),
        (
            "--task-definition-revision",
            "3",
            "needs `task-definition-family`",
        ),
    ] {
        let out = env
            .run(["deploy", "--task-definition", path, flag, value])
            .output()
            .failure(2);
        out.stderr_has(message);
    }
    assert!(env.calls().is_empty(), "no AWS call: {:?}", env.calls());
}

#[test]
fn mode_selects_the_command_and_command_is_the_containers_unless_it_names_a_mode() {
    let env = Env::new();
    let path = env.file("web.json", TEMPLATE);
    let path = path.to_str().unwrap();
    // A workflow written before `mode`: `command: render` is the mode.
    let out = env
        .run(Vec::<String>::new())
        .env("INPUT_COMMAND", "render")
        .env("INPUT_TASK-DEFINITION", path)
        .output()
        .success();
    let web = &rendered(&out)["containerDefinitions"][0];
    assert!(web.get("command").is_none(), "{web}");

    // With `mode`, a leftover `command: render` is still no container command; the JSON form
    // is.
    let out = env
        .run(Vec::<String>::new())
        .env("INPUT_MODE", "render")
        .env("INPUT_COMMAND", "render")
        .env("INPUT_TASK-DEFINITION", path)
        .output()
        .success();
    assert!(
        rendered(&out)["containerDefinitions"][0]
            .get("command")
            .is_none()
    );
    let out = env
        .run(Vec::<String>::new())
        .env("INPUT_MODE", "render")
        .env("INPUT_COMMAND", r#"["render"]"#)
        .env("INPUT_TASK-DEFINITION", path)
        .output()
        .success();
    assert_eq!(
        rendered(&out)["containerDefinitions"][0]["command"],
        json!(["render"])
    );

    // On GitHub without `mode`, the action deploys; `command` is the container's.
    env.record();
    let out = env
        .run(Vec::<String>::new())
        .env("GITHUB_ACTIONS", "true")
        .env("INPUT_COMMAND", "npm start")
        .env("INPUT_TASK-DEFINITION", path)
        .env("INPUT_OUTPUT", "out.json")
        .output()
        .success();
    assert!(out.report("task-definition-arn").is_some(), "{out}");
    let registered = env
        .calls()
        .into_iter()
        .find(|c| c.operation == "RegisterTaskDefinition")
        .expect("deploy registered");
    assert_eq!(
        registered.body["containerDefinitions"][0]["command"],
        json!(["npm", "start"])
    );

    // Elsewhere, no mode is a usage error that lists them.
    let out = env
        .run(Vec::<String>::new())
        .env("INPUT_TASK-DEFINITION", path)
        .output()
        .failure(2);
    out.stderr_has("no mode given");
    let out = env
        .run(Vec::<String>::new())
        .env("INPUT_MODE", "ship")
        .output()
        .failure(2);
    out.stderr_has("input `mode`: unknown mode `ship`");

    // A leftover `command` that names a mode, beside a subcommand, is never the container's.
    let out = env
        .run(["render", "--task-definition", path])
        .env("ECS_SECRETS_COMMAND", "deploy")
        .output()
        .success();
    assert!(
        rendered(&out)["containerDefinitions"][0]
            .get("command")
            .is_none(),
        "{out}"
    );
    // `init` was never a mode in `command`: on GitHub it is the container's command.
    let out = env
        .run(Vec::<String>::new())
        .env("GITHUB_ACTIONS", "true")
        .env("INPUT_COMMAND", "init")
        .env("INPUT_TASK-DEFINITION", path)
        .env("INPUT_DRY-RUN", "true")
        .env("INPUT_OUTPUT", "init-command.json")
        .output()
        .success();
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("init-command.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        written["containerDefinitions"][0]["command"],
        json!(["init"]),
        "{out}"
    );
    // A `run:` step on GitHub (no `INPUT_*`) that names no mode is a usage error, not a deploy.
    let out = env
        .run(["--verbose"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .failure(2);
    out.stderr_has("no mode given");
}

#[test]
fn a_registered_revision_is_a_template_by_arn_family_or_family_and_revision() {
    let env = Env::new();
    env.parameter("/web/host", "db.internal", false);
    let mut body: Value = serde_json::from_str(TEMPLATE).unwrap();
    body["containerDefinitions"][0]["environment"] =
        json!([{"name": "DB_HOST", "value": "{{ssm:/web/host}}"}]);
    let first = register(&env, &body);
    body["containerDefinitions"][0]["image"] = json!("repo/web:latest-registered");
    register(&env, &body);
    for args in [
        vec!["--task-definition", first.as_str()],
        vec!["--task-definition", "web:1"],
        vec!["--task-definition-arn", first.as_str()],
        vec![
            "--task-definition-family",
            "web",
            "--task-definition-revision",
            "1",
        ],
    ] {
        let out = env
            .run([&["render"][..], &args, &["--image", "repo/web:3"]].concat())
            .output()
            .success();
        let web = &rendered(&out)["containerDefinitions"][0];
        assert_eq!(web["image"], "repo/web:3", "{args:?}");
        // Placeholders in a registered revision resolve like a file's.
        assert_eq!(web["environment"][0]["value"], "db.internal", "{args:?}");
    }
    // `FAMILY` alone: its latest ACTIVE revision.
    let out = env
        .run(["render", "--task-definition", "web"])
        .output()
        .success();
    assert_eq!(
        rendered(&out)["containerDefinitions"][0]["image"],
        "repo/web:latest-registered"
    );
    // A directory named like the family is not a template file.
    std::fs::create_dir(env.dir.path().join("web")).unwrap();
    env.run(["render", "--task-definition", "web"])
        .output()
        .success();
    // A name that is neither a file nor a registered family says both.
    let out = env
        .run(["render", "--task-definition", "nosuchfamily"])
        .output()
        .failure(2);
    out.stderr_has("no task definition `nosuchfamily` in ECS");
}

#[test]
fn a_registered_revision_keeps_text_that_is_no_placeholder_and_an_inactive_one_is_registered_anew()
{
    let env = Env::new();
    let mut body: Value = serde_json::from_str(TEMPLATE).unwrap();
    body["containerDefinitions"][0]["dockerLabels"] =
        json!({"tmpl": "{{range .X}}{{end}}", "{{odd}}": "k"});
    body["tags"] = json!([{"key": "team", "value": "web"}]);
    let first = register(&env, &body);
    let out = env
        .run(["render", "--task-definition", first.as_str()])
        .output()
        .success();
    let labels = &rendered(&out)["containerDefinitions"][0]["dockerLabels"];
    assert_eq!(
        labels,
        &json!({"tmpl": "{{range .X}}{{end}}", "{{odd}}": "k"})
    );
    env.record();
    let out = env
        .run(["deploy", "--task-definition", "web:1"])
        .output()
        .success();
    assert_eq!(out.report("changed").as_deref(), Some("false"), "{out}");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0, "{out}");

    env.ecs_raw(
        "DeregisterTaskDefinition",
        &json!({"taskDefinition": first}),
    );
    env.record();
    let out = env
        .run(["deploy", "--task-definition", first.as_str()])
        .output()
        .success();
    assert_eq!(
        count(&env.calls(), "RegisterTaskDefinition"),
        1,
        "an INACTIVE revision cannot be deployed as it is: {out}"
    );
}

#[test]
fn deploying_the_revision_a_service_runs_unchanged_registers_nothing() {
    let env = Env::new();
    let body: Value = serde_json::from_str(TEMPLATE).unwrap();
    let first = register(&env, &body);
    let mut newer = body.clone();
    newer["containerDefinitions"][0]["image"] = json!("repo/web:newer");
    register(&env, &newer);
    service(&env, &first);
    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition-from-service",
            "--service",
            "web",
            "--cluster",
            "prod",
            "--wait-for-service-stability=false",
        ])
        .output()
        .success();
    assert_eq!(out.report("changed").as_deref(), Some("false"), "{out}");
    assert_eq!(
        out.report("task-definition-arn").as_deref(),
        Some(first.as_str())
    );
    let calls = env.calls();
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 0, "{out}");

    // An existing revision that is not the family's latest is deployed as it is too.
    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            "web:1",
            "--wait-for-service-stability=false",
        ])
        .output()
        .success();
    assert_eq!(
        out.report("task-definition-arn").as_deref(),
        Some(first.as_str())
    );
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);

    // With an override that changes it, a new revision is registered from it.
    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition-from-service",
            "--service",
            "web",
            "--cluster",
            "prod",
            "--image",
            "repo/web:2",
            "--wait-for-service-stability=false",
        ])
        .output()
        .success();
    assert_eq!(out.report("changed").as_deref(), Some("true"), "{out}");
    let calls = env.calls();
    assert_eq!(count(&calls, "RegisterTaskDefinition"), 1);
    assert_eq!(count(&calls, "UpdateService"), 1);
}

#[test]
fn init_writes_a_template_that_deploys_back_to_an_equal_definition() {
    let env = Env::new();
    env.secret("prod/web/DB_PASSWORD", "init-db-canary-5521");
    // One JSON secret for the app, a key per variable.
    env.secret(
        "prod/web",
        r#"{"API_TOKEN":"init-token-canary-7781","OTHER":"x"}"#,
    );
    env.parameter("/prod/web/API_URL", "https://api.example", false);
    env.parameter("/prod/web/SIGNING_KEY", "init-signing-canary-3390", true);
    let body = json!({
        "family": "web",
        "containerDefinitions": [{
            "name": "web",
            "image": "repo/web:1",
            "memory": 512,
            "environment": [
                {"name": "DB_PASSWORD", "value": "init-db-canary-5521"},
                {"name": "LEGACY_DB_PASS", "value": "init-db-canary-5521"},
                {"name": "API_TOKEN", "value": "init-token-canary-7781"},
                {"name": "API_URL", "value": "https://api.example"},
                {"name": "SIGNING_KEY", "value": "init-signing-canary-3390"},
                {"name": "STRIPE_SECRET_KEY", "value": "init-stripe-canary-1204"},
                {"name": "LOG_LEVEL", "value": "info"}
            ],
            "dockerLabels": {"route": "{{.Name}} \\{{x}}"}
        }]
    });
    let arn = register(&env, &body);
    service(&env, &arn);
    let out = env
        .run([
            "init",
            "--service",
            "web",
            "--cluster",
            "prod",
            "--output",
            "web.json",
        ])
        .output()
        .success();
    let text = std::fs::read_to_string(env.dir.path().join("web.json")).unwrap();
    assert!(
        !text.contains("canary") && !out.all().contains("canary"),
        "no value in the template or the log:\n{text}\n{out}"
    );
    let template: Value = serde_json::from_str(&text).unwrap();
    let values: Vec<(&str, &str)> = template["containerDefinitions"][0]["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        values,
        [
            ("DB_PASSWORD", "{{secretsmanager:prod/web/DB_PASSWORD}}"),
            ("LEGACY_DB_PASS", "{{secretsmanager:prod/web/DB_PASSWORD}}"),
            ("API_TOKEN", "{{secretsmanager:prod/web:API_TOKEN}}"),
            ("API_URL", "{{ssm:/prod/web/API_URL}}"),
            ("SIGNING_KEY", "{{ssm:/prod/web/SIGNING_KEY}}"),
            ("STRIPE_SECRET_KEY", "{{env:STRIPE_SECRET_KEY}}"),
            ("LOG_LEVEL", "info"),
        ]
    );
    out.stderr_has("environment `DB_PASSWORD` → `{{secretsmanager:prod/web/DB_PASSWORD}}`");
    out.stderr_has("6 environment values turned into placeholders");
    out.stderr_has("allow-plaintext-secrets");

    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            "web.json",
            "--allow-plaintext-secrets",
        ])
        .env("STRIPE_SECRET_KEY", "init-stripe-canary-1204")
        .output()
        .success();
    assert_eq!(out.report("changed").as_deref(), Some("false"), "{out}");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0, "{out}");
    assert!(!out.all().contains("canary"), "{out}");
}

#[test]
fn init_needs_a_service_and_an_output_and_prints_the_template_exactly_when_asked() {
    let env = Env::new();
    let out = env.run(["init"]).output().failure(2);
    out.stderr_has("`init` needs `service`");
    let out = env.run(["init", "--service", "web"]).output().failure(2);
    out.stderr_has("`init` needs `output`");

    // A secret that holds `true` (read as a candidate, never matched) masks nothing.
    env.secret("prod/web/ENABLED", "true");
    env.secret("prod/web/API_KEY", "init-stdout-canary-6612");
    let body = json!({
        "family": "web",
        "containerDefinitions": [{
            "name": "web", "image": "repo/web:1", "memory": 512, "essential": true,
            "environment": [
                {"name": "ENABLED", "value": "false"},
                {"name": "API_KEY", "value": "init-stdout-canary-6612"}
            ]
        }]
    });
    let arn = register(&env, &body);
    service(&env, &arn);
    let out = env
        .run([
            "init",
            "--service",
            "web",
            "--cluster",
            "prod",
            "--output",
            "-",
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .success();
    let template: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(template["containerDefinitions"][0]["essential"], true);
    assert_eq!(
        template["containerDefinitions"][0]["environment"][1]["value"],
        "{{secretsmanager:prod/web/API_KEY}}"
    );
    out.stderr_has("::add-mask::init-stdout-canary-6612");
    assert!(!out.stderr.contains("::add-mask::true"), "{out}");
    assert!(!out.stdout.contains("canary"), "{out}");
}

#[test]
fn export_reads_secret_ids_as_get_secrets_does() {
    let env = Env::new();
    env.secret(
        "prod/api",
        r#"{"user":"api-user-canary","password":"api-pw-canary-8812"}"#,
    );
    env.secret("plain/one", "plain-one-canary-4410");
    env.secret("/special/chars/secret", "special-canary-9921");
    env.parameter("/app/host", "db.internal", false);
    let file = env.dir.path().join("values.env");
    env.run([
        "export",
        "--secret-ids",
        ",prod/api\n,plain/one\n/special/chars/secret\nssm:/app/host",
        "--parse-json-secrets",
        "--env-file",
        file.to_str().unwrap(),
    ])
    .output()
    .success();
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "APP_HOST='db.internal'",
            "PASSWORD='api-pw-canary-8812'",
            "PLAIN_ONE='plain-one-canary-4410'",
            "USER='api-user-canary'",
            "_SPECIAL_CHARS_SECRET='special-canary-9921'",
        ]
    );

    // Without `parse-json-secrets` a blank alias is ignored, as there.
    env.run([
        "export",
        "--secret-ids",
        ",prod/api",
        "--env-file",
        file.to_str().unwrap(),
    ])
    .output()
    .success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("PROD_API='"), "{text}");

    // A `/name` line is a secret; for the parameter the error says what to write.
    let out = env
        .run([
            "export",
            "--secret-ids",
            "/app/host",
            "--env-file",
            file.to_str().unwrap(),
        ])
        .output()
        .failure(1);
    out.stderr_has("write `ssm:/app/host`");
    let out = env
        .run([
            "export",
            "--secret-ids",
            "/app/host:3",
            "--env-file",
            file.to_str().unwrap(),
        ])
        .output()
        .failure(1);
    out.stderr_has("write `ssm:/app/host:3`");

    // Keys alone never replace what the environment has, as in get-secrets.
    env.secret("prod/evil", r#"{"PATH":"/tmp/evil-canary"}"#);
    let out = env
        .run([
            "export",
            "--secret-ids",
            ",prod/evil",
            "--parse-json-secrets",
            "--env-file",
            file.to_str().unwrap(),
        ])
        .output()
        .failure(2);
    out.stderr_has("`PATH` (from `,prod/evil → PATH`) is already set in this environment");
}

#[test]
fn export_publishes_step_outputs_masked_first() {
    let env = Env::new();
    env.secret("plain/one", "output-canary-5531");
    let outputs = env.file("github_output", "");
    let out = env
        .run([
            "export",
            "--secret-ids",
            "plain/one",
            "--export-to-outputs",
            "--export-to-github-env=false",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", outputs.to_str().unwrap())
        .output()
        .success();
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(written.contains("PLAIN_ONE<<ghadelimiter_"), "{written}");
    assert!(written.contains("\noutput-canary-5531\n"), "{written}");
    out.stderr_has("::add-mask::output-canary-5531");
    assert!(!out.stdout.contains("canary"), "{out}");

    // Outside GitHub there are no step outputs to publish.
    let out = env
        .run(["export", "--secret-ids", "plain/one", "--export-to-outputs"])
        .output()
        .failure(2);
    out.stderr_has("step outputs exist on GitHub Actions only");
}
