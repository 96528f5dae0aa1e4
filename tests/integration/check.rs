//! `check`, `policy` and `preflight` against real roles and policies in the emulator. moto does
//! not implement IAM's simulator, so these exercise the local evaluation of identity policies.

use serde_json::{Value, json};

use std::ops::Deref;

use crate::snapshot;
use crate::support::{ECS_TASKS_TRUST as TRUST, Env, Output, Scene, count};

/// The scene of these tests, with what they point at.
pub struct Keyed {
    scene: Scene,
    /// The customer managed key that encrypts the secret (its default key policy delegates to
    /// the account's IAM policies).
    pub key: String,
    pub secret_arn: String,
    pub parameter_arn: String,
    pub template: String,
}

impl Deref for Keyed {
    type Target = Scene;

    fn deref(&self) -> &Scene {
        &self.scene
    }
}

/// A secret encrypted with a customer-managed key, a SecureString parameter, an execution role
/// (no permissions yet) and a template that references both by `-arn` placeholders.
pub fn setup() -> Keyed {
    let scene = Scene::new()
        .secure("/web/api-key", "check-canary-api-key")
        .role("web-execution")
        .role("web-task");
    let key = scene
        .block_on(scene.kms.create_key().send())
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let secret_arn = scene
        .block_on(
            scene
                .sm
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
    let scene = scene.template(
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
    let template = scene.path().to_owned();
    Keyed {
        scene,
        key,
        secret_arn,
        parameter_arn: Env::parameter_arn("/web/api-key"),
        template,
    }
}

pub fn inline(scene: &Env, role: &str, name: &str, policy: &Value) {
    scene
        .block_on(
            scene
                .iam
                .put_role_policy()
                .role_name(role)
                .policy_name(name)
                .policy_document(policy.to_string())
                .send(),
        )
        .unwrap();
}

/// Makes `policy` the permissions boundary `team-boundary` of `web-execution`.
fn set_boundary(scene: &Env, policy: &Value) {
    scene
        .block_on(
            scene
                .iam
                .create_policy()
                .policy_name("team-boundary")
                .policy_document(policy.to_string())
                .send(),
        )
        .unwrap();
    scene
        .block_on(
            scene
                .iam
                .put_role_permissions_boundary()
                .role_name("web-execution")
                .permissions_boundary("arn:aws:iam::123456789012:policy/team-boundary")
                .send(),
        )
        .unwrap();
}

pub fn allow_all(scene: &Keyed) -> Value {
    json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": scene.secret_arn },
        { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": scene.parameter_arn },
        { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": scene.key }
    ]})
}

pub fn check(scene: &Keyed) -> Output {
    scene.check(&[]).output()
}

#[test]
fn a_correct_setup_passes_without_reading_any_value() {
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    scene.record();
    let out = check(&scene).success();
    snapshot!("check_correct_setup", scene.dir.path(), out.stdout);
    let calls = scene.calls();
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

/// The report of `check` on a fresh scene after `cause` broke something; it must fail.
fn report_of(cause: impl FnOnce(&Keyed)) -> String {
    let scene = setup();
    cause(&scene);
    let out = check(&scene).failure(1);
    out.stderr_has("check failed:");
    out.stdout
}

/// Replaces `from` with `to` in the scene's template.
pub fn edit(scene: &Keyed, from: &str, to: &str) {
    let text = std::fs::read_to_string(&scene.template).unwrap();
    assert!(text.contains(from), "{from} not in the template");
    std::fs::write(&scene.template, text.replace(from, to)).unwrap();
}

#[test]
fn each_cause_in_the_troubleshooting_list_is_caught_with_role_action_resource_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let snap = |name: &str, report: String| {
        snapshot!(format!("check_cause_{name}"), dir.path(), report);
    };
    snap("no_policy", report_of(|_| {}));
    snap(
        "policy_on_the_task_role",
        report_of(|scene| inline(scene, "web-task", "read-secrets", &allow_all(scene))),
    );
    snap(
        "explicit_deny",
        report_of(|scene| {
            let all = json!({ "Version": "2012-10-17", "Statement": [
                { "Effect": "Allow", "Action": ["secretsmanager:*", "ssm:GetParameters", "kms:Decrypt"], "Resource": "*" }
            ]});
            inline(scene, "web-execution", "read-all", &all);
            let deny = json!({ "Version": "2012-10-17", "Statement": [
                { "Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:web/*" }
            ]});
            inline(scene, "web-execution", "deny-web", &deny);
        }),
    );
    snap(
        "no_kms_permission",
        report_of(|scene| {
            let mut policy = allow_all(scene);
            policy["Statement"].as_array_mut().unwrap().pop();
            inline(scene, "web-execution", "no-kms", &policy);
        }),
    );
    snap(
        "key_gone",
        report_of(|scene| {
            inline(scene, "web-execution", "read-secrets", &allow_all(scene));
            let gone =
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
            let update = scene
                .sm
                .update_secret()
                .secret_id(&scene.secret_arn)
                .kms_key_id(gone);
            scene.block_on(update.send()).unwrap();
        }),
    );
    snap(
        "wrong_arn_and_untrusted_role",
        report_of(|scene| {
            let trust = scene
                .iam
                .update_assume_role_policy()
                .role_name("web-execution")
                .policy_document(TRUST.replace("ecs-tasks", "ec2"));
            scene.block_on(trust.send()).unwrap();
            edit(
                scene,
                "{{secretsmanager-arn:web/db:password}}",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/typo-AbCdEf",
            );
        }),
    );
    snap(
        "no_execution_role",
        report_of(|scene| {
            edit(
                scene,
                r#""executionRoleArn": "arn:aws:iam::123456789012:role/web-execution","#,
                "",
            );
        }),
    );
}

#[test]
fn findings_point_into_the_template_as_annotations_and_in_the_json_report() {
    let scene = setup();
    scene
        .block_on(
            scene
                .iam
                .update_assume_role_policy()
                .role_name("web-execution")
                .policy_document(TRUST.replace("ecs-tasks", "ec2"))
                .send(),
        )
        .unwrap();
    let out = scene
        .run(["check", "--task-definition", &scene.template])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", scene.dir.path().to_str().unwrap())
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

    let out = scene
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
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    // The boundary lets the role read parameters and decrypt, not read secrets.
    let boundary = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": ["ssm:GetParameters", "kms:Decrypt"], "Resource": "*" }
    ]});
    set_boundary(&scene, &boundary);
    let out = check(&scene).failure(1);
    out.stdout_has(&format!(
            "[fail] `web-execution` may not `secretsmanager:GetSecretValue` on `{}`: its policies allow it, its permissions boundary `team-boundary` does not",
            scene.secret_arn
        ));
    out.stdout_has("fix: add to the permissions boundary `team-boundary` of role `web-execution`");
    out.stderr_has("check failed: 1 problem ");
    out.stdout_has("[skip] not evaluated: conditions on keys not known before the task starts, SCPs, KMS grants\n");

    // A boundary that cannot be read is said to be unread, not taken as allowing everything.
    scene
        .block_on(
            scene
                .iam
                .put_role_permissions_boundary()
                .role_name("web-execution")
                .permissions_boundary("arn:aws:iam::123456789012:policy/gone")
                .send(),
        )
        .unwrap();
    let out = check(&scene).success();
    out.stdout_has("[skip] permissions boundary `arn:aws:iam::123456789012:policy/gone` cannot be read: NoSuchEntity");
    out.stdout_has("not evaluated: conditions on keys not known before the task starts, the permissions boundary, SCPs");
}

