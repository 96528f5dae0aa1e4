//! `check`, `policy` and `preflight` against real roles and policies in the emulator. moto does
//! not implement IAM's simulator, so these exercise the local evaluation of identity policies.

use serde_json::{Value, json};

use crate::util::{ECS_TASKS_TRUST as TRUST, Env, Output, count};

struct Scene {
    /// The customer managed key that encrypts the secret (its default key policy delegates to
    /// the account's IAM policies).
    key: String,
    secret_arn: String,
    parameter_arn: String,
    template: String,
}

/// A secret encrypted with a customer-managed key, a SecureString parameter, an execution role
/// (no permissions yet) and a template that references both by `-arn` placeholders.
fn setup(env: &Env) -> Scene {
    let key = env
        .block_on(env.kms.create_key().send())
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let secret_arn = env
        .block_on(
            env.sm
                .create_secret()
                .name("web/db")
                .secret_string(r#"{"password":"check-canary-password"}"#)
                .kms_key_id(&key)
                .send(),
        )
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    env.parameter("/web/api-key", "check-canary-api-key", true);
    env.task_role("web-execution");
    env.task_role("web-task");
    let template = env.file(
        "web.json",
        r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
  "containerDefinitions": [
    { "name": "web", "image": "web:1", "memory": 128,
      "secrets": [
        { "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db:password}}" },
        { "name": "API_KEY", "valueFrom": "{{ssm-arn:/web/api-key}}" }
      ] }
  ]
}"#,
    );
    Scene {
        key,
        secret_arn,
        parameter_arn: Env::parameter_arn("/web/api-key"),
        template: template.to_str().unwrap().to_owned(),
    }
}

fn inline(env: &Env, role: &str, name: &str, policy: &Value) {
    env.block_on(
        env.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(policy.to_string())
            .send(),
    )
    .unwrap();
}

/// Makes `policy` the permissions boundary `team-boundary` of `web-execution`.
fn set_boundary(env: &Env, policy: &Value) {
    env.block_on(
        env.iam
            .create_policy()
            .policy_name("team-boundary")
            .policy_document(policy.to_string())
            .send(),
    )
    .unwrap();
    env.block_on(
        env.iam
            .put_role_permissions_boundary()
            .role_name("web-execution")
            .permissions_boundary("arn:aws:iam::123456789012:policy/team-boundary")
            .send(),
    )
    .unwrap();
}

fn allow_all(scene: &Scene) -> Value {
    json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": scene.secret_arn },
        { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": scene.parameter_arn },
        { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": scene.key }
    ]})
}

fn check(env: &Env, scene: &Scene) -> Output {
    env.run(["check", "--task-definition", &scene.template])
        .output()
}

#[test]
fn a_correct_setup_passes_without_reading_any_value() {
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    env.record();
    let out = check(&env, &scene).success();
    out.stdout_has("execution role `web-execution` exists and trusts `ecs-tasks.amazonaws.com`");
    out.stdout_has(&format!(
        "`web-execution` may `secretsmanager:GetSecretValue` on `{}` (policy `read-secrets`)",
        scene.secret_arn
    ));
    out.stdout_has(&format!(
        "`web-execution` may `kms:Decrypt` on `{}`",
        scene.key
    ));
    out.stdout_has(&format!(
        "`web-execution` may `ssm:GetParameters` on `{}`",
        scene.parameter_arn
    ));
    out.stdout_has(
        "IAM's policy simulator is not available (HTTP 500 without an AWS error in the answer)",
    );
    out.stdout_has("0 failed");
    let calls = env.calls();
    assert_eq!(
        count(&calls, "GetSecretValue") + count(&calls, "BatchGetSecretValue"),
        0,
        "no secret value read"
    );
    assert!(
        calls
            .iter()
            .filter(|c| c.operation == "GetParameters")
            .all(|c| c.body["WithDecryption"] != json!(true)),
        "nothing decrypted"
    );
    assert!(!out.all().contains("check-canary"));
}

