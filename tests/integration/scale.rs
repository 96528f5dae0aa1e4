//! Platform scale: ARNs learnt many a call, manifests split across CI jobs, failures stated.

use std::fmt::Write as _;

use serde_json::json;

use crate::support::{Env, count};

/// A template whose one container references each of `names` by `secretsmanager-arn`.
fn template(env: &Env, file: &str, family: &str, names: &[String]) -> String {
    let secrets: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"name": format!("S{i}"), "valueFrom": format!("{{{{secretsmanager-arn:{n}}}}}")}))
        .collect();
    let body = json!({
        "family": family,
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "containerDefinitions": [{"name": "app", "image": "repo/app:1", "memory": 64, "secrets": secrets}]
    });
    env.file(file, &body.to_string())
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn secret_arns_are_learnt_ten_names_a_list_call_and_described_one_by_one_only_when_missing() {
    let env = Env::new();
    // `scale/app/s0` is a prefix of ten other names: the list answers all of them for it, and
    // only the exact name counts.
    let mut names: Vec<String> = (0..25).map(|i| format!("scale/app/s{i:02}")).collect();
    names.push("scale/app/s0".to_owned());
    let mut arns = Vec::new();
    for name in &names {
        arns.push(env.secret(name, "scale-canary-value"));
    }
    let path = template(&env, "many.json", "many", &names);
    env.record();
    let out = env
        .run(["render", "--task-definition", &path])
        .output()
        .success();
    let calls = env.calls();
    assert_eq!(count(&calls, "ListSecrets"), 3, "26 names, 10 a call");
    assert_eq!(count(&calls, "DescribeSecret"), 0);
    let rendered: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (i, arn) in arns.iter().enumerate() {
        assert_eq!(
            rendered["containerDefinitions"][0]["secrets"][i]["valueFrom"],
            json!(arn)
        );
    }

    // A name the list does not return is described on its own, and its error named.
    let mut with_missing = names.clone();
    with_missing.push("scale/app/missing".to_owned());
    let path = template(&env, "missing.json", "many", &with_missing);
    env.record();
    let out = env
        .run(["render", "--task-definition", &path])
        .output()
        .failure(1);
    out.stderr_has("scale/app/missing");
    let calls = env.calls();
    assert_eq!(count(&calls, "ListSecrets"), 3);
    assert_eq!(count(&calls, "DescribeSecret"), 1);
}

/// A manifest of `families`, each its own template without a service.
fn manifest(env: &Env, families: &[String]) -> String {
    let mut text = String::from("services:\n");
    for family in families {
        let body = json!({
            "family": family,
            "containerDefinitions": [{"name": "app", "image": "repo/app:1", "memory": 64}]
        });
        env.file(&format!("{family}.json"), &body.to_string());
        let _ = writeln!(text, "  - task-definition: {family}.json");
    }
    env.file("services.yaml", &text)
        .to_str()
        .unwrap()
        .to_owned()
}

