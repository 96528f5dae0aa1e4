//! `check` never says OK where ECS would fail: trust policies evaluated like policies (Denies,
//! `NotAction`, the conditions ECS sets), the execution role's ARN, the key's state, policy
//! variables, ARN wildcards segment by segment, and what `policy` does with references it
//! cannot find. Against the emulator, where the local evaluator answers (moto has no
//! simulator).

use serde_json::{Value, json};

use crate::check::{Keyed, allow_all, check, edit, inline, setup};
use crate::support::{ECS_TASKS_TRUST, Output, count};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/web-execution";

/// Replaces the trust policy of `web-execution` with these statements.
fn trust(scene: &Keyed, statements: &Value) {
    let document = json!({ "Version": "2012-10-17", "Statement": statements });
    scene
        .block_on(
            scene
                .iam
                .update_assume_role_policy()
                .role_name("web-execution")
                .policy_document(document.to_string())
                .send(),
        )
        .unwrap();
}

/// The trust statement for ECS tasks, with `condition`.
fn ecs_tasks_if(condition: &Value) -> Value {
    json!({ "Sid": "Scoped", "Effect": "Allow",
        "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole",
        "Condition": condition })
}

fn ready() -> Keyed {
    let scene = setup();
    inline(&scene, "web-execution", "read-secrets", &allow_all(&scene));
    scene
}