#[test]
fn each_cause_in_the_troubleshooting_list_is_caught_with_role_action_resource_and_fix() {
    // No policy at all.
    let env = Env::new();
    let scene = setup(&env);
    let out = check(&env, &scene).failure(1);
    out.stdout_has(&format!(
        "[fail] `web-execution` may not `secretsmanager:GetSecretValue` on `{}`",
        scene.secret_arn
    ));
    out.stdout_has(&format!(
        r#"fix: add to a policy of role `web-execution` (the execution role, not the task role): {{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"{}"}}"#,
        scene.secret_arn
    ));
    out.stderr_has("check failed: 3 problems");

    // The policy is on the task role, not the execution role.
    drop(env); // one emulator hold at a time
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-task", "read-secrets", &allow_all(&scene));
    let out = check(&env, &scene).failure(1);
    out.stdout_has("`web-execution` may not `secretsmanager:GetSecretValue`");

    // Denied by an explicit Deny, despite a wildcard Allow.
    drop(env); // one emulator hold at a time
    let env = Env::new();
    let scene = setup(&env);
    inline(
        &env,
        "web-execution",
        "read-all",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": ["secretsmanager:*", "ssm:GetParameters", "kms:Decrypt"], "Resource": "*" }
        ]}),
    );
    inline(
        &env,
        "web-execution",
        "deny-web",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:web/*" }
        ]}),
    );
    let out = check(&env, &scene).failure(1);
    out.stdout_has("is denied `secretsmanager:GetSecretValue`");
    out.stdout_has("by policy `deny-web`");
    assert!(
        out.stdout
            .contains("`web-execution` may `ssm:GetParameters` on"),
        "the wildcard allows the rest:\n{out}"
    );

    // The KMS permission is missing.
    drop(env); // one emulator hold at a time
    let env = Env::new();
    let scene = setup(&env);
    let mut policy = allow_all(&scene);
    policy["Statement"].as_array_mut().unwrap().pop();
    inline(&env, "web-execution", "no-kms", &policy);
    let out = check(&env, &scene).failure(1);
    out.stdout_has(&format!(
        "[fail] `web-execution` may not `kms:Decrypt` on `{}`",
        scene.key
    ));

    // The key that encrypts the secret is gone.
    drop(env); // one emulator hold at a time
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    let gone = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    env.block_on(
        env.sm
            .update_secret()
            .secret_id(&scene.secret_arn)
            .kms_key_id(gone)
            .send(),
    )
    .unwrap();
    let out = check(&env, &scene).failure(1);
    out.stdout_has(&format!(
        "[fail] the key `{gone}` that encrypts it does not exist (NotFoundException"
    ));

    // A wrong ARN, and a role that ECS tasks may not assume.
    drop(env); // one emulator hold at a time
    let env = Env::new();
    let scene = setup(&env);
    env.block_on(
        env.iam
            .update_assume_role_policy()
            .role_name("web-execution")
            .policy_document(TRUST.replace("ecs-tasks", "ec2"))
            .send(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&scene.template).unwrap().replace(
        "{{secretsmanager-arn:web/db:password}}",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/typo-AbCdEf",
    );
    std::fs::write(&scene.template, text).unwrap();
    let out = check(&env, &scene).failure(1);
    out.stdout_has("does not let `ecs-tasks.amazonaws.com` assume it");
    out.stdout_has("the secret cannot be described: ResourceNotFoundException");

    // No execution role at all.
    drop(env); // one emulator hold at a time
    let env = Env::new();
    let scene = setup(&env);
    let text = std::fs::read_to_string(&scene.template).unwrap().replace(
        r#""executionRoleArn": "arn:aws:iam::123456789012:role/web-execution","#,
        "",
    );
    std::fs::write(&scene.template, text).unwrap();
    let out = check(&env, &scene).failure(1);
    out.stdout_has("references secrets but has no `executionRoleArn`");
}

#[test]
fn findings_point_into_the_template_as_annotations_and_in_the_json_report() {
    let env = Env::new();
    let scene = setup(&env);
    env.block_on(
        env.iam
            .update_assume_role_policy()
            .role_name("web-execution")
            .policy_document(TRUST.replace("ecs-tasks", "ec2"))
            .send(),
    )
    .unwrap();
    let out = env
        .run(["check", "--task-definition", &scene.template])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", env.dir.path().to_str().unwrap())
        .output()
        .failure(1);
    let annotations: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    // The role's line for the trust policy; each placeholder's line and column for the rest.
    let expected = [
        (
            "line=3,col=24",
            "does not let `ecs-tasks.amazonaws.com` assume it",
        ),
        ("line=8,col=48", "may not `secretsmanager:GetSecretValue`"),
        ("line=8,col=48", "may not `kms:Decrypt`"),
        ("line=9,col=44", "may not `ssm:GetParameters`"),
    ];
    assert_eq!(annotations.len(), expected.len(), "{out}");
    for ((place, message), annotation) in expected.iter().zip(&annotations) {
        let head = format!("::error file=web.json,{place},title=ecs-secrets check::");
        assert!(annotation.starts_with(&head), "{annotation}");
        assert!(annotation.contains(message), "{annotation}");
        assert!(annotation.contains("%0Afix: "), "{annotation}");
    }

    let out = env
        .run([
            "check",
            "--task-definition",
            &scene.template,
            "--report-format",
            "json",
        ])
        .output()
        .failure(1);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let failed: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 4, "{out}");
    assert_eq!(failed[3]["file"], json!(scene.template), "{out}");
    assert_eq!(
        failed[3]["path"],
        "containerDefinitions[0].secrets[1].valueFrom"
    );
    assert_eq!(
        (&failed[3]["line"], &failed[3]["column"]),
        (&json!(9), &json!(44))
    );
}

#[test]
fn a_permissions_boundary_that_leaves_out_a_secret_is_caught() {
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    // The boundary lets the role read parameters and decrypt, not read secrets.
    let boundary = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": ["ssm:GetParameters", "kms:Decrypt"], "Resource": "*" }
    ]});
    set_boundary(&env, &boundary);
    let out = check(&env, &scene).failure(1);
    out.stdout_has(&format!(
            "[fail] `web-execution` may not `secretsmanager:GetSecretValue` on `{}`: its policies allow it, its permissions boundary `team-boundary` does not",
            scene.secret_arn
        ));
    out.stdout_has("fix: add to the permissions boundary `team-boundary` of role `web-execution`");
    out.stderr_has("check failed: 1 problem ");
    out.stdout_has("[skip] not evaluated: policy conditions, SCPs, KMS grants\n");

    // A boundary that cannot be read is said to be unread, not taken as allowing everything.
    env.block_on(
        env.iam
            .put_role_permissions_boundary()
            .role_name("web-execution")
            .permissions_boundary("arn:aws:iam::123456789012:policy/gone")
            .send(),
    )
    .unwrap();
    let out = check(&env, &scene).success();
    out.stdout_has("[skip] permissions boundary `arn:aws:iam::123456789012:policy/gone` cannot be read: NoSuchEntity");
    out.stdout_has("not evaluated: policy conditions, the permissions boundary, SCPs");
}

#[test]
fn a_key_policy_that_leaves_the_role_out_is_caught_and_one_that_names_it_is_enough() {
    let env = Env::new();
    let (key, secret_arn, template) = alias_scene(&env);
    let template = template.to_str().unwrap();
    let parameter_arn = Env::parameter_arn("/web/api-key");
    // The role's own policies allow everything it needs, kms:Decrypt included.
    inline(
        &env,
        "web-execution",
        "read-secrets",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn },
            { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn },
            { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key }
        ]}),
    );
    let key_policy = |statement: Value| {
        let policy = json!({ "Version": "2012-10-17", "Statement": [statement] });
        env.block_on(
            env.kms
                .put_key_policy()
                .key_id(&key)
                .policy_name("default")
                .policy(policy.to_string())
                .send(),
        )
        .unwrap();
    };
    // The key's policy trusts only an admin role: no identity policy can help.
    key_policy(
        json!({ "Effect": "Allow", "Action": "kms:*", "Resource": "*",
        "Principal": { "AWS": "arn:aws:iam::123456789012:role/admin" } }),
    );
    let out = env
        .run(["check", "--task-definition", template])
        .output()
        .failure(1);
    let silent = format!(
        "[fail] the key policy of `{key}` neither names `web-execution` nor lets IAM policies of account 123456789012 grant `kms:Decrypt`, so no identity policy can"
    );
    assert_eq!(out.stdout.matches(&silent).count(), 2, "{out}");
    out.stdout_has(&format!(
            r#"fix: add to the key policy of `{key}`: {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:role/web-execution"}},"Action":"kms:Decrypt","Resource":"*"}}"#
        ));

    // That fix is enough, even once the role's own kms:Decrypt is gone: in its account, a key
    // policy that names the role needs no identity policy.
    key_policy(
        json!({ "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
        "Principal": { "AWS": "arn:aws:iam::123456789012:role/web-execution" } }),
    );
    inline(
        &env,
        "web-execution",
        "read-secrets",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn },
            { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn }
        ]}),
    );
    let out = env
        .run(["check", "--task-definition", template])
        .output()
        .success();
    out.stdout_has(&format!(
        "[ok]   `web-execution` may `kms:Decrypt` on `{key}` (its key policy names the role)"
    ));

    // The account's IAM policies may grant it, and the key policy grants the role under a
    // condition: not evaluated, so a warning and not a failure (AWS would allow it).
    let root = json!({ "Sid": "Enable IAM User Permissions", "Effect": "Allow", "Action": "kms:*",
        "Resource": "*", "Principal": { "AWS": "arn:aws:iam::123456789012:root" } });
    let via = json!({ "Sid": "ViaSsm", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
        "Principal": { "AWS": "arn:aws:iam::123456789012:role/web-execution" },
        "Condition": { "StringEquals": { "kms:ViaService": "ssm.us-east-1.amazonaws.com" } } });
    let policy = json!({ "Version": "2012-10-17", "Statement": [root, via] });
    env.block_on(
        env.kms
            .put_key_policy()
            .key_id(&key)
            .policy_name("default")
            .policy(policy.to_string())
            .send(),
    )
    .unwrap();
    let out = env
        .run(["check", "--task-definition", template])
        .output()
        .success();
    out.stdout_has(&format!("[warn] `web-execution` may `kms:Decrypt` on `{key}` only under the conditions of statement `ViaSsm` of its key policy"));
}

#[test]
fn a_secret_resource_policy_can_deny_the_role_or_be_enough_on_its_own() {
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    let resource_policy = |statement: Value| {
        let policy = json!({ "Version": "2012-10-17", "Statement": [statement] });
        env.block_on(
            env.sm
                .put_resource_policy()
                .secret_id(&scene.secret_arn)
                .resource_policy(policy.to_string())
                .send(),
        )
        .unwrap();
    };
    let role_arn = "arn:aws:iam::123456789012:role/web-execution";
    // A Deny in the secret's policy wins over the role's Allow.
    resource_policy(
        json!({ "Sid": "OnlyTheApp", "Effect": "Deny", "Action": "secretsmanager:*",
        "Resource": "*", "Principal": { "AWS": role_arn } }),
    );
    let out = check(&env, &scene).failure(1);
    out.stdout_has("[fail] the secret's resource policy denies `web-execution` `secretsmanager:GetSecretValue` (statement `OnlyTheApp`)");
    out.stderr_has("check failed: 1 problem ");

    // In its own account, a resource policy that names the role is enough.
    resource_policy(
        json!({ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": "*", "Principal": { "AWS": role_arn } }),
    );
    let mut policy = allow_all(&scene);
    policy["Statement"].as_array_mut().unwrap().remove(0);
    inline(&env, "web-execution", "read-secrets", &policy);
    let out = check(&env, &scene).success();
    out.stdout_has(&format!(
            "[ok]   `web-execution` may `secretsmanager:GetSecretValue` on `{}` (the secret's resource policy names the role)",
            scene.secret_arn
        ));
}

#[test]
fn an_execution_role_given_by_name_is_checked_like_one_given_by_arn() {
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    let text = std::fs::read_to_string(&scene.template).unwrap().replace(
        "arn:aws:iam::123456789012:role/web-execution",
        "web-execution",
    );
    std::fs::write(&scene.template, text).unwrap();
    let out = check(&env, &scene).success();
    out.stdout_has(&format!(
        "`web-execution` may `ssm:GetParameters` on `{}`",
        scene.parameter_arn
    ));
    // The deployer's preflight policy names the role by its ARN, as IAM requires.
    let out = env
        .run([
            "policy",
            "--task-definition",
            &scene.template,
            "--preflight",
        ])
        .output()
        .success();
    let deployer = serde_json::from_str::<Value>(&out.stdout).unwrap()["deployer"].to_string();
    assert!(
        deployer.contains(r#""arn:aws:iam::123456789012:role/web-execution""#),
        "{deployer}"
    );
    assert!(!deployer.contains(r#""web-execution""#), "{deployer}");
}

#[test]
fn an_execution_role_of_another_account_is_not_mistaken_for_the_callers() {
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    let text = std::fs::read_to_string(&scene.template).unwrap().replace(
        "iam::123456789012:role/web-execution",
        "iam::210987654321:role/web-execution",
    );
    std::fs::write(&scene.template, text).unwrap();
    let out = check(&env, &scene).failure(1);
    out.stdout_has("[fail] execution role `arn:aws:iam::210987654321:role/web-execution` is not in the account of this run's credentials (which has `arn:aws:iam::123456789012:role/web-execution`)");
    assert!(
        !out.stdout.contains("may `"),
        "no verdict on another role:\n{out}"
    );
}

/// A customer managed key behind `alias/web-secrets`, a secret and a SecureString parameter
/// encrypted under the alias, the execution role (no permissions), and a template for both.
/// Returns the key ARN, the secret ARN and the template.
fn alias_scene(env: &Env) -> (String, String, std::path::PathBuf) {
    let key = env
        .block_on(env.kms.create_key().send())
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    env.block_on(
        env.kms
            .create_alias()
            .alias_name("alias/web-secrets")
            .target_key_id(&key)
            .send(),
    )
    .unwrap();
    let secret_arn = env
        .block_on(
            env.sm
                .create_secret()
                .name("web/db")
                .secret_string("alias-canary-password")
                .kms_key_id("alias/web-secrets")
                .send(),
        )
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    env.block_on(
        env.ssm
            .put_parameter()
            .name("/web/api-key")
            .value("alias-canary-api-key")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .key_id("alias/web-secrets")
            .send(),
    )
    .unwrap();
    env.task_role("web-execution");
    let template = env.file(
        "web.json",
        r#"{"family": "web", "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [{ "name": "web", "image": "web:1", "memory": 128, "secrets": [
    { "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db}}" },
    { "name": "API_KEY", "valueFrom": "{{ssm-arn:/web/api-key}}" } ] }]}"#,
    );
    (key, secret_arn, template)
}

#[test]
fn a_customer_key_named_by_alias_is_resolved_and_decrypt_is_checked_on_the_key() {
    let env = Env::new();
    let (key, secret_arn, template) = alias_scene(&env);
    let template = template.to_str().unwrap();
    let parameter_arn = Env::parameter_arn("/web/api-key");
    inline(
        &env,
        "web-execution",
        "read-secrets",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn },
            { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn }
        ]}),
    );
    env.record();
    let out = env
        .run(["check", "--task-definition", template])
        .output()
        .failure(1);
    // Both references name the key behind the alias; the alias is looked up once.
    let missing = format!("[fail] `web-execution` may not `kms:Decrypt` on `{key}`");
    assert_eq!(out.stdout.matches(&missing).count(), 2, "{out}");
    out.stderr_has("check failed: 2 problems");
    assert_eq!(count(&env.calls(), "DescribeKey"), 1);

    inline(
        &env,
        "web-execution",
        "decrypt",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key }
        ]}),
    );
    let out = env
        .run(["check", "--task-definition", template])
        .output()
        .success();
    out.stdout_has(&format!(
        "`web-execution` may `kms:Decrypt` on `{key}` (policy `decrypt`)"
    ));

    // The deployer that runs the preflight may make each of its read calls.
    let out = env
        .run(["policy", "--task-definition", template, "--preflight"])
        .output()
        .success();
    let policies: Value = serde_json::from_str(&out.stdout).unwrap();
    let allowed = |action: &str, resource: &str| {
        policies["deployer"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| {
                s["Action"].to_string().contains(&format!("\"{action}\""))
                    && s["Resource"]
                        .to_string()
                        .contains(&format!("\"{resource}\""))
            })
    };
    let role_arn = "arn:aws:iam::123456789012:role/web-execution";
    assert!(allowed("kms:DescribeKey", &key), "{out}");
    assert!(allowed("iam:SimulatePrincipalPolicy", role_arn), "{out}");
    assert!(
        allowed("secretsmanager:DescribeSecret", &secret_arn),
        "{out}"
    );
    assert!(allowed("ssm:DescribeParameters", "*"), "{out}");
}

#[test]
fn a_parameter_named_without_an_arn_is_looked_for_in_the_other_regions_the_task_names() {
    let env = Env::new();
    let eu = aws_sdk_ssm::Client::from_conf(
        env.ssm
            .config()
            .to_builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build(),
    );
    env.block_on(
        eu.put_parameter()
            .name("/web/api-key")
            .value("region-canary")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send(),
    )
    .unwrap();
    env.task_role("web-execution");
    let text = r#"{"family": "web", "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [{ "name": "web", "image": "web:1", "memory": 128,
    "logConfiguration": { "logDriver": "awslogs", "options": { "awslogs-region": "eu-west-1",
      "awslogs-group": "web", "awslogs-stream-prefix": "web" } },
    "secrets": [ { "name": "API_KEY", "valueFrom": "/web/api-key" } ] }]}"#;
    let template = env.file("web.json", text);
    let out = env
        .run(["check", "--task-definition", template.to_str().unwrap()])
        .output()
        .failure(1);
    out.stdout_has("[fail] no parameter `/web/api-key` in us-east-1, where the task runs and reads parameters given by name; it is in eu-west-1");
    let arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/web/api-key";
    out.stdout_has(&format!("fix: write its full ARN: {arn}"));

    // The fix it names is right: by that ARN, the parameter is found.
    std::fs::write(
        &template,
        text.replace("\"/web/api-key\"", &format!("\"{arn}\"")),
    )
    .unwrap();
    let out = env
        .run(["check", "--task-definition", template.to_str().unwrap()])
        .output();
    out.stdout_has(&format!("[ok]   the parameter exists ({arn})"));
}

#[test]
fn the_printed_policy_attached_to_a_fresh_role_makes_check_pass() {
    let env = Env::new();
    let scene = setup(&env);
    let out = env
        .run([
            "policy",
            "--task-definition",
            &scene.template,
            "--service",
            "web",
            "--cluster",
            "prod",
        ])
        .output()
        .success();
    let policies: Value = serde_json::from_str(&out.stdout).unwrap();
    let deployer = policies["deployer"].to_string();
    assert!(
        deployer.contains("secretsmanager:DescribeSecret"),
        "{deployer}"
    );
    assert!(
        deployer.contains(r#""iam:PassedToService":"ecs-tasks.amazonaws.com""#),
        "{deployer}"
    );
    assert!(deployer.contains("service/prod/web"), "{deployer}");
    assert!(
        !deployer.contains("secretsmanager:GetSecretValue"),
        "-arn references need no value read:\n{deployer}"
    );
    let execution = &policies["execution-role"];
    assert!(
        execution.to_string().contains("kms:ViaService"),
        "{execution}"
    );

    env.task_role("fresh-execution");
    env.block_on(
        env.iam
            .create_policy()
            .policy_name("ecs-secrets-generated")
            .policy_document(execution.to_string())
            .send(),
    )
    .unwrap();
    env.block_on(
        env.iam
            .attach_role_policy()
            .role_name("fresh-execution")
            .policy_arn("arn:aws:iam::123456789012:policy/ecs-secrets-generated")
            .send(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&scene.template)
        .unwrap()
        .replace("role/web-execution", "role/fresh-execution");
    std::fs::write(&scene.template, text).unwrap();
    let out = check(&env, &scene);
    // kms:Decrypt is allowed only through the ViaService condition, which is not evaluated here.
    out.stdout_has("only under the conditions of policy `ecs-secrets-generated`");
    let out = out.success();
    out.stdout_has("0 failed");
}

#[test]
fn preflight_refuses_to_register_when_the_role_cannot_read_a_secret() {
    let env = Env::new();
    let scene = setup(&env);
    env.record();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &scene.template,
            "--preflight",
        ])
        .output()
        .failure(1);
    out.stderr_has("preflight failed (3 problems); nothing was registered");
    out.stderr_has("may not `secretsmanager:GetSecretValue`");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);

    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &scene.template,
            "--preflight",
        ])
        .output()
        .success();
    assert_eq!(out.report("task-definition-revision").as_deref(), Some("1"));
}

#[test]
fn a_manifest_checks_every_template_and_fails_when_any_fails() {
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    // The worker shares the web's references; its own role may read none of them.
    env.task_role("worker-execution");
    let worker = env.file(
        "worker.json",
        &std::fs::read_to_string(&scene.template)
            .unwrap()
            .replace(r#""family": "web""#, r#""family": "worker""#)
            .replace("role/web-execution", "role/worker-execution"),
    );
    // The api shares the web's role: read once for both.
    let api = env.file(
        "api.json",
        &std::fs::read_to_string(&scene.template)
            .unwrap()
            .replace(r#""family": "web""#, r#""family": "api""#),
    );
    let manifest = env.file(
        "services.yml",
        &format!(
            "services:\n  - task-definition: {}\n  - task-definition: {}\n  - task-definition: {}\n",
            scene.template,
            worker.display(),
            api.display()
        ),
    );
    let manifest = manifest.to_str().unwrap();
    env.record();
    let out = env
        .run(["check", "--manifest", manifest])
        .output()
        .failure(1);
    let (web, rest) = out
        .stdout
        .split_once("== worker (")
        .expect("a section for each template");
    assert!(
        web.starts_with(&format!("== web ({})\n", scene.template)),
        "{out}"
    );
    assert!(web.contains("0 failed"), "{out}");
    assert!(
        rest.contains("[fail] `worker-execution` may not `secretsmanager:GetSecretValue`"),
        "{out}"
    );
    out.stderr_has("check failed: 3 problems");
    let calls = env.calls();
    assert_eq!(
        count(&calls, "GetSecretValue") + count(&calls, "BatchGetSecretValue"),
        0
    );
    assert_eq!(
        count(&calls, "GetRole"),
        2,
        "one read for each distinct role"
    );

    let out = env
        .run(["check", "--manifest", manifest, "--report-format", "json"])
        .output()
        .failure(1);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let checked = report["task-definitions"].as_array().unwrap();
    assert_eq!(
        (&checked[0]["family"], &checked[0]["ok"]),
        (&json!("web"), &json!(true))
    );
    assert_eq!(
        (&checked[1]["family"], &checked[1]["ok"]),
        (&json!("worker"), &json!(false))
    );
    assert_eq!(
        (&checked[2]["family"], &checked[2]["ok"]),
        (&json!("api"), &json!(true))
    );

    // Other commands do not take a manifest: said, not ignored.
    let out = env
        .run(["render", "--manifest", manifest])
        .output()
        .failure(2);
    out.stderr_has("input `manifest` applies to `deploy` and `check`, not `render`");
}

/// A scripted IAM endpoint: answers `SimulatePrincipalPolicy` (which moto does not implement)
/// from a table of decisions, and forwards every other IAM call to moto.
fn scripted_iam(moto_port: u16, decisions: &'static [(&'static str, &'static str)]) -> u16 {
    use crate::scripted_ecs::{forward, read_request, reply_as};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let Some((head, body)) = read_request(&stream) else {
                continue;
            };
            let form = String::from_utf8_lossy(&body).into_owned();
            if !form.contains("Action=SimulatePrincipalPolicy") {
                let (status, response) = forward(moto_port, &head, &body);
                reply_as(&mut stream, status, "text/xml", &response);
                continue;
            }
            let field = |name: &str| {
                form.split('&')
                    .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                    .map(|v| {
                        percent_encoding::percent_decode_str(v)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
                    .unwrap_or_default()
            };
            let action = field("ActionNames.member.1");
            let resource = field("ResourceArns.member.1");
            let decision = decisions
                .iter()
                .find(|(a, _)| *a == action)
                .map_or("implicitDeny", |(_, d)| *d);
            // `outsideBoundary`: what IAM answers when only the permissions boundary says no.
            let (decision, boundary) = match decision {
                "outsideBoundary" => (
                    "implicitDeny",
                    "<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>false</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>",
                ),
                other => (other, ""),
            };
            let xml = format!(
                r#"<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member><EvalActionName>{action}</EvalActionName><EvalResourceName>{resource}</EvalResourceName><EvalDecision>{decision}</EvalDecision>{boundary}<MatchedStatements><member><SourcePolicyId>simulated-policy</SourcePolicyId></member></MatchedStatements><MissingContextValues/></member></EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"#
            );
            reply_as(&mut stream, 200, "text/xml", &xml);
        }
    });
    port
}

#[test]
fn iams_own_simulator_answers_where_it_is_available() {
    let env = Env::new();
    let scene = setup(&env);
    // The role has no policy at first: only the simulator's answers can make these pass or fail.
    let iam = scripted_iam(
        env.port,
        &[
            ("secretsmanager:GetSecretValue", "allowed"),
            ("ssm:GetParameters", "outsideBoundary"),
            ("kms:Decrypt", "explicitDeny"),
        ],
    );
    set_boundary(&env, &allow_all(&scene));
    let out = env
        .run(["check", "--task-definition", &scene.template])
        .env("AWS_ENDPOINT_URL_IAM", format!("http://127.0.0.1:{iam}"))
        .output()
        .failure(1);
    assert!(!out.stdout.contains("simulator is not available"), "{out}");
    out.stdout_has(&format!("[ok]   `web-execution` may `secretsmanager:GetSecretValue` on `{}` (policy `simulated-policy`)", scene.secret_arn));
    out.stdout_has(&format!(
        "[fail] `web-execution` is denied `kms:Decrypt` on `{}` by policy `simulated-policy`",
        scene.key
    ));
    // IAM says the boundary leaves it out; the role's own policies (none) are read here.
    out.stdout_has(&format!(
            "[fail] `web-execution` may not `ssm:GetParameters` on `{}`: neither its policies nor its permissions boundary `team-boundary` allow it",
            scene.parameter_arn
        ));
    // The simulator weighs the boundary and SCPs itself; resource and key policies stay unseen.
    out.stdout_has(
        "[skip] not evaluated: conditions in key policies and secret resource policies, KMS grants",
    );

    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    let out = env
        .run(["check", "--task-definition", &scene.template])
        .env("AWS_ENDPOINT_URL_IAM", format!("http://127.0.0.1:{iam}"))
        .output()
        .failure(1);
    out.stdout_has(&format!(
            "[fail] `web-execution` may not `ssm:GetParameters` on `{}`: its policies allow it, its permissions boundary `team-boundary` does not",
            scene.parameter_arn
        ));
}

#[test]
fn read_values_checks_json_keys_and_masks_what_it_reads() {
    let env = Env::new();
    let scene = setup(&env);
    inline(&env, "web-execution", "read-secrets", &allow_all(&scene));
    let out = env
        .run([
            "check",
            "--task-definition",
            &scene.template,
            "--read-values",
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .success();
    out.stdout_has("the secret has the JSON key `password`");
    out.stderr_has("::add-mask::check-canary-password");
    assert!(!out.stdout.contains("check-canary"), "{out}");

    let text = std::fs::read_to_string(&scene.template)
        .unwrap()
        .replace("web/db:password", "web/db:passwd");
    std::fs::write(&scene.template, text).unwrap();
    let out = env
        .run([
            "check",
            "--task-definition",
            &scene.template,
            "--read-values",
        ])
        .output()
        .failure(1);
    out.stdout_has("[fail] the secret has no JSON key `passwd`");
}