#[test]
fn a_key_policy_that_leaves_the_role_out_is_caught_and_one_that_names_it_is_enough() {
    let scene = Env::new();
    let (key, secret_arn, template) = alias_scene(&scene);
    let template = template.to_str().unwrap();
    let parameter_arn = Env::parameter_arn("/web/api-key");
    // The role's own policies allow everything it needs, kms:Decrypt included.
    inline(
        &scene,
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
        scene
            .block_on(
                scene
                    .kms
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
    let out = scene
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
        &scene,
        "web-execution",
        "read-secrets",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn },
            { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn }
        ]}),
    );
    let out = scene
        .run(["check", "--task-definition", template])
        .output()
        .success();
    out.stdout_has(&format!(
        "[ok]   `web-execution` may `kms:Decrypt` on `{key}` (its key policy names the role)"
    ));

    // The account's IAM policies may grant it, and the key policy grants the role only through
    // Parameter Store: the condition is evaluated, so the parameter's decryption passes and the
    // secret's (through Secrets Manager) fails, as in AWS.
    let root = json!({ "Sid": "Enable IAM User Permissions", "Effect": "Allow", "Action": "kms:*",
        "Resource": "*", "Principal": { "AWS": "arn:aws:iam::123456789012:root" } });
    let granted = |condition: Value| {
        let via = json!({ "Sid": "Scoped", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
            "Principal": { "AWS": "arn:aws:iam::123456789012:role/web-execution" },
            "Condition": condition });
        let policy = json!({ "Version": "2012-10-17", "Statement": [root.clone(), via] });
        scene
            .block_on(
                scene
                    .kms
                    .put_key_policy()
                    .key_id(&key)
                    .policy_name("default")
                    .policy(policy.to_string())
                    .send(),
            )
            .unwrap();
        scene.run(["check", "--task-definition", template]).output()
    };
    let out =
        granted(json!({ "StringEquals": { "kms:ViaService": "ssm.us-east-1.amazonaws.com" } }))
            .failure(1);
    let decrypt = format!("`web-execution` may not `kms:Decrypt` on `{key}`");
    assert_eq!(out.stdout.matches(&decrypt).count(), 1, "{out}");
    out.stdout_has(&format!(
        "[ok]   `web-execution` may `kms:Decrypt` on `{key}` (its key policy names the role)"
    ));
    // A condition on what is not known before the task starts: a warning, not a failure.
    let out = granted(json!({ "StringEquals": { "aws:SourceVpce": "vpce-1a2b3c" } })).success();
    out.stdout_has(&format!("[warn] `web-execution` may `kms:Decrypt` on `{key}` only if the condition on `aws:SourceVpce` of statement `Scoped` of its key policy holds, which is not known before the task starts"));
}

