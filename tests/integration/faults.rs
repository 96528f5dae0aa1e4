//! Resilience, shown with a fault-injecting HTTP proxy in front of the emulator (or of the
//! scripted ECS endpoint): throttling and 5xx are retried, access denied is not, an endless fault
//! ends within the deadline, a lost RegisterTaskDefinition answer leaves one revision, the rate
//! and concurrency bounds hold, and UpdateService only follows a successful registration.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::Env;
use crate::support::ecs::{self, Scenario, ScriptedEcs};
use crate::support::faults::{Fault, FaultProxy};

fn template(env: &Env) -> String {
    env.secret("web/db", r#"{"password":"fault-canary-password"}"#);
    env.secret("web/token", "fault-canary-token");
    env.parameter("/web/host", "db.internal", false);
    env.file(
        "web.json",
        r#"{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [
    { "name": "web", "image": "web:1", "memory": 128,
      "environment": [
        { "name": "HOST", "value": "{{ssm:/web/host}}" },
        { "name": "TOKEN", "value": "{{secretsmanager:web/token}}" }
      ],
      "secrets": [{ "name": "DB_PASSWORD", "valueFrom": "{{secretsmanager-arn:web/db:password}}" }] }
  ]
}"#,
    )
    .to_str()
    .unwrap()
    .to_owned()
}

fn revisions(env: &Env) -> usize {
    let listed = env.ecs_raw("ListTaskDefinitions", &json!({ "familyPrefix": "web" }));
    listed["taskDefinitionArns"].as_array().unwrap().len()
}

#[test]
fn throttling_and_5xx_are_retried_and_succeed() {
    let env = Env::new();
    let path = template(&env);
    let proxy = FaultProxy::start(env.port);
    proxy
        .inject("GetParameters", Fault::Throttle, 2)
        .inject("BatchGetSecretValue", Fault::Status(503), 1)
        .inject("ListSecrets", Fault::Reset, 1)
        .inject("RegisterTaskDefinition", Fault::Status(500), 1);
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &path,
            "--allow-plaintext-secrets",
        ])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .success();
    assert_eq!(out.report("task-definition-revision").as_deref(), Some("1"));
    assert_eq!(proxy.seen("GetParameters"), 3);
    assert_eq!(proxy.seen("BatchGetSecretValue"), 2);
    assert_eq!(proxy.seen("ListSecrets"), 2, "a lost connection is retried");
    assert_eq!(proxy.seen("DescribeSecret"), 0);
    assert_eq!(proxy.seen("RegisterTaskDefinition"), 2);
    assert_eq!(revisions(&env), 1);
    assert!(!out.all().contains("fault-canary"));
}

#[test]
fn access_denied_is_never_retried() {
    let env = Env::new();
    let path = template(&env);
    let proxy = FaultProxy::start(env.port);
    proxy.always("BatchGetSecretValue", Fault::AccessDenied);
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &path,
            "--allow-plaintext-secrets",
        ])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .failure(1);
    assert_eq!(proxy.seen("BatchGetSecretValue"), 1);
    out.stderr_has("AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/deployer/ci is not authorized");
    assert_eq!(proxy.seen("RegisterTaskDefinition"), 0);
}

#[test]
fn a_check_this_run_may_not_make_says_which_permission_it_lacks() {
    let env = Env::new();
    let path = template(&env);
    let secret_arn = env
        .block_on(env.sm.describe_secret().secret_id("web/db").send())
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    // A literal ARN and nothing else: the check's own DescribeSecret is the only one.
    let definition = json!({ "family": "web",
        "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
        "containerDefinitions": [{ "name": "web", "image": "web:1", "memory": 128,
            "secrets": [{ "name": "DB", "valueFrom": format!("{secret_arn}:password::") }] }] });
    std::fs::write(&path, definition.to_string()).unwrap();
    let proxy = FaultProxy::start(env.port);
    proxy.always("DescribeSecret", Fault::AccessDenied);
    let out = env
        .run(["check", "--task-definition", &path])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .failure(1);
    out.stdout_has("[fail] the secret cannot be described: AccessDeniedException");
    out.stdout_has("fix: allow the role that runs ecs-secrets secretsmanager:DescribeSecret on the secret (`ecs-secrets policy --preflight` lists every read the check makes)");

    // A resource policy this run may not read could grant the role what its own policies do
    // not: a warning that says so, not a failure.
    env.task_role("web-execution");
    let proxy = FaultProxy::start(env.port);
    proxy.always("GetResourcePolicy", Fault::AccessDenied);
    let out = env
        .run(["check", "--task-definition", &path])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .success();
    out.stdout_has(
        "fix: allow the role that runs ecs-secrets secretsmanager:GetResourcePolicy on the secret",
    );
    out.stdout_has(&format!("[warn] `web-execution` may not `secretsmanager:GetSecretValue` on `{secret_arn}` by its own policies, and the secret's resource policy, which was not read, may or may not grant it"));
}

