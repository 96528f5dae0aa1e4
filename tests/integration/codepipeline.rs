//! The pipeline action: the binary as a Lambda function's bootstrap and as a custom action's job
//! worker, against a scripted CodePipeline and Lambda Runtime API, with its artifacts in the
//! emulator's S3.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::ecs::{Scenario, ScriptedEcs};
use crate::support::pipeline::{
    ARTIFACT_SECRET, ARTIFACT_TOKEN, INPUT, KMS_KEY, OUTPUT, Pipeline, RuntimeApi, artifact_exists,
    job, put_artifact, read_artifact,
};
use crate::support::{Env, Output, count};

const SECRET_VALUE: &str = "pipeline-db-canary-41d2";

/// The example: a template whose password comes from Secrets Manager, and the build stage's
/// `imagedefinitions.json`, zipped as the input artifact.
fn example(env: &Env, secret: &str) {
    let template = json!({
        "family": "web",
        "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
        "containerDefinitions": [{"name": "web", "image": "web:placeholder", "memory": 128,
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": format!("{{{{secretsmanager-arn:{secret}}}}}")}]}]
    });
    put_artifact(
        env,
        INPUT,
        &[
            ("taskdef.json", &template.to_string()),
            (
                "imagedefinitions.json",
                r#"[{"name": "web", "imageUri": "repo/web:build-42"}]"#,
            ),
        ],
    );
}

/// Runs the Lambda front door until the Runtime API has no more invocations.
fn lambda(
    env: &Env,
    runtime: &RuntimeApi,
    pipeline: &Pipeline,
    ecs: Option<&ScriptedEcs>,
) -> Output {
    let mut run = env
        .run(Vec::<&str>::new())
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .env("AWS_ENDPOINT_URL_CODEPIPELINE", pipeline.url());
    if let Some(ecs) = ecs {
        run = run.env("AWS_ENDPOINT_URL_ECS", ecs.url());
    }
    // The loop ends when the scripted Runtime API answers `next` with 500.
    run.output().failure(1)
}

/// Nothing the binary said or sent carries the artifact credentials or the secret's value.
fn nothing_leaked(out: &Output, pipeline: &Pipeline) {
    let sent: Vec<String> = pipeline
        .stub
        .operations()
        .iter()
        .flat_map(|op| pipeline.stub.bodies(op))
        .map(|b| b.to_string())
        .collect();
    // The redactor knows the canaries and would print a leak as `***`: no mask may show either
    // (nothing in these runs has a value to mask).
    assert!(!out.all().contains("***"), "something was masked:\n{out}");
    for canary in [ARTIFACT_SECRET, ARTIFACT_TOKEN, SECRET_VALUE] {
        assert!(
            !out.all().contains(canary),
            "{canary} in the output:\n{out}"
        );
        assert!(
            !sent.iter().any(|b| b.contains(canary) || b.contains("***")),
            "{canary} (or a mask) sent to CodePipeline: {sent:?}"
        );
    }
}

#[test]
fn the_lambda_front_door_deploys_the_example_and_reports_output_variables() {
    let env = Env::new();
    let arn = env.secret("web/db", SECRET_VALUE);
    example(&env, "web/db");
    let pipeline = Pipeline::start(env.port);
    let event =
        json!({ "CodePipeline.job": job("job-1", r#"{"task-definition": "taskdef.json"}"#, None) });
    let runtime = RuntimeApi::start(move |n| (n == 0).then(|| event.clone()));
    env.record();
    let out = lambda(&env, &runtime, &pipeline, None);

    let successes = pipeline.successes();
    assert_eq!(successes.len(), 1, "{out}");
    assert!(pipeline.failures().is_empty(), "{out}");
    let result = &successes[0];
    assert_eq!(result["jobId"], "job-1");
    let variables = &result["outputVariables"];
    assert_eq!(
        variables["TASK_DEFINITION_ARN"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "{result}"
    );
    assert_eq!(variables["TASK_DEFINITION_REVISION"], "1");
    assert_eq!(variables["CHANGED"], "true");
    assert!(result.get("continuationToken").is_none());
    assert!(
        result["executionDetails"]["summary"]
            .as_str()
            .unwrap()
            .contains("web:1"),
        "{result}"
    );
    assert_eq!(runtime.responses().len(), 1, "the invocation was answered");
    assert!(runtime.errors().is_empty(), "{:?}", runtime.errors());

    // The output artifact: the rendered definition (the ARN, the build's image) and
    // imagedefinitions.json, encrypted with the pipeline's key.
    let (files, sse, key) = read_artifact(&env, OUTPUT);
    let rendered: Value =
        serde_json::from_str(files["task-definition.json"].as_str().unwrap()).unwrap();
    let container = &rendered["containerDefinitions"][0];
    assert_eq!(container["secrets"][0]["valueFrom"], json!(arn));
    assert_eq!(container["image"], "repo/web:build-42");
    assert!(
        files["imagedefinitions.json"]
            .as_str()
            .unwrap()
            .contains("repo/web:build-42")
    );
    assert_eq!(sse, "aws:kms");
    assert_eq!(key, KMS_KEY);
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 1);
    nothing_leaked(&out, &pipeline);
}

#[test]
fn a_failed_lookup_is_reported_as_job_failed_with_nothing_registered() {
    let env = Env::new();
    example(&env, "web/missing");
    let pipeline = Pipeline::start(env.port);
    let event =
        json!({ "CodePipeline.job": job("job-2", r#"{"task-definition": "taskdef.json"}"#, None) });
    let runtime = RuntimeApi::start(move |n| (n == 0).then(|| event.clone()));
    env.record();
    let out = lambda(&env, &runtime, &pipeline, None);
    let failures = pipeline.failures();
    assert_eq!(failures.len(), 1, "{out}");
    assert!(pipeline.successes().is_empty());
    let details = &failures[0]["failureDetails"];
    assert_eq!(details["type"], "JobFailed");
    let message = details["message"].as_str().unwrap();
    assert!(message.contains("web/missing"), "{message}");
    assert!(message.contains("nothing was registered"), "{message}");
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
    assert!(!artifact_exists(&env, OUTPUT), "no output artifact");
    nothing_leaked(&out, &pipeline);
}

#[test]
fn malformed_user_parameters_are_a_configuration_error() {
    let env = Env::new();
    example(&env, "web/db");
    let pipeline = Pipeline::start(env.port);
    let cases = [
        (
            "job-3",
            format!("{{\"task-definition\": \"taskdef.json\", {ARTIFACT_SECRET}"),
        ),
        ("job-4", r#"{"task-definitoin": "taskdef.json"}"#.to_owned()),
        ("job-5", r#"{"task-definition": "nosuch.json"}"#.to_owned()),
    ];
    let events: Vec<Value> = cases
        .iter()
        .map(|(id, params)| json!({ "CodePipeline.job": job(id, params, None) }))
        .collect();
    let runtime = RuntimeApi::start(move |n| events.get(n).cloned());
    env.record();
    let out = lambda(&env, &runtime, &pipeline, None);
    let failures = pipeline.failures();
    assert_eq!(failures.len(), 3, "{out}");
    let message = |i: usize| {
        failures[i]["failureDetails"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (i, expected) in [
        (0, "not a JSON object"),
        (1, "`task-definitoin` is not an input"),
        (2, "nosuch.json"),
    ] {
        assert_eq!(
            failures[i]["failureDetails"]["type"],
            "ConfigurationError",
            "{}",
            message(i)
        );
        assert!(message(i).contains(expected), "{}", message(i));
    }
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 0);
    nothing_leaked(&out, &pipeline);
}

#[test]
fn a_roll_out_is_watched_across_invocations_with_a_continuation_token() {
    let env = Env::new();
    env.secret("web/db", SECRET_VALUE);
    example(&env, "web/db");
    let pipeline = Arc::new(Pipeline::start(env.port));
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean);
    let params = r#"{"task-definition": "taskdef.json", "service": "web", "wait-for-service-stability": true}"#;
    let seen = Arc::clone(&pipeline);
    let last_token: Arc<Mutex<Option<String>>> = Arc::default();
    let runtime = RuntimeApi::start(move |n| {
        if n == 0 {
            return Some(json!({ "CodePipeline.job": job("job-6", params, None) }));
        }
        // CodePipeline calls again while the last result carried a token (at most 20 times here).
        let token = seen.successes().last()?["continuationToken"]
            .as_str()?
            .to_owned();
        *last_token.lock().unwrap() = Some(token.clone());
        (n < 20).then(|| json!({ "CodePipeline.job": job("job-6", params, Some(&token)) }))
    });
    let out = lambda(&env, &runtime, &pipeline, Some(&ecs));
    let successes = pipeline.successes();
    assert!(successes.len() >= 2, "{out}");
    let first = &successes[0];
    assert!(first["continuationToken"].is_string(), "{first}");
    assert!(
        first.get("outputVariables").is_none(),
        "variables only with the last result: {first}"
    );
    let last = successes.last().unwrap();
    assert!(last.get("continuationToken").is_none(), "{last}");
    assert!(
        last["outputVariables"]["TASK_DEFINITION_ARN"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/web:1"),
        "{last}"
    );
    assert!(
        last["executionDetails"]["summary"]
            .as_str()
            .unwrap()
            .contains("completed"),
        "{last}"
    );
    assert!(pipeline.failures().is_empty());
    // One deploy: the later invocations only looked at the service.
    let update = ecs.update().expect("UpdateService was called");
    assert_eq!(update["service"], "web");
    nothing_leaked(&out, &pipeline);
}

/// The example with its secret, and a scripted pipeline with one job of it waiting for a worker.
fn one_job_queued(env: &Env, id: &str) -> Pipeline {
    env.secret("web/db", SECRET_VALUE);
    example(env, "web/db");
    let pipeline = Pipeline::start(env.port);
    pipeline.queue(job(id, r#"{"task-definition": "taskdef.json"}"#, None));
    pipeline
}

/// Sends SIGTERM and waits for the exit; the output.
fn stop(mut child: std::process::Child) -> Output {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the worker did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn two_workers_racing_for_one_job_handle_it_once_and_stop_cleanly() {
    let env = Env::new();
    let pipeline = one_job_queued(&env, "job-7");
    env.record();
    let worker = || {
        env.run([
            "codepipeline-worker",
            "--provider",
            "ecs-secrets",
            "--poll-interval",
            "0.1",
        ])
        .env("AWS_ENDPOINT_URL_CODEPIPELINE", pipeline.url())
        .spawn()
    };
    let (a, b) = (worker(), worker());
    let deadline = Instant::now() + Duration::from_mins(1);
    while pipeline.successes().is_empty() && pipeline.failures().is_empty() {
        assert!(Instant::now() < deadline, "no result reported");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both keep polling a while: the job is not handed out again.
    std::thread::sleep(Duration::from_millis(500));
    let (a, b) = (stop(a), stop(b));
    assert_eq!(a.code, 0, "{a}");
    assert_eq!(b.code, 0, "{b}");
    assert_eq!(pipeline.successes().len(), 1, "{a}\n{b}");
    assert!(pipeline.failures().is_empty());
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 1);
    assert!(pipeline.stub.seen("PollForJobs") >= 2);
    let (files, ..) = read_artifact(&env, OUTPUT);
    assert!(files.contains_key("task-definition.json"));
    for out in [&a, &b] {
        out.stderr_has("CodePipeline job worker stopped");
        nothing_leaked(out, &pipeline);
    }
}

#[test]
fn policy_for_codepipeline_adds_reporting_the_job_to_the_deploy_s_permissions() {
    let env = Env::new();
    env.secret("web/db", SECRET_VALUE);
    let template = env.file(
        "taskdef.json",
        r#"{"family": "web", "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
            "containerDefinitions": [{"name": "web", "image": "web:1", "memory": 128,
              "secrets": [{"name": "DB", "valueFrom": "{{secretsmanager-arn:web/db}}"}]}]}"#,
    );
    let template = template.to_str().unwrap();
    let actions = |out: &Output| -> Vec<(String, String)> {
        let policies: Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
        policies["deployer"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["Action"].as_str().unwrap_or_default().to_owned(),
                    s["Resource"].to_string(),
                )
            })
            .collect()
    };
    let ci = actions(
        &env.run(["policy", "--task-definition", template])
            .output()
            .success(),
    );
    let pipeline = actions(
        &env.run([
            "policy",
            "--task-definition",
            template,
            "--for",
            "codepipeline",
        ])
        .output()
        .success(),
    );
    assert!(
        ci.iter().all(|(a, _)| !a.starts_with("codepipeline:")),
        "{ci:?}"
    );
    for action in [
        "codepipeline:PutJobSuccessResult",
        "codepipeline:PutJobFailureResult",
        "codepipeline:AcknowledgeJob",
    ] {
        assert!(
            pipeline
                .iter()
                .any(|(a, r)| a == action && r.contains("\"*\"")),
            "{action}: {pipeline:?}"
        );
    }
    assert!(
        pipeline.iter().any(|(a, r)| a == "codepipeline:PollForJobs"
            && r.contains("arn:aws:codepipeline:us-east-1:123456789012:actiontype:Custom/*")),
        "{pipeline:?}"
    );
    // The deploy's own permissions are all still there.
    for need in &ci {
        assert!(pipeline.contains(need), "{need:?} missing: {pipeline:?}");
    }
    let out = env
        .run(["policy", "--task-definition", template, "--for", "jenkins"])
        .output()
        .failure(2);
    out.stderr_has("input `for` is `ci` or `codepipeline`");
}

#[test]
fn a_worker_stopped_in_the_middle_of_a_job_finishes_and_reports_it() {
    let env = Env::new();
    let pipeline = one_job_queued(&env, "job-8");
    // ECS takes two seconds to register: the stop arrives while the job is in hand.
    let ecs = crate::support::stub::Stub::start(env.port, |request| {
        if request.operation == "RegisterTaskDefinition" {
            crate::support::stub::Answer::ForwardAfter(Duration::from_secs(2))
        } else {
            crate::support::stub::Answer::Forward
        }
    });
    let worker = env
        .run([
            "codepipeline-worker",
            "--provider",
            "ecs-secrets",
            "--poll-interval",
            "0.1",
        ])
        .env("AWS_ENDPOINT_URL_CODEPIPELINE", pipeline.url())
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ecs.seen("RegisterTaskDefinition") == 0 {
        assert!(Instant::now() < deadline, "the job never reached ECS");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = stop(worker);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        pipeline.successes().len(),
        1,
        "the job in hand was finished and reported: {out}"
    );
    assert_eq!(pipeline.stub.seen("AcknowledgeJob"), 1);
    out.stderr_has("CodePipeline job worker stopped");
    nothing_leaked(&out, &pipeline);
}