#[test]
fn a_secret_resource_policy_can_deny_the_role_or_be_enough_on_its_own() {
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    let resource_policy = |statement: Value| {
        let policy = json!({ "Version": "2012-10-17", "Statement": [statement] });
        scene
            .block_on(
                scene
                    .sm
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
    let out = check(&scene).failure(1);
    out.stdout_has("[fail] the secret's resource policy denies `web-execution` `secretsmanager:GetSecretValue` (statement `OnlyTheApp`)");
    out.stderr_has("check failed: 1 problem ");

    // In its own account, a resource policy that names the role is enough.
    resource_policy(
        json!({ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": "*", "Principal": { "AWS": role_arn } }),
    );
    let mut policy = allow_all(&scene);
    policy["Statement"].as_array_mut().unwrap().remove(0);
    inline(&scene, "web-execution", "read-secrets", &policy);
    let out = check(&scene).success();
    out.stdout_has(&format!(
            "[ok]   `web-execution` may `secretsmanager:GetSecretValue` on `{}` (the secret's resource policy names the role)",
            scene.secret_arn
        ));
}

#[test]
fn an_execution_role_given_by_name_is_checked_like_one_given_by_arn() {
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    let text = std::fs::read_to_string(&scene.template).unwrap().replace(
        "arn:aws:iam::123456789012:role/web-execution",
        "web-execution",
    );
    std::fs::write(&scene.template, text).unwrap();
    let out = check(&scene).success();
    out.stdout_has(&format!(
        "`web-execution` may `ssm:GetParameters` on `{}`",
        scene.parameter_arn
    ));
    // The deployer's preflight policy names the role by its ARN, as IAM requires.
    let out = scene
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
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    let text = std::fs::read_to_string(&scene.template).unwrap().replace(
        "iam::123456789012:role/web-execution",
        "iam::210987654321:role/web-execution",
    );
    std::fs::write(&scene.template, text).unwrap();
    let out = check(&scene).failure(1);
    out.stdout_has("[fail] execution role `arn:aws:iam::210987654321:role/web-execution` is not in the account of this run's credentials (which has `arn:aws:iam::123456789012:role/web-execution`)");
    assert!(
        !out.stdout.contains("may `"),
        "no verdict on another role:\n{out}"
    );
}

/// A customer managed key behind `alias/web-secrets`, a secret and a SecureString parameter
/// encrypted under the alias, the execution role (no permissions), and a template for both.
/// Returns the key ARN, the secret ARN and the template.
fn alias_scene(scene: &Env) -> (String, String, std::path::PathBuf) {
    let key = scene
        .block_on(scene.kms.create_key().send())
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    scene
        .block_on(
            scene
                .kms
                .create_alias()
                .alias_name("alias/web-secrets")
                .target_key_id(&key)
                .send(),
        )
        .unwrap();
    let secret_arn = scene
        .block_on(
            scene
                .sm
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
    scene
        .block_on(
            scene
                .ssm
                .put_parameter()
                .name("/web/api-key")
                .value("alias-canary-api-key")
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .key_id("alias/web-secrets")
                .send(),
        )
        .unwrap();
    scene.task_role("web-execution");
    let template = scene.file(
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
    let scene = Env::new();
    let (key, secret_arn, template) = alias_scene(&scene);
    let template = template.to_str().unwrap();
    let parameter_arn = Env::parameter_arn("/web/api-key");
    inline(
        &scene,
        "web-execution",
        "read-secrets",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn },
            { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn }
        ]}),
    );
    scene.record();
    let out = scene
        .run(["check", "--task-definition", template])
        .output()
        .failure(1);
    // Both references name the key behind the alias; the alias is looked up once.
    let missing = format!("[fail] `web-execution` may not `kms:Decrypt` on `{key}`");
    assert_eq!(out.stdout.matches(&missing).count(), 2, "{out}");
    out.stderr_has("check failed: 2 problems");
    assert_eq!(count(&scene.calls(), "DescribeKey"), 1);

    inline(
        &scene,
        "web-execution",
        "decrypt",
        &json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key }
        ]}),
    );
    let out = scene
        .run(["check", "--task-definition", template])
        .output()
        .success();
    out.stdout_has(&format!(
        "`web-execution` may `kms:Decrypt` on `{key}` (policy `decrypt`)"
    ));

    // The deployer that runs the preflight may make each of its read calls.
    let out = scene
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
    let scene = Env::new();
    let eu = aws_sdk_ssm::Client::from_conf(
        scene
            .ssm
            .config()
            .to_builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build(),
    );
    scene
        .block_on(
            eu.put_parameter()
                .name("/web/api-key")
                .value("region-canary")
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .send(),
        )
        .unwrap();
    scene.task_role("web-execution");
    let text = r#"{"family": "web", "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [{ "name": "web", "image": "web:1", "memory": 128,
    "logConfiguration": { "logDriver": "awslogs", "options": { "awslogs-region": "eu-west-1",
      "awslogs-group": "web", "awslogs-stream-prefix": "web" } },
    "secrets": [ { "name": "API_KEY", "valueFrom": "/web/api-key" } ] }]}"#;
    let template = scene.file("web.json", text);
    let out = scene
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
    let out = scene
        .run(["check", "--task-definition", template.to_str().unwrap()])
        .output();
    out.stdout_has(&format!("[ok]   the parameter exists ({arn})"));
}