#[test]
fn an_endless_fault_ends_within_the_deadline_with_a_clear_error() {
    let env = Env::new();
    let path = template(&env);
    let proxy = FaultProxy::start(env.port);
    proxy.always("GetParameters", Fault::Delay(Duration::from_secs(8)));
    let started = Instant::now();
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &path,
            "--allow-plaintext-secrets",
            "--aws-timeout",
            "1",
        ])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .failure(1);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    out.stderr_has("`{{ssm:/web/host}}`: the request timed out");

    let proxy = FaultProxy::start(env.port);
    proxy.always("BatchGetSecretValue", Fault::Status(500));
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &path,
            "--allow-plaintext-secrets",
            "--max-attempts",
            "3",
        ])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .failure(1);
    assert_eq!(proxy.seen("BatchGetSecretValue"), 3, "{out}");
}

#[test]
fn a_lost_register_answer_does_not_leave_two_revisions() {
    let env = Env::new();
    let path = template(&env);
    let proxy = FaultProxy::start(env.port);
    proxy.inject("RegisterTaskDefinition", Fault::LoseResponse, 1);
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &path,
            "--allow-plaintext-secrets",
        ])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .success();
    out.stderr_has("answer was lost");
    assert_eq!(out.report("task-definition-revision").as_deref(), Some("1"));
    assert_eq!(
        proxy.seen("RegisterTaskDefinition"),
        1,
        "no second registration"
    );
    assert_eq!(revisions(&env), 1);
}

#[test]
fn concurrency_and_request_rate_stay_within_their_bounds() {
    let env = Env::new();
    // 160 parameters: 16 GetParameters calls, paced; 30 secrets: 3 ListSecrets calls, not.
    let mut secrets = Vec::new();
    for i in 0..160 {
        env.parameter(&format!("/rate/p{i}"), "rate-value", false);
        secrets.push(
            json!({ "name": format!("P{i}"), "valueFrom": format!("{{{{ssm-arn:/rate/p{i}}}}}") }),
        );
    }
    for i in 0..30 {
        env.secret(&format!("rate/s{i}"), "rate-canary-value");
        secrets.push(json!({ "name": format!("S{i}"), "valueFrom": format!("{{{{secretsmanager-arn:rate/s{i}}}}}") }));
    }
    let path = env.file(
        "rate.json",
        &json!({ "family": "rate", "containerDefinitions": [{ "name": "a", "image": "a", "memory": 32, "secrets": secrets }] }).to_string(),
    );
    let proxy = FaultProxy::start(env.port);
    let started = Instant::now();
    env.run([
        "render",
        "--task-definition",
        path.to_str().unwrap(),
        "--output",
        "rate.out.json",
        "--max-concurrency",
        "3",
        "--max-requests-per-second",
        "6",
    ])
    .env("AWS_ENDPOINT_URL", proxy.url())
    .output()
    .success();
    assert_eq!(proxy.seen("GetParameters"), 16);
    assert_eq!(proxy.seen("ListSecrets"), 3, "30 names, 10 a call");
    assert_eq!(proxy.seen("DescribeSecret"), 0);
    assert!(
        proxy.max_in_flight() <= 3,
        "{} in flight",
        proxy.max_in_flight()
    );
    assert!(
        // Measured over 0.9 s: a slot granted at the end of a one-second window may reach the
        // proxy a moment later, inside the next one.
        proxy.peak_within("GetParameters", Duration::from_millis(900)) <= 6,
        "{} Parameter Store calls within 0.9 s",
        proxy.peak_within("GetParameters", Duration::from_millis(900))
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "16 calls at 6 a second need three windows"
    );
}

#[test]
fn update_service_follows_only_a_successful_registration() {
    let env = Env::new();
    let path = template(&env);
    // ECS refuses the registration: no UpdateService.
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    let proxy = FaultProxy::start(ecs.port());
    proxy.always("RegisterTaskDefinition", Fault::Status(400));
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &path,
            "--allow-plaintext-secrets",
            "--service",
            "web",
        ])
        .env("AWS_ENDPOINT_URL_ECS", proxy.url())
        .output()
        .failure(1);
    out.stderr_has("ECS refused the task definition");
    assert_eq!(proxy.seen("UpdateService"), 0);

    // UpdateService keeps failing: the service stays on its revision, the new one is named.
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    let proxy = FaultProxy::start(ecs.port());
    proxy.always("UpdateService", Fault::Status(500));
    let out = env
        .run([
            "deploy",
            "--task-definition",
            &path,
            "--allow-plaintext-secrets",
            "--service",
            "web",
            "--max-attempts",
            "2",
        ])
        .env("AWS_ENDPOINT_URL_ECS", proxy.url())
        .output()
        .failure(1);
    out.stderr_has("UpdateService failed");
    out.stderr_has(&format!("the service stays on {}", ecs::OLD_REVISION));
    out.stderr_has("the new revision is arn:aws:ecs:us-east-1:123456789012:task-definition/web:1");
}

