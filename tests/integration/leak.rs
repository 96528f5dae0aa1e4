//! The leak suite: canary secrets of many shapes, every command and failure path, every
//! verbosity; everything the tool writes is scanned for each canary in each encoded form.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::support::{Env, Output};

fn long_canary() -> String {
    // Deterministic pseudo-random text, 16,000 characters.
    let mut state: u32 = 0x2545_f491;
    let mut text = String::from("leak-long-");
    while text.len() < 16_000 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        text.push(char::from(b'a' + u8::try_from(state % 26).unwrap()));
    }
    text
}

/// (secret name, value) of every canary kept in Secrets Manager.
fn canaries() -> Vec<(&'static str, String)> {
    vec![
        ("leak/plain", "leak-plain-Q7v9Zx2".to_owned()),
        (
            "leak/pem",
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFleak1\nleakPemLine2kqhkiG9w0BAQEFAASCBK\n-----END PRIVATE KEY-----".to_owned(),
        ),
        (
            "leak/json",
            r#"{"user":"leak-json-user","pass":"leak \"quoted\" \\ back","nested":{"k":"leak-nested-deep"},"n":98765432}"#.to_owned(),
        ),
        ("leak/unicode", "leak-ñandú-日本語-ü".to_owned()),
        ("leak/percent", "leak%41::add-mask::%0A tail".to_owned()),
        ("leak/long", long_canary()),
        ("leak/sub-long", "leak-substring-abcdef".to_owned()),
        ("leak/sub-short", "leak-substring-abc".to_owned()),
        (
            "leak/typed",
            r#"{"pin":48213,"ratio":31.41592650,"nested":{"deep":[7,"leak-typed-deep"]},"flag":true,"none":null}"#.to_owned(),
        ),
        ("leak/pipe", "leak|pipe|Kq7-Zr".to_owned()),
        (REGION_CANARY.0, REGION_CANARY.1.to_owned()),
    ]
}

/// A secret whose value is the Region: masked in every log line, yet the outputs (ARNs that
/// hold the Region) stay exact.
const REGION_CANARY: (&str, &str) = ("leak/region", "us-east-1");

/// Values too common to look for in exact outputs (`changed=true`, ARNs with the Region): they
/// must be masked in the log (stderr) once learnt, and the outputs must hold them exactly.
const COMMON: &[&str] = &["us-east-1", "true", "null"];

/// Canary parts checked only once the run has learnt them (their `::add-mask::` line): the
/// common ones, and numbers, which a log line of timings or ids can hold by chance before.
fn gated(text: &str) -> bool {
    COMMON.contains(&text) || text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The PEM canary, base64-encoded and MIME-wrapped at 76 columns: a String parameter that a
/// template shows in plain text, whose lines must be masked all the same.
fn pem_mime() -> String {
    let pem = canaries()
        .into_iter()
        .find(|(name, _)| *name == "leak/pem")
        .unwrap()
        .1;
    STANDARD
        .encode(pem.as_bytes())
        .as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8(line.to_vec()).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

const SECURE_PARAMETER: &str = "leak-ssm-secure-Yt5w";

/// The forms of a value to look for: whole, each line, JSON leaves, and encodings; values as
/// common as the Region or `true` are left to the log-only check ([`COMMON`]).
fn forms(value: &str) -> Vec<String> {
    let mut plain = vec![value.to_owned()];
    plain.extend(
        value
            .lines()
            .filter(|l| l.len() >= 8 && !l.starts_with("-----"))
            .map(str::to_owned),
    );
    if let Ok(document) = serde_json::from_str::<serde_json::Value>(value) {
        leaves(&document, &mut plain);
    }
    plain.retain(|text| text.len() >= 4 && !gated(text));
    let mut out = Vec::new();
    for text in plain {
        let json = serde_json::to_string(&text).unwrap();
        out.push(json[1..json.len() - 1].to_owned());
        out.push(utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string());
        out.push(STANDARD.encode(&text));
        out.push(URL_SAFE_NO_PAD.encode(&text));
        // The Markdown escape of the step summary.
        out.push(text.replace('|', "\\|"));
        out.push(text);
    }
    out
}

fn leaves(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| leaves(item, out)),
        other => out.push(other.to_string()),
    }
}

fn all_forms() -> Vec<String> {
    let mut forms_: Vec<String> = canaries().iter().flat_map(|(_, v)| forms(v)).collect();
    forms_.extend(forms(SECURE_PARAMETER));
    forms_.extend(
        pem_mime()
            .split("\r\n")
            .filter(|l| l.len() >= 4)
            .map(str::to_owned),
    );
    forms_
}