#[test]
fn the_printed_policy_attached_to_a_fresh_role_makes_check_pass() {
    let scene = setup();
    let out = scene
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
        !deployer.contains("ecs:RunTask"),
        "no one-off task asked for: {deployer}"
    );
    assert!(
        deployer.contains("ecs:DescribeServiceDeployments"),
        "the roll-out follows the service deployment: {deployer}"
    );
    let with_task = scene
        .run([
            "policy",
            "--task-definition",
            &scene.template,
            "--cluster",
            "prod",
            "--run-task",
        ])
        .output()
        .success();
    let with_task: Value = serde_json::from_str(&with_task.stdout).unwrap();
    let with_task = with_task["deployer"].to_string();
    assert!(with_task.contains("ecs:RunTask"), "{with_task}");
    assert!(with_task.contains("task/prod/*"), "{with_task}");
    assert!(
        !deployer.contains("secretsmanager:GetSecretValue"),
        "-arn references need no value read:\n{deployer}"
    );
    let execution = &policies["execution-role"];
    assert!(
        execution.to_string().contains("kms:ViaService"),
        "{execution}"
    );

    scene.task_role("fresh-execution");
    scene
        .block_on(
            scene
                .iam
                .create_policy()
                .policy_name("ecs-secrets-generated")
                .policy_document(execution.to_string())
                .send(),
        )
        .unwrap();
    scene
        .block_on(
            scene
                .iam
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
    // kms:Decrypt is allowed through the `kms:ViaService` condition of each key's statement,
    // which the check evaluates: nothing is left to warn about.
    let out = check(&scene).success();
    out.stdout_has(&format!(
        "[ok]   `fresh-execution` may `kms:Decrypt` on `{}` (policy `ecs-secrets-generated`)",
        scene.key
    ));
    out.stdout_has("0 warning(s), 0 failed");
}