#[test]
fn check_reads_metadata_side_by_side_once_per_secret_and_ten_parameters_a_call() {
    let env = Env::new();
    // Six secrets, each referenced by two JSON keys, and twelve parameters by ARN.
    let mut secrets = Vec::new();
    for i in 0..6 {
        let arn = env.secret(&format!("web/s{i}"), r#"{"a":"check-canary-a","b":"x"}"#);
        for key in ["a", "b"] {
            secrets.push(
                json!({ "name": format!("S{i}_{key}"), "valueFrom": format!("{arn}:{key}::") }),
            );
        }
    }
    for i in 0..12 {
        let name = format!("/web/p{i}");
        env.parameter(&name, "check-canary-parameter", true);
        secrets.push(json!({ "name": format!("P{i}"), "valueFrom": Env::parameter_arn(&name) }));
    }
    let definition = json!({ "family": "web",
        "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
        "containerDefinitions": [{ "name": "web", "image": "web:1", "memory": 128, "secrets": secrets }] });
    let path = env.file("web.json", &definition.to_string());
    env.task_role("web-execution");
    let proxy = FaultProxy::start(env.port);
    let out = env
        .run(["check", "--task-definition", path.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", proxy.url())
        .output()
        .failure(1);
    assert_eq!(
        out.stdout.matches("[ok]   the secret exists").count(),
        12,
        "{out}"
    );
    assert_eq!(
        out.stdout.matches("[ok]   the parameter exists").count(),
        12,
        "{out}"
    );
    assert_eq!(proxy.seen("DescribeSecret"), 6);
    assert_eq!(proxy.seen("GetResourcePolicy"), 6);
    // 12 names, 10 a call: two batches. moto pages 10 results at a time whatever MaxResults
    // says, so its full batch costs a second, empty page (AWS answers up to 50 in one).
    assert_eq!(proxy.seen("DescribeParameters"), 3);
    assert!(proxy.max_in_flight() > 1, "the reads go out side by side");

    // Parameter Store reads keep to the rate bound, every page included.
    let proxy = FaultProxy::start(env.port);
    env.run([
        "check",
        "--task-definition",
        path.to_str().unwrap(),
        "--max-requests-per-second",
        "1",
    ])
    .env("AWS_ENDPOINT_URL", proxy.url())
    .output()
    .failure(1);
    assert_eq!(proxy.seen("DescribeParameters"), 3);
    assert_eq!(
        proxy.peak_within("DescribeParameters", Duration::from_millis(900)),
        1
    );
}

/// A stand-in for the instance metadata service (IMDS): counts the connections it gets, and
/// closes each at once.
fn metadata_stand_in() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, hits)
}

#[test]
fn with_credentials_and_a_region_in_the_environment_nothing_probes_instance_metadata() {
    let env = Env::new();
    env.secret("web/db", "imds-canary-value");
    let path = env.file(
        "imds.json",
        r#"{"family":"imds","containerDefinitions":[{"name":"a","image":"a","memory":32,
            "secrets":[{"name":"DB","valueFrom":"{{secretsmanager-arn:web/db}}"}]}]}"#,
    );
    let path = path.to_str().unwrap();
    let (url, hits) = metadata_stand_in();
    // As on a CI runner: credentials and Region from the environment (GitHub OIDC through
    // configure-aws-credentials, CodeBuild's variables), IMDS not disabled, no profile.
    let out = env
        .run(["render", "--task-definition", path])
        .without("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.as_str())
        .env("HOME", env.dir.path().to_str().unwrap())
        .output()
        .success();
    assert!(out.stdout.contains("arn:aws:secretsmanager:"), "{out}");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "IMDS was probed"
    );
    // The stand-in is reachable: without credentials the SDK's chain ends there (and the run
    // fails, having none).
    env.run(["render", "--task-definition", path, "--max-attempts", "1"])
        .without("AWS_EC2_METADATA_DISABLED")
        .without("AWS_ACCESS_KEY_ID")
        .without("AWS_SECRET_ACCESS_KEY")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.as_str())
        .env("HOME", env.dir.path().to_str().unwrap())
        .output()
        .failure(1);
    assert!(
        hits.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the stand-in was never reached"
    );
}