#[test]
fn a_trust_policy_scoped_to_another_account_or_region_fails_and_to_this_one_passes() {
    let scene = ready();
    trust(
        &scene,
        &json!([ecs_tasks_if(
            &json!({ "StringEquals": { "aws:SourceAccount": "999999999999" } })
        )]),
    );
    let out = check(&scene).failure(1);
    out.stdout_has("[fail] execution role `web-execution` lets `ecs-tasks.amazonaws.com` assume it only under the condition on `aws:SourceAccount` of statement `Scoped`, which tasks of account 123456789012 in us-east-1 do not meet");
    out.stdout_has(r#""aws:SourceAccount":"123456789012""#);
    assert!(!out.stdout.contains("trusts `ecs-tasks"), "{out}");

    trust(
        &scene,
        &json!([ecs_tasks_if(
            &json!({ "ArnLike": { "aws:SourceArn": "arn:aws:ecs:eu-west-1:123456789012:*" } })
        )]),
    );
    check(&scene)
        .failure(1)
        .stdout_has("only under the condition on `aws:SourceArn` of statement `Scoped`");

    // What AWS recommends, for this account and Region: it passes.
    trust(
        &scene,
        &json!([ecs_tasks_if(&json!({
            "StringEquals": { "aws:SourceAccount": "123456789012" },
            "ArnLike": { "aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:*" } }))]),
    );
    check(&scene).success().stdout_has(
        "[ok]   execution role `web-execution` exists and trusts `ecs-tasks.amazonaws.com`",
    );

    // A condition on what is not known before the task starts: a warning that names it.
    trust(
        &scene,
        &json!([ecs_tasks_if(
            &json!({ "StringEquals": { "sts:ExternalId": "abc" } })
        )]),
    );
    check(&scene).success().stdout_has("[warn] execution role `web-execution` lets `ecs-tasks.amazonaws.com` assume it only if the condition on `sts:ExternalId` of statement `Scoped` holds, which is not known before the task starts");
}

#[test]
fn a_deny_in_the_trust_policy_wins() {
    let scene = ready();
    let allow = json!({ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" },
        "Action": "sts:AssumeRole" });
    trust(
        &scene,
        &json!([allow, { "Sid": "NoTasks", "Effect": "Deny",
            "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }]),
    );
    let out = check(&scene).failure(1);
    out.stdout_has("[fail] the trust policy of execution role `web-execution` denies `ecs-tasks.amazonaws.com` `sts:AssumeRole` (statement `NoTasks`)");
    out.stdout_has("fix: remove or narrow statement `NoTasks` of the role's trust policy");

    trust(
        &scene,
        // (AWS takes `sts:*` here too; moto accepts only the assume actions in trust policies.)
        &json!([allow, { "Sid": "Nobody", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole" }]),
    );
    check(&scene).failure(1).stdout_has("(statement `Nobody`)");
}

#[test]
fn a_trust_policy_written_with_not_action_trusts_ecs_tasks() {
    // moto refuses trust policies without `Action`: IAM's answer for the role is scripted.
    let scene = ready();
    let with = |statements: Value| {
        let document = json!({ "Version": "2012-10-17", "Statement": statements });
        let iam =
            crate::support::iam::trust_policy(scene.port, "web-execution", document.to_string());
        scene
            .check(&[])
            .env("AWS_ENDPOINT_URL_IAM", iam.url())
            .output()
    };
    // Everything but tagging the session: assuming it too.
    with(
        json!([{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" },
        "NotAction": "sts:TagSession" }]),
    )
    .success()
    .stdout_has(
        "[ok]   execution role `web-execution` exists and trusts `ecs-tasks.amazonaws.com`",
    );
    // Everything but assuming it: not trusted.
    with(
        json!([{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" },
        "NotAction": "sts:AssumeRole" }]),
    )
    .failure(1)
    .stdout_has("does not let `ecs-tasks.amazonaws.com` assume it");
    // A Deny of everything, as `sts:*`, wins.
    with(json!([
        { "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" },
        { "Sid": "Nobody", "Effect": "Deny", "Principal": "*", "Action": "sts:*" }
    ]))
    .failure(1)
    .stdout_has("(statement `Nobody`)");
}

/// The check of the scene with `executionRoleArn` set to `arn`.
fn check_with_role(scene: &Keyed, arn: &str) -> Output {
    let text = std::fs::read_to_string(&scene.template).unwrap();
    let current = text
        .split("\"executionRoleArn\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    edit(scene, &current, arn);
    check(scene)
}

#[test]
fn an_execution_role_arn_must_name_a_role_of_the_tasks_partition_and_its_path() {
    let scene = ready();
    for (arn, problem) in [
        (
            "arn:aws:iam::123456789012:user/web-execution",
            "names the IAM user `web-execution`, not an IAM role: ECS assumes roles only",
        ),
        (
            "arn:aws:iam::123456789012:instance-profile/web-execution",
            "names the instance profile `web-execution`, not an IAM role",
        ),
        (
            "arn:aws-cn:iam::123456789012:role/web-execution",
            "is a role of partition `aws-cn`, and the task runs in us-east-1, partition `aws`: ECS there cannot assume it",
        ),
        (
            "arn:aws:iam::123456789012:role/team/web-execution",
            "execution role `web-execution` has the path `/` (its ARN is `arn:aws:iam::123456789012:role/web-execution`), and `executionRoleArn` names the path `/team/`",
        ),
    ] {
        let out = check_with_role(&scene, arn).failure(1);
        out.stdout_has(problem);
        assert!(!out.stdout.contains("trusts `ecs-tasks"), "{arn}: {out}");
    }

    // A role with a path, named with it, is the role ECS assumes.
    scene
        .block_on(
            scene
                .iam
                .create_role()
                .role_name("svc-execution")
                .path("/svc/")
                .assume_role_policy_document(ECS_TASKS_TRUST)
                .send(),
        )
        .unwrap();
    inline(&scene, "svc-execution", "read-secrets", &allow_all(&scene));
    check_with_role(&scene, "arn:aws:iam::123456789012:role/svc/svc-execution").success();
    check_with_role(&scene, "arn:aws:iam::123456789012:role/svc-execution")
        .failure(1)
        .stdout_has("has the path `/svc/`");
}

#[test]
fn a_disabled_key_or_one_pending_deletion_fails_with_the_fix() {
    let scene = ready();
    let key = scene.key.clone();
    // moto's state changes take the key id, not its ARN.
    let id = key.rsplit('/').next().unwrap().to_owned();
    scene
        .block_on(scene.kms.disable_key().key_id(&id).send())
        .unwrap();
    scene.record();
    let out = check(&scene).failure(1);
    out.stdout_has(&format!(
        "[fail] the key `{key}` that encrypts it is disabled: ECS cannot decrypt with it when a task starts"
    ));
    out.stdout_has(&format!(
        "fix: enable the key: `aws kms enable-key --key-id {key} --region us-east-1`"
    ));
    assert_eq!(
        count(&scene.calls(), "DescribeKey"),
        1,
        "the key described once"
    );

    scene
        .block_on(scene.kms.enable_key().key_id(&id).send())
        .unwrap();
    scene
        .block_on(
            scene
                .kms
                .schedule_key_deletion()
                .key_id(&id)
                .pending_window_in_days(7)
                .send(),
        )
        .unwrap();
    let out = check(&scene).failure(1);
    out.stdout_has(&format!(
        "[fail] the key `{key}` that encrypts it is scheduled for deletion (`PendingDeletion`)"
    ));
    out.stdout_has("fix: cancel the deletion, then enable the key: `aws kms cancel-key-deletion");

    scene
        .block_on(scene.kms.cancel_key_deletion().key_id(&id).send())
        .unwrap();
    scene
        .block_on(scene.kms.enable_key().key_id(&id).send())
        .unwrap();
    check(&scene).success();

    // The deployer's preflight reads include the key's description.
    let out = scene.command("policy", &["--preflight"]).output().success();
    let policies: Value = serde_json::from_str(&out.stdout).unwrap();
    let describe = policies["deployer"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"] == "kms:DescribeKey")
        .unwrap_or_else(|| panic!("no kms:DescribeKey in {policies:#}"))
        .clone();
    assert_eq!(describe["Resource"], json!([key]));
}

fn tag(scene: &Keyed, app: &str) {
    let tag = aws_sdk_iam::types::Tag::builder()
        .key("app")
        .value(app)
        .build()
        .unwrap();
    scene
        .block_on(
            scene
                .iam
                .tag_role()
                .role_name("web-execution")
                .tags(tag)
                .send(),
        )
        .unwrap();
}

#[test]
fn policy_variables_are_substituted_from_the_roles_tags_and_account() {
    let scene = setup();
    tag(&scene, "web");
    let by_tag = |resource: &str| {
        json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": resource },
            { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": scene.parameter_arn },
            { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": scene.key }
        ]})
    };
    let tagged =
        "arn:aws:secretsmanager:us-east-1:${aws:PrincipalAccount}:secret:${aws:PrincipalTag/app}/*";
    inline(&scene, "web-execution", "by-tag", &by_tag(tagged));
    check(&scene).success().stdout_has(&format!(
        "[ok]   `web-execution` may `secretsmanager:GetSecretValue` on `{}` (policy `by-tag`)",
        scene.secret_arn
    ));

    // Another tag, another secret: the Allow no longer covers it.
    tag(&scene, "api");
    check(&scene).failure(1).stdout_has(&format!(
        "[fail] `web-execution` may not `secretsmanager:GetSecretValue` on `{}`",
        scene.secret_arn
    ));

    // A Deny on the tag's secrets denies.
    tag(&scene, "web");
    inline(&scene, "web-execution", "by-tag", &allow_all(&scene));
    let deny = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Deny", "Action": "secretsmanager:GetSecretValue",
          "Resource": "arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/app}/*" }]});
    inline(&scene, "web-execution", "deny-by-tag", &deny);
    check(&scene).failure(1).stdout_has(&format!(
        "[fail] `web-execution` is denied `secretsmanager:GetSecretValue` on `{}` by policy `deny-by-tag`",
        scene.secret_arn
    ));

    // A variable whose value is not known before the task starts: a warning naming it.
    scene
        .block_on(
            scene
                .iam
                .delete_role_policy()
                .role_name("web-execution")
                .policy_name("deny-by-tag")
                .send(),
        )
        .unwrap();
    inline(
        &scene,
        "web-execution",
        "by-tag",
        &by_tag("arn:aws:secretsmanager:*:*:secret:${aws:SourceVpce}/*"),
    );
    check(&scene).success().stdout_has(&format!(
        "[warn] `web-execution` may `secretsmanager:GetSecretValue` on `{}` only if the condition on `aws:SourceVpce` in policy `by-tag` holds",
        scene.secret_arn
    ));
}

#[test]
fn a_wildcard_inside_an_arn_segment_does_not_reach_across_a_colon() {
    // `*2` is a Region ending in 2, not `us-east-1:123456789012`.
    let pattern = "arn:aws:secretsmanager:*2:secret:web/*";
    let scene = setup();
    let mut policy = allow_all(&scene);
    policy["Statement"][0]["Resource"] = json!(pattern);
    inline(&scene, "web-execution", "read-secrets", &policy);
    check(&scene).failure(1).stdout_has(&format!(
        "[fail] `web-execution` may not `secretsmanager:GetSecretValue` on `{}`",
        scene.secret_arn
    ));

    // Nor does a Deny written that way deny this secret.
    drop(scene);
    let scene = ready();
    let deny = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": pattern }]});
    inline(&scene, "web-execution", "deny", &deny);
    check(&scene).success();
}

fn secret_policy(scene: &Keyed, statement: &Value) {
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
}

#[test]
fn a_not_principal_deny_says_what_it_does() {
    let scene = ready();
    secret_policy(
        &scene,
        &json!({ "Sid": "OnlyAdmin", "Effect": "Deny",
            "NotPrincipal": { "AWS": "arn:aws:iam::123456789012:role/admin" },
            "Action": "secretsmanager:GetSecretValue", "Resource": "*" }),
    );
    let out = check(&scene).failure(1);
    out.stdout_has("[fail] the secret's resource policy denies `secretsmanager:GetSecretValue` to every principal its `NotPrincipal` does not list, and it does not list `web-execution` (statement `OnlyAdmin`)");
    assert!(!out.stdout.contains("under conditions"), "{out}");

    // Listing the role and its account still leaves its sessions, which ECS names per task.
    secret_policy(
        &scene,
        &json!({ "Sid": "OnlyUs", "Effect": "Deny",
            "NotPrincipal": { "AWS": [ROLE_ARN, "arn:aws:iam::123456789012:root"] },
            "Action": "secretsmanager:GetSecretValue", "Resource": "*" }),
    );
    check(&scene).success().stdout_has("[warn] statement `OnlyUs` of the secret's resource policy denies `secretsmanager:GetSecretValue` to every principal its `NotPrincipal` does not list; it lists `web-execution` or its account but no session of the role");
}

#[test]
fn a_partial_arn_warning_names_both_forms_a_policy_may_use() {
    let scene = ready();
    edit(
        &scene,
        "{{secretsmanager-arn:web/db:password}}",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db:password::",
    );
    check(&scene).success().stdout_has(
        "looks like a partial ARN (no 6-character suffix): a policy that grants it must name it as `arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-??????` or by its exact full ARN (with the suffix)",
    );
}

#[test]
fn policy_names_the_references_it_cannot_find_and_fails() {
    let scene = ready();
    edit(
        &scene,
        "{{secretsmanager-arn:web/db:password}}",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/typo-AbCdEf",
    );
    edit(
        &scene,
        "{{ssm-arn:/web/api-key}}",
        "arn:aws:ssm:us-east-1:123456789012:parameter/web/gone",
    );
    let out = scene.command("policy", &[]).output().failure(1);
    out.stderr_has("the policy printed cannot make 2 references readable (a secret, parameter or key that does not exist, or that this run could not read)");
    out.stderr_has("containerDefinitions[0].secrets[0].valueFrom `DB_PASSWORD`: arn:aws:secretsmanager:us-east-1:123456789012:secret:web/typo-AbCdEf");
    out.stderr_has("containerDefinitions[0].secrets[1].valueFrom `API_KEY`: arn:aws:ssm:us-east-1:123456789012:parameter/web/gone");
    let policies: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        policies["missing"].as_array().unwrap().len(),
        2,
        "{policies:#}"
    );

    // With every reference found, there is no `missing` and it succeeds.
    drop(scene);
    let scene = ready();
    let out = scene.command("policy", &[]).output().success();
    let policies: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(policies.get("missing").is_none(), "{policies:#}");
}

#[test]
fn policy_grants_each_key_only_through_the_services_that_use_it() {
    let scene = ready();
    // The parameter gets a key of its own.
    let parameter_key = scene
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
                .ssm
                .put_parameter()
                .name("/web/api-key")
                .value("check-canary-api-key")
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .key_id(&parameter_key)
                .overwrite(true)
                .send(),
        )
        .unwrap();
    let out = scene.command("policy", &[]).output().success();
    let policies: Value = serde_json::from_str(&out.stdout).unwrap();
    let statements = policies["execution-role"]["Statement"].as_array().unwrap();
    let via = |key: &str| {
        statements
            .iter()
            .find(|s| s["Action"] == "kms:Decrypt" && s["Resource"] == json!([key]))
            .unwrap_or_else(|| panic!("no statement for {key} alone in {policies:#}"))["Condition"]
            ["StringEquals"]["kms:ViaService"]
            .clone()
    };
    assert_eq!(
        via(&scene.key),
        json!(["secretsmanager.us-east-1.amazonaws.com"])
    );
    assert_eq!(via(&parameter_key), json!(["ssm.us-east-1.amazonaws.com"]));
}

#[test]
fn a_grant_by_resource_tag_is_proven_or_refused_with_the_tag_it_needs() {
    // As AWS Copilot grants it: the secret's and the parameter's tag must equal the role's.
    let scene = setup();
    tag(&scene, "web");
    let tagged = |key: &str, value: &str| {
        aws_sdk_secretsmanager::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
    };
    scene
        .block_on(
            scene
                .sm
                .tag_resource()
                .secret_id(&scene.secret_arn)
                .tags(tagged("app", "web"))
                .send(),
        )
        .unwrap();
    let parameter_tag = aws_sdk_ssm::types::Tag::builder()
        .key("app")
        .value("web")
        .build()
        .unwrap();
    scene
        .block_on(
            scene
                .ssm
                .add_tags_to_resource()
                .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                .resource_id("/web/api-key")
                .tags(parameter_tag)
                .send(),
        )
        .unwrap();
    let by_tag = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
          "Condition": { "StringEquals": { "secretsmanager:ResourceTag/app": "${aws:PrincipalTag/app}" } } },
        { "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "*",
          "Condition": { "StringEquals": { "ssm:resourceTag/app": "${aws:PrincipalTag/app}" } } },
        { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": scene.key }
    ]});
    inline(&scene, "web-execution", "by-tag", &by_tag);
    scene.record();
    let out = check(&scene).success();
    out.stdout_has(&format!(
        "[ok]   `web-execution` may `secretsmanager:GetSecretValue` on `{}` (policy `by-tag`)",
        scene.secret_arn
    ));
    out.stdout_has(&format!(
        "[ok]   `web-execution` may `ssm:GetParameters` on `{}` (policy `by-tag`)",
        scene.parameter_arn
    ));
    out.stdout_has("0 warning(s), 0 failed");
    assert_eq!(
        count(&scene.calls(), "ListTagsForResource"),
        1,
        "the parameter's tags read once; the secret's come with its description"
    );

    // The secret loses its tag: refused, naming the condition that no longer holds.
    scene
        .block_on(
            scene
                .sm
                .untag_resource()
                .secret_id(&scene.secret_arn)
                .tag_keys("app")
                .send(),
        )
        .unwrap();
    check(&scene).failure(1).stdout_has(&format!(
        "[fail] `web-execution` may not `secretsmanager:GetSecretValue` on `{}`: the Allow in policy `by-tag` applies only if the condition on `secretsmanager:ResourceTag/app` holds, and for this request it does not",
        scene.secret_arn
    ));
}