/// The gated parts of the canaries (see [`gated`]).
fn gated_parts() -> Vec<String> {
    let mut parts = Vec::new();
    for (_, value) in canaries() {
        if let Ok(document) = serde_json::from_str::<serde_json::Value>(&value) {
            leaves(&document, &mut parts);
        }
        parts.push(value);
    }
    parts.retain(|p| p.len() >= 4 && gated(p));
    parts
}

/// Fails when a gated canary part (`us-east-1`, `true`, a PIN) shows in the log after the run
/// learnt it is a secret value (its `::add-mask::` line): before that, the Region in an
/// endpoint is just the Region, and nothing could know better.
#[track_caller]
fn assert_log_masks_common_values(what: &str, stderr: &str) {
    for common in gated_parts() {
        let mask = format!("::add-mask::{common}");
        let Some(learnt) = stderr.lines().position(|l| l == mask) else {
            continue;
        };
        for line in stderr
            .lines()
            .skip(learnt)
            .filter(|l| !l.starts_with("::add-mask::"))
        {
            assert!(
                !line.contains(common.as_str()),
                "{what}: the log shows the common canary value {common:?} in line:\n{line}"
            );
        }
    }
}

/// Fails with the place of the first canary form found in `text`.
#[track_caller]
fn assert_clean(what: &str, text: &str, forms: &[String]) {
    for line in text.lines().filter(|l| !l.starts_with("::add-mask::")) {
        for form in forms {
            assert!(
                !line.contains(form.as_str()),
                "{what} leaks a canary form {:?} in line:\n{line}",
                &form[..form.len().min(40)]
            );
        }
    }
}

fn seed(env: &Env) {
    for (name, value) in canaries() {
        env.secret(name, value.as_str());
    }
    env.secret("leak/short", "a1");
    env.parameter("/leak/secure", SECURE_PARAMETER, true);
    env.parameter("/leak/pem-mime", &pem_mime(), false);
}

/// A template that reads every canary into `environment` (plaintext allowed) and one `-arn` ref.
fn template(env: &Env, extra: &str) -> std::path::PathBuf {
    let mut environment: Vec<serde_json::Value> = canaries()
        .iter()
        .enumerate()
        .map(|(i, (name, _))| serde_json::json!({ "name": format!("V{i}"), "value": format!("{{{{secretsmanager:{name}}}}}") }))
        .collect();
    environment.push(
        serde_json::json!({ "name": "JSON_KEY", "value": "{{secretsmanager:leak/json:pass}}" }),
    );
    environment
        .push(serde_json::json!({ "name": "SHORT", "value": "{{secretsmanager:leak/short}}" }));
    environment.push(serde_json::json!({ "name": "SECURE", "value": "{{ssm:/leak/secure}}" }));
    environment
        .push(serde_json::json!({ "name": "PIN", "value": "{{secretsmanager:leak/typed:pin}}" }));
    // A String parameter (configuration, shown in the plan) that holds the PEM key's MIME text.
    environment.push(serde_json::json!({ "name": "PEM_MIME", "value": "{{ssm:/leak/pem-mime}}" }));
    environment.push(serde_json::json!({ "name": "EXTRA", "value": extra }));
    let template = serde_json::json!({
        "family": "leak",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "containerDefinitions": [{
            "name": "app", "image": "{{secretsmanager:leak/pipe}}", "memory": 64,
            "command": ["run", "--token={{secretsmanager:leak/plain}}"],
            "dockerLabels": { "label": "{{secretsmanager:leak/unicode}}" },
            "environment": environment,
            "secrets": [{ "name": "ARN_REF", "valueFrom": "{{secretsmanager-arn:leak/pem}}" }]
        }]
    });
    env.file(
        "leak.json",
        &serde_json::to_string_pretty(&template).unwrap(),
    )
}

const VERBOSITIES: &[(&[&str], Option<&str>)] = &[
    (&[], None),
    (&["-q"], None),
    (&["-v"], None),
    (&["-vv"], None),
    (&[], Some("trace")),
    (
        &["-vv"],
        Some("trace,aws_smithy_runtime=trace,aws_sdk_ecs=trace,hyper=trace"),
    ),
];