#[test]
fn preflight_refuses_to_register_when_the_role_cannot_read_a_secret() {
    let scene = setup();
    scene.record();
    let out = scene
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
    assert_eq!(count(&scene.calls(), "RegisterTaskDefinition"), 0);

    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    let out = scene
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
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    // The worker shares the web's references; its own role may read none of them.
    scene.task_role("worker-execution");
    let worker = scene.file(
        "worker.json",
        &std::fs::read_to_string(&scene.template)
            .unwrap()
            .replace(r#""family": "web""#, r#""family": "worker""#)
            .replace("role/web-execution", "role/worker-execution"),
    );
    // The api shares the web's role: read once for both.
    let api = scene.file(
        "api.json",
        &std::fs::read_to_string(&scene.template)
            .unwrap()
            .replace(r#""family": "web""#, r#""family": "api""#),
    );
    let manifest = scene.file(
        "services.yml",
        &format!(
            "services:\n  - task-definition: {}\n  - task-definition: {}\n  - task-definition: {}\n",
            scene.template,
            worker.display(),
            api.display()
        ),
    );
    let manifest = manifest.to_str().unwrap();
    scene.record();
    let out = scene
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
    let calls = scene.calls();
    assert_eq!(
        count(&calls, "GetSecretValue") + count(&calls, "BatchGetSecretValue"),
        0
    );
    assert_eq!(
        count(&calls, "GetRole"),
        2,
        "one read for each distinct role"
    );

    let out = scene
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
    let out = scene
        .run(["render", "--manifest", manifest])
        .output()
        .failure(2);
    out.stderr_has("input `manifest` applies to `deploy` and `check`, not `render`");
}

#[test]
fn iams_own_simulator_answers_where_it_is_available() {
    let scene = setup();
    // The role has no policy at first: only the simulator's answers can make these pass or fail.
    let iam = crate::support::iam::simulator(
        scene.port,
        &[
            ("secretsmanager:GetSecretValue", "allowed"),
            ("ssm:GetParameters", "outsideBoundary"),
            ("kms:Decrypt", "explicitDeny"),
        ],
    );
    set_boundary(&scene, &allow_all(&scene));
    let out = scene
        .run(["check", "--task-definition", &scene.template])
        .env("AWS_ENDPOINT_URL_IAM", iam.url())
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
        "[skip] not evaluated: conditions of key policies and secret resource policies on keys not known before the task starts, KMS grants",
    );

    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    let out = scene
        .run(["check", "--task-definition", &scene.template])
        .env("AWS_ENDPOINT_URL_IAM", iam.url())
        .output()
        .failure(1);
    out.stdout_has(&format!(
            "[fail] `web-execution` may not `ssm:GetParameters` on `{}`: its policies allow it, its permissions boundary `team-boundary` does not",
            scene.parameter_arn
        ));
}

#[test]
fn read_values_checks_json_keys_and_masks_what_it_reads() {
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    let out = scene
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
    let out = scene
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