/// The families of a JSON manifest report.
fn families(out: &crate::support::Output) -> Vec<String> {
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["family"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn shards_of_a_manifest_are_disjoint_and_together_the_whole() {
    let env = Env::new();
    let all: Vec<String> = (0..12).map(|i| format!("shard-svc-{i}")).collect();
    let path = manifest(&env, &all);
    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = env
            .run([
                "deploy",
                "--manifest",
                &path,
                "--shard",
                &shard,
                "--report-format",
                "json",
            ])
            .output()
            .success();
        let part = families(&out);
        assert!(part.len() < all.len(), "{shard} holds a part: {part:?}");
        seen.extend(part);
    }
    seen.sort();
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(seen, expected, "each service in exactly one shard");
    // A part that holds no service succeeds with an empty report, even with a named image.
    let one = manifest(&env, &["shard-one".to_owned()]);
    let sizes: Vec<usize> = ["1/2", "2/2"]
        .iter()
        .map(|shard| {
            let out = env
                .run([
                    "deploy",
                    "--manifest",
                    &one,
                    "--shard",
                    shard,
                    "--image",
                    "app=repo/app:2",
                    "--report-format",
                    "json",
                ])
                .output()
                .success();
            families(&out).len()
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1, "{sizes:?}");
    let out = env
        .run(["deploy", "--task-definition", "x.json", "--shard", "1/2"])
        .output()
        .failure(2);
    out.stderr_has("input `shard` splits a manifest's services");
    // A named image no template of the whole manifest has is a mistake in every shard.
    let out = env
        .run([
            "deploy",
            "--manifest",
            &path,
            "--shard",
            "1/3",
            "--image",
            "nosuch=repo/x:1",
        ])
        .output()
        .failure(2);
    out.stderr_has("no template of the manifest has a container named `nosuch`");
    env.run([
        "deploy",
        "--manifest",
        &path,
        "--shard",
        "1/3",
        "--image",
        "app=repo/x:1",
    ])
    .output()
    .success();
}

#[test]
fn one_failing_service_leaves_the_others_deployed_and_is_named_in_every_report() {
    let env = Env::new();
    let all: Vec<String> = ["web-a", "web-b", "web-c"].map(str::to_owned).to_vec();
    let path = manifest(&env, &all);
    let ecs = crate::support::stub::Stub::start(env.port, |request| {
        if request.operation == "RegisterTaskDefinition" && request.json["family"] == "web-b" {
            return crate::support::stub::Answer::error(
                400,
                "ClientException",
                "Too many revisions of web-b",
            );
        }
        crate::support::stub::Answer::Forward
    });
    let summary = env.dir.path().join("summary.md");
    let out = env
        .run(["deploy", "--manifest", &path, "--max-concurrency", "1"])
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .output()
        .failure(1);
    out.stdout_has("web-a.task-definition-arn=");
    out.stdout_has("web-c.task-definition-arn=");
    out.stdout_has("web-b.outcome=failed");
    out.stdout_has("Too many revisions of web-b");
    out.stderr_has("1 of 3 services failed");
    out.stderr_has("deploy: 2/3 `web-b` failed");
    out.stderr_has("deploy: 3/3 `web-c` deployed");
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(table.contains("| `web-b` | failed |"), "{table}");
    assert!(table.contains("| `web-c` | deployed |"), "{table}");

    // With `fail-fast`, nothing starts after the failure.
    let out = env
        .run([
            "deploy",
            "--manifest",
            &path,
            "--max-concurrency",
            "1",
            "--fail-fast",
            "--skip-unchanged=false",
        ])
        .env("AWS_ENDPOINT_URL_ECS", ecs.url())
        .output()
        .failure(1);
    out.stdout_has("web-b.outcome=failed");
    out.stdout_has("web-c.outcome=skipped");
    out.stderr_has("1 not started (fail-fast)");
}

#[test]
fn registrations_keep_to_ecs_rate_a_burst_of_twenty_then_one_a_second() {
    let env = Env::new();
    let all: Vec<String> = (0..23).map(|i| format!("paced-{i:02}")).collect();
    let path = manifest(&env, &all);
    env.record();
    let out = env
        .run(["deploy", "--manifest", &path, "-v"])
        .output()
        .success();
    assert_eq!(count(&env.calls(), "RegisterTaskDefinition"), 23, "{out}");
    let mut starts: Vec<u64> = crate::support::trace(&out.stderr)
        .into_iter()
        .filter(|(operation, ..)| operation == "RegisterTaskDefinition")
        .map(|(_, start, _)| start)
        .collect();
    starts.sort_unstable();
    assert_eq!(starts.len(), 23, "{out}");
    // ECS's bucket: 20 at once, then one a second. The 21st to 23rd wait about 1, 2 and 3 s
    // after the burst (not less: the bound is ours, not the emulator's).
    for (k, start) in starts[20..].iter().enumerate() {
        let after = start - starts[0];
        let floor = 1000 * (k as u64 + 1) - 100;
        assert!(
            after >= floor,
            "registration {} at +{after} ms: {starts:?}",
            21 + k
        );
    }
    out.stderr_has("RegisterTaskDefinition waits");
    out.stderr_has("deploy: 23/23");
}