fn run_everywhere(
    env: &Env,
    args: &[&str],
    extra_env: &[(&str, &str)],
    expected_code: i32,
) -> Vec<Output> {
    let forms = all_forms();
    let mut outputs = Vec::new();
    for (flags, rust_log) in VERBOSITIES {
        let github_output = env.dir.path().join("github_output");
        let summary = env.dir.path().join("github_step_summary");
        let _ = std::fs::remove_file(&github_output);
        let _ = std::fs::remove_file(&summary);
        let mut run = env
            .run(args.iter().chain(flags.iter()))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", github_output.to_str().unwrap())
            .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap());
        if let Some(level) = rust_log {
            run = run.env("RUST_LOG", *level);
        }
        for (key, value) in extra_env {
            run = run.env(key, *value);
        }
        let out = run.output();
        let what = format!("`{}` with {flags:?} RUST_LOG={rust_log:?}", args.join(" "));
        assert_eq!(out.code, expected_code, "{what}\n{out}");
        assert_clean(&format!("stdout of {what}"), &out.stdout, &forms);
        assert_clean(&format!("stderr of {what}"), &out.stderr, &forms);
        assert_log_masks_common_values(&format!("stderr of {what}"), &out.stderr);
        if let Ok(written) = std::fs::read_to_string(&github_output) {
            assert_clean(&format!("GITHUB_OUTPUT of {what}"), &written, &forms);
        }
        if let Ok(written) = std::fs::read_to_string(&summary) {
            assert_clean(&format!("step summary of {what}"), &written, &forms);
        }
        outputs.push(out);
    }
    outputs
}

#[test]
fn no_canary_leaks_from_a_successful_deploy_at_any_verbosity() {
    let env = Env::new();
    seed(&env);
    let path = template(&env, "plain");
    let rendered = env.dir.path().join("rendered.json");
    let path = path.to_str().unwrap();
    let outputs = run_everywhere(
        &env,
        &[
            "deploy",
            "--task-definition",
            path,
            "--allow-plaintext-secrets",
            "--output",
            rendered.to_str().unwrap(),
            "--skip-unchanged=false",
        ],
        &[],
        0,
    );
    assert!(
        outputs[0].stderr.contains("shorter than 4 characters"),
        "the short value is named:\n{}",
        outputs[0]
    );
    assert!(
        outputs[0].stderr.contains("secretsmanager:leak/short"),
        "{}",
        outputs[0]
    );
    // The Region as a secret value: named in a warning, masked in the log, and the outputs
    // (an ARN that holds the Region) still exact.
    outputs[0].stderr_has("the value of `secretsmanager:leak/region` is an AWS Region name");
    let written = std::fs::read_to_string(env.dir.path().join("github_output")).unwrap();
    assert!(
        written.contains("\narn:aws:ecs:us-east-1:123456789012:task-definition/leak:"),
        "{written}"
    );
    outputs[0]
        .stdout_has("task-definition-arn=arn:aws:ecs:us-east-1:123456789012:task-definition/leak:");
    // A rotated secret: the plan shows the change masked on both sides.
    env.rotate("leak/plain", "leak-plain-rotated-K2m");
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path,
            "--allow-plaintext-secrets",
            "-vv",
        ])
        .env("RUST_LOG", "trace")
        .output()
        .success();
    let mut forms = all_forms();
    forms.extend(crate::leak::forms("leak-plain-rotated-K2m"));
    assert_clean("the plan after rotation", &out.all(), &forms);
    out.stderr_has(r#""***" → "***" (changed)"#);
}

#[test]
fn no_canary_leaks_from_failures_after_values_were_fetched() {
    let env = Env::new();
    seed(&env);
    // A missing reference beside every fetched value: the whole batch was read, then it fails.
    let path = template(&env, "{{secretsmanager:leak/does-not-exist}}");
    run_everywhere(
        &env,
        &[
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ],
        &[],
        1,
    );
    // Plain text refused after the SecureString value was read.
    let path = template(&env, "x");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("secretsmanager:leak/", "secretsmanager-arn:leak/");
    std::fs::write(&path, text).unwrap();
    run_everywhere(
        &env,
        &["deploy", "--task-definition", path.to_str().unwrap()],
        &[],
        2,
    );
    // ECS unreachable after everything was resolved.
    let path = template(&env, "x");
    run_everywhere(
        &env,
        &[
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ],
        &[("AWS_ENDPOINT_URL_ECS", "http://127.0.0.1:9")],
        1,
    );
}

