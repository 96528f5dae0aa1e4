//! `export`: values as variables, named as the get-secrets action names them, fetched in batches,
//! written only where asked.

use crate::support::{Env, count, mode};

fn seed(env: &Env) {
    env.secret("test/secret", "plain-export-canary");
    env.secret("1st-secret", "first-export-canary");
    env.secret(
        "json/app",
        r#"{"api_user":"user-export-canary","config":{"active":true}}"#,
    );
    env.secret("pre/a", "prefix-a-canary");
    env.secret("pre/b", "prefix-b-canary");
    env.parameter("/app/prod/db/host", "db.internal", false);
    env.parameter("/app/prod/token", "token-export-canary", true);
    env.parameter("/single", "single-export-canary", true);
}

#[test]
fn exports_names_like_the_get_secrets_action_in_batches_to_a_private_file() {
    let env = Env::new();
    seed(&env);
    env.record();
    let file = env.dir.path().join("secrets.env");
    let out = env
        .run([
            "export",
            "--secret-ids",
            "test/secret\n1st-secret\nMY_ALIAS,test/secret\njson/app\npre/*\nssm:/app/prod/\nssm:/single",
            "--parse-json-secrets",
            "--env-file",
            file.to_str().unwrap(),
        ])
        .output()
        .success();
    let text = std::fs::read_to_string(&file).unwrap();
    let expected = [
        "TEST_SECRET='plain-export-canary'",
        "_1ST_SECRET='first-export-canary'",
        "MY_ALIAS='plain-export-canary'",
        "JSON_APP_API_USER='user-export-canary'",
        "JSON_APP_CONFIG_ACTIVE='true'",
        "PRE_A='prefix-a-canary'",
        "PRE_B='prefix-b-canary'",
        "APP_PROD_DB_HOST='db.internal'",
        "APP_PROD_TOKEN='token-export-canary'",
        "SINGLE='single-export-canary'",
    ];
    for line in expected {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert_eq!(text.lines().count(), expected.len(), "{text}");
    assert_eq!(mode(&file), 0o600);
    out.stderr_has("export: 10 variables: TEST_SECRET, _1ST_SECRET");
    assert!(
        !out.all().contains("canary"),
        "values never reach the log:\n{out}"
    );
    let calls = env.calls();
    assert_eq!(
        count(&calls, "BatchGetSecretValue"),
        1,
        "five secrets in one batch"
    );
    assert_eq!(count(&calls, "GetParameters"), 1);
    assert_eq!(count(&calls, "GetParametersByPath"), 1);
    assert_eq!(count(&calls, "ListSecrets"), 1);
}

#[test]
fn two_sources_for_one_name_is_an_error_not_an_overwrite() {
    let env = Env::new();
    env.secret("a/b", "one-canary");
    env.secret("a_b", "two-canary");
    let out = env
        .run(["export", "--secret-ids", "a/b\na_b", "--env-file", "x.env"])
        .output()
        .failure(2);
    out.stderr_has("`A_B` comes from both `a/b` and `a_b`");
    assert!(!env.dir.path().join("x.env").exists());
    let out = env
        .run(["export", "--secret-ids", "a/b"])
        .output()
        .failure(2);
    out.stderr_has("has nowhere to put the values");
}

#[test]
fn on_github_values_go_to_github_env_after_their_masks() {
    let env = Env::new();
    seed(&env);
    let github_env = env.dir.path().join("github_env");
    let out = env
        .run([
            "export",
            "--secret-ids",
            "test/secret\nssm:/single",
            "--name-transformation",
            "lowercase",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ENV", github_env.to_str().unwrap())
        .output()
        .success();
    let written = std::fs::read_to_string(&github_env).unwrap();
    assert!(written.contains("test_secret<<ghadelimiter_"), "{written}");
    assert!(written.contains("\nplain-export-canary\n"), "{written}");
    assert!(written.contains("\nsingle-export-canary\n"), "{written}");
    out.stderr_has("::add-mask::plain-export-canary");
    out.stderr_has("::add-mask::single-export-canary");
    assert!(!out.stdout.contains("canary"), "{out}");

    let out = env
        .run([
            "export",
            "--secret-ids",
            "test/secret",
            "--export-to-stdout",
        ])
        .output()
        .success();
    assert_eq!(
        out.stdout.trim(),
        "export TEST_SECRET='plain-export-canary'"
    );
}
