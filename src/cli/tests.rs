use std::path::PathBuf;

use super::*;
use crate::command::deploy::Deploy;
use crate::prepare::Templates;

fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, Error> {
    let args = std::iter::once("ecs-secrets")
        .chain(args.iter().copied())
        .map(OsString::from);
    let env = env
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
    match parse(args, env)? {
        Parsed::Run(invocation) => Ok(invocation.command),
        Parsed::Print(text) => panic!("unexpected print: {text}"),
    }
}

fn deploy(args: &[&str], env: &[(&str, &str)]) -> Result<Deploy, Error> {
    match run(&[&["deploy"], args].concat(), env)? {
        Command::Deploy(deploy) => Ok(*deploy),
        _ => panic!("not a deploy"),
    }
}

#[test]
fn refuses_sdk_body_logging() {
    let err = deploy(
        &["--task-definition=a.json"],
        &[("LOG_SENSITIVE_BODIES", "true")],
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("`LOG_SENSITIVE_BODIES` is set"),
        "{err}"
    );
}

#[test]
fn reads_github_hyphenated_and_underscored_and_ecs_secrets_names() {
    let deploy = deploy(
        &[],
        &[
            ("INPUT_TASK-DEFINITION", "a.json"),
            ("INPUT_DRY_RUN", "true"),
            ("ECS_SECRETS_REGION", "eu-west-1"),
        ],
    )
    .unwrap();
    assert_eq!(
        deploy.definitions.templates,
        Templates::One(PathBuf::from("a.json"))
    );
    assert!(deploy.dry_run);
    assert_eq!(deploy.definitions.aws.region.as_deref(), Some("eu-west-1"));
    assert!(deploy.skip_unchanged, "default is true");
}

#[test]
fn flag_wins_over_environment_and_empty_means_unset() {
    let deploy = deploy(
        &["--task-definition", "flag.json", "--skip-unchanged=false"],
        &[
            ("INPUT_TASK-DEFINITION", "env.json"),
            ("INPUT_OUTPUT", ""),
            ("INPUT_ALLOW-PLAINTEXT-SECRETS", ""),
        ],
    )
    .unwrap();
    assert_eq!(
        deploy.definitions.templates,
        Templates::One(PathBuf::from("flag.json"))
    );
    assert!(!deploy.skip_unchanged);
    assert_eq!(deploy.output, None);
    assert!(!deploy.definitions.allow_plaintext_secrets);
}

#[test]
fn command_can_come_from_the_environment() {
    let command = run(
        &[],
        &[
            ("INPUT_COMMAND", "render"),
            ("INPUT_TASK-DEFINITION", "a.json"),
        ],
    )
    .unwrap();
    assert!(matches!(command, Command::Render(_)));
}

#[test]
fn parses_images_and_assignment_lines_with_positions() {
    let deploy = deploy(
        &[
            "--task-definition=a.json",
            "--image",
            "web=repo/web:1",
            "--image",
            "sidecar=repo/side:2",
        ],
        &[(
            "INPUT_SECRETS",
            "# comment\nDB_PASSWORD={{secretsmanager-arn:prod/db:password}}\n  API_KEY = /app/key",
        )],
    )
    .unwrap();
    let overrides = &deploy.definitions.overrides;
    assert_eq!(overrides.images.len(), 2);
    assert_eq!(overrides.images[0].container.as_deref(), Some("web"));
    assert_eq!(overrides.secrets.len(), 2);
    assert_eq!(overrides.secrets[0].line, 2);
    assert_eq!(overrides.secrets[0].column, 13);
    assert_eq!(overrides.secrets[1].name, "API_KEY");
    assert_eq!(overrides.secrets[1].value, "/app/key");
    assert_eq!(overrides.secrets[1].column, 13);
}

#[test]
fn a_flag_the_command_does_not_use_is_refused_but_the_same_input_from_the_environment_is_ignored() {
    let err = run(
        &["render", "--task-definition=a.json", "--desired-count", "2"],
        &[],
    )
    .err()
    .unwrap();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "input `desired-count` applies to `deploy`, not `render`"
    );
    let err = run(&["export", "--secret-ids=x", "--dry-run"], &[])
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("input `dry-run` applies to `deploy`, not `export`"),
        "{err}"
    );
    let command = run(
        &["render", "--task-definition=a.json"],
        &[
            ("INPUT_DESIRED-COUNT", "2"),
            ("INPUT_WAIT-FOR-MINUTES", "0"),
        ],
    );
    assert!(matches!(command, Ok(Command::Render(_))));
}

#[test]
fn every_number_has_a_range() {
    for spec in INPUTS.iter().filter(|s| s.range.is_some()) {
        let variable = format!("INPUT_{}", spec.name.to_ascii_uppercase());
        let err = deploy(&["--task-definition=a.json"], &[(&variable, "1e9")])
            .err()
            .unwrap_or_else(|| panic!("`{}` takes any number", spec.name));
        assert_eq!(err.exit_code(), 2, "{}: {err}", spec.name);
    }
    for (name, value) in [
        ("poll-interval", "0"),
        ("wait-for-minutes", "0"),
        ("max-attempts", "2.5"),
        ("max-concurrency", "0"),
        ("keep-revisions", "0"),
        ("desired-count", "x"),
    ] {
        let err = deploy(
            &["--task-definition=a.json", &format!("--{name}={value}")],
            &[],
        )
        .err()
        .unwrap();
        assert!(
            err.to_string()
                .starts_with(&format!("input `{name}`: `{value}` is")),
            "{err}"
        );
        assert!(err.to_string().contains("expected"), "{err}");
    }
    let deploy = deploy(
        &[
            "--task-definition=a.json",
            "--poll-interval=0.5",
            "--desired-count=0",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(deploy.rollout.desired_count, Some(0));
}

#[test]
fn a_manifest_and_a_template_are_not_given_together() {
    let err = deploy(&["--task-definition=a.json", "--manifest=m.yaml"], &[])
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("`task-definition` and `manifest`"),
        "{err}"
    );
    let err = deploy(&["--manifest=m.yaml", "--output=x.json"], &[])
        .err()
        .unwrap();
    assert!(err.to_string().contains("input `output`"), "{err}");
}

#[test]
fn rejects_bad_booleans_and_missing_template() {
    let err = deploy(&["--task-definition=a", "--dry-run=maybe"], &[])
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("`maybe` is not a boolean"),
        "{err}"
    );
    let err = deploy(&[], &[]).err().unwrap();
    assert!(err.to_string().contains("`task-definition` is required"));
    assert_eq!(err.exit_code(), 2);
}