#[test]
fn no_canary_leaks_from_a_panic_after_resolution() {
    let env = Env::new();
    seed(&env);
    let path = template(&env, "x");
    let outputs = run_everywhere(
        &env,
        &[
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "--output",
            "out.json",
        ],
        &[("ECS_SECRETS_DEBUG_PANIC", "1")],
        101,
    );
    assert!(
        outputs[0].stderr.contains("internal error"),
        "{}",
        outputs[0]
    );
    assert!(
        outputs[0].stderr.contains("***"),
        "the panic message is redacted, not dropped:\n{}",
        outputs[0]
    );
}

#[test]
fn sdk_body_logging_variables_are_refused() {
    let env = Env::new();
    seed(&env);
    let path = template(&env, "x");
    for variable in ["LOG_SENSITIVE_BODIES", "LOG_SIGNABLE_BODY"] {
        let out = env
            .run([
                "deploy",
                "--task-definition",
                path.to_str().unwrap(),
                "--allow-plaintext-secrets",
            ])
            .env(variable, "true")
            .env("RUST_LOG", "trace")
            .output()
            .failure(2);
        out.stderr_has(variable);
        assert_clean("refused run", &out.all(), &all_forms());
    }
}

/// Replays stderr the way the GitHub runner reads it: `::add-mask::` registers a value (data
/// unescaped as the runner does), and every later line is shown with registered values masked.
#[test]
fn github_runner_sees_every_mask_before_any_line_and_unescapes_them_exactly() {
    let env = Env::new();
    seed(&env);
    let path = template(&env, "x");
    let out = env
        .run([
            "deploy",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .success();
    let lines: Vec<&str> = out.stderr.lines().collect();
    let mut masks: Vec<String> = Vec::new();
    let mut last_mask = 0;
    for (i, line) in lines.iter().enumerate() {
        if let Some(data) = line.strip_prefix("::add-mask::") {
            // The runner's unescaping of workflow-command data, in its order.
            masks.push(
                data.replace("%0D", "\r")
                    .replace("%0A", "\n")
                    .replace("%25", "%"),
            );
            last_mask = i;
        } else {
            // What the runner shows: the line with every registered value masked.
            let mut shown = (*line).to_owned();
            for mask in &masks {
                shown = shown.replace(mask.as_str(), "***");
            }
            assert_clean(
                &format!("line {i} as the runner shows it"),
                &shown,
                &all_forms(),
            );
        }
    }
    // stdout goes through the same runner: every mask is registered before it is read.
    for line in out.stdout.lines() {
        let mut shown = line.to_owned();
        for mask in &masks {
            shown = shown.replace(mask.as_str(), "***");
        }
        assert_clean("stdout as the runner shows it", &shown, &all_forms());
    }
    let plan = lines
        .iter()
        .position(|l| l.starts_with("plan:"))
        .expect("a plan line");
    assert!(
        last_mask < plan,
        "every mask precedes the plan and the report"
    );
    for (name, value) in canaries() {
        assert!(masks.contains(&value), "no exact mask for {name}");
    }
    assert!(masks.contains(&SECURE_PARAMETER.to_owned()));
    assert!(
        !masks.iter().any(|m| m == "a1"),
        "a value too short to mask is not registered"
    );
}

#[test]
fn no_canary_leaks_from_render_or_export_at_any_verbosity() {
    let env = Env::new();
    seed(&env);
    let path = template(&env, "x");
    run_everywhere(
        &env,
        &[
            "render",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "--output",
            "out.json",
        ],
        &[],
        0,
    );
    let ids = canaries()
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join("\n")
        + "\nssm:/leak/secure";
    let outputs = run_everywhere(
        &env,
        &[
            "export",
            "--secret-ids",
            &ids,
            "--parse-json-secrets",
            "--env-file",
            "leak.env",
        ],
        &[],
        0,
    );
    assert!(
        outputs[0].stderr.contains("LEAK_PLAIN"),
        "the names are shown:\n{}",
        outputs[0]
    );
    let written = std::fs::read_to_string(env.dir.path().join("leak.env")).unwrap();
    assert!(
        written.contains("leak-plain-Q7v9Zx2"),
        "the file holds what was asked for"
    );
}

#[test]
fn no_canary_leaks_from_check_reading_values_at_any_verbosity() {
    let env = Env::new();
    seed(&env);
    // Every canary by a JSON key, so that `check --read-values` reads each value to look for it.
    let secrets: Vec<serde_json::Value> = canaries()
        .iter()
        .enumerate()
        .map(|(i, (name, _))| serde_json::json!({ "name": format!("S{i}"), "valueFrom": format!("{{{{secretsmanager-arn:{name}:pass}}}}") }))
        .collect();
    let template = serde_json::json!({
        "family": "leak",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "containerDefinitions": [{ "name": "app", "image": "app:1", "memory": 64, "secrets": secrets }]
    });
    let path = env.file("check.json", &template.to_string());
    // Exit 1: the role does not exist, and most canaries have no key `pass`.
    let outputs = run_everywhere(
        &env,
        &[
            "check",
            "--task-definition",
            path.to_str().unwrap(),
            "--read-values",
        ],
        &[],
        1,
    );
    let report = &outputs[0].stdout;
    assert!(
        report.contains("the secret has the JSON key `pass`"),
        "the JSON canary was read:\n{report}"
    );
    assert_eq!(
        report.matches("the secret has no JSON key `pass`").count(),
        canaries().len() - 1,
        "every other canary was read:\n{report}"
    );
}

#[test]
fn no_canary_leaks_from_init_at_any_verbosity() {
    let env = Env::new();
    seed(&env);
    // The running definition holds every canary in plain text, each under the name of its
    // secret: `init` must turn each into a placeholder and print the template exactly.
    let environment: Vec<serde_json::Value> = canaries()
        .iter()
        .map(|(name, value)| {
            let variable = name
                .rsplit('/')
                .next()
                .unwrap()
                .replace('-', "_")
                .to_ascii_uppercase();
            serde_json::json!({ "name": variable, "value": value })
        })
        .collect();
    let definition = serde_json::json!({
        "family": "leak",
        "containerDefinitions": [{
            "name": "app", "image": "repo/app:1", "memory": 64, "environment": environment
        }]
    });
    let arn =
        env.ecs_raw("RegisterTaskDefinition", &definition)["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap()
            .to_owned();
    env.ecs_raw(
        "CreateCluster",
        &serde_json::json!({ "clusterName": "prod" }),
    );
    env.ecs_raw(
        "CreateService",
        &serde_json::json!({ "cluster": "prod", "serviceName": "leak", "taskDefinition": arn, "desiredCount": 1 }),
    );
    let outputs = run_everywhere(
        &env,
        &[
            "init",
            "--service",
            "leak",
            "--cluster",
            "prod",
            "--output",
            "-",
        ],
        &[],
        0,
    );
    let template: serde_json::Value = serde_json::from_str(&outputs[0].stdout).unwrap();
    let values = template["containerDefinitions"][0]["environment"]
        .as_array()
        .unwrap();
    assert_eq!(values.len(), canaries().len());
    for value in values {
        let text = value["value"].as_str().unwrap();
        assert!(text.starts_with("{{secretsmanager:leak/"), "{value}");
    }
}

#[test]
fn no_canary_leaks_from_a_one_off_tasks_log_lines_at_any_verbosity() {
    use crate::support::ecs::{Scenario, ScriptedEcs, TaskEnd};
    let env = Env::new();
    seed(&env);
    // The template, its container logging to `awslogs`: the one-off task prints every canary.
    let path = template(&env, "plain");
    let mut definition: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    definition["containerDefinitions"][0]["logConfiguration"] = serde_json::json!({
        "logDriver": "awslogs",
        "options": { "awslogs-group": "/ecs/leak", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "leak" }
    });
    std::fs::write(&path, definition.to_string()).unwrap();
    let values: Vec<String> = canaries().into_iter().map(|(_, value)| value).collect();
    let mut lines: Vec<String> = values
        .iter()
        .map(|v| format!("got {v} from the task"))
        .collect();
    lines.push(format!(
        "secure {SECURE_PARAMETER} and the PEM {}",
        pem_mime()
    ));
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    env.log_lines("/ecs/leak", "leak/app/migrate0001", &lines);
    let ecs = ScriptedEcs::start(env.port, Scenario::Clean).one_off(TaskEnd::Exit(0));
    let outputs = run_everywhere(
        &env,
        &[
            "run",
            "--task-definition",
            path.to_str().unwrap(),
            "--allow-plaintext-secrets",
            "--poll-interval",
            "0.01",
        ],
        &[("AWS_ENDPOINT_URL_ECS", ecs.url().as_str())],
        0,
    );
    // Not vacuous: the lines were printed, masked.
    assert!(
        outputs[0].stderr.contains("  [app] got *** from the task"),
        "{}",
        outputs[0]
    );
}
