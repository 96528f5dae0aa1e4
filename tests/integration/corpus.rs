//! The corpus: real task definitions from public sources (`tests/corpus/SOURCES.md` says where
//! each came from). Each goes through `render`, `deploy`, `deploy` again (unchanged), and its
//! `describe-task-definition` output, as ECS returns it, fed back (unchanged). ECS is moto behind
//! a stub that fills in ECS's defaults the way ECS does, so "unchanged" means what it means on
//! AWS.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::ecs::{fill_defaults, with_ecs_defaults};
use crate::support::{Env, Output};

/// Files the tool refuses before any AWS call, and the words its error must have: each is a
/// definition ECS would refuse or fail to start too, or a template of another tool.
const REFUSED: &[(&str, &str)] = &[
    // App Mesh doc fragment: no memory at either level.
    (
        "20-appmesh-container-dependency.json",
        "needs `memory` or `memoryReservation`",
    ),
    // Doc fragments without a family.
    (
        "24-firelens-buffer-limit-partial.json",
        "`family` is missing",
    ),
    ("26-taskdef-template-all-fields.json", "`family` is missing"),
    // The agent's test templates: `$$$NAME$$$` where an ARN goes.
    (
        "36-agent-firelens-fluentbit.json",
        "is not a valid parameter name",
    ),
    ("45-agent-secrets-env.json", "is not a valid parameter name"),
    (
        "50-agent-private-registry-auth.json",
        "must be a Secrets Manager secret ARN",
    ),
    // CloudFormation's `${Partition}` in an ARN.
    ("54-firelens-datadog-secrets.json", "is not a valid ARN"),
    // ecspresso templates (`{{ env `TAG` }}`), rendered by ecspresso first.
    ("65-ecspresso-describe-in-tags.json", "has no kind"),
    ("66-ecspresso-tfstate-template.json", "has no kind"),
    ("67-ecspresso-host-secrets.json", "has no kind"),
    // A PipeCD template whose `command` is a string; ECS takes a list.
    ("69-pipecd-attachment-template.yaml", "expected array"),
    // A stray quote in a key: `compatibilities"`.
    ("71-harness-style-yaml-nulls.yaml", "is not a field name"),
    // A shell variable where an ARN goes.
    (
        "78-shell-var-secrets-yaml.yaml",
        "is not a valid parameter name",
    ),
    // `"containerPort": "8080"`: ECS takes an integer.
    ("81-json-in-yaml-null-string-port.yaml", "expected integer"),
];

/// Files moto cannot stand in for ECS with: only `render` is run. Each is a difference of the
/// emulator, not of ECS.
const EMULATOR: &[(&str, &str)] = &[
    // moto stores `awsvpc` for any compatibility but EC2; ECS keeps the `bridge` written.
    ("09-anywhere-external-linux.json", "networkMode"),
    ("10-anywhere-external-windows.json", "networkMode"),
    // moto wants `memory` on an EC2 container; ECS takes `memoryReservation` alone.
    ("15-inferentia-neuron.json", "memoryReservation"),
];

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "SOURCES.md"))
        .collect();
    files.sort();
    files
}

/// What went wrong with one file, or `None`.
fn run_one(path: &Path) -> Option<String> {
    let scene = Env::new();
    let ecs = with_ecs_defaults(scene.port);
    let name = path.file_name().unwrap().to_str().unwrap();
    let copy = scene.file(name, &std::fs::read_to_string(path).unwrap());
    let copy = copy.to_str().unwrap();
    let run = |command: &str, file: &str| -> Output {
        scene
            .run([command, "--task-definition", file])
            .env("AWS_ENDPOINT_URL_ECS", ecs.url())
            .output()
    };
    let refused = REFUSED.iter().find(|(file, _)| *file == name);
    let rendered = run("render", copy);
    if let Some((_, words)) = refused {
        return (rendered.code == 0 || !rendered.stderr.contains(words))
            .then(|| format!("expected a refusal with `{words}`:\n{rendered}"));
    }
    if rendered.code != 0 {
        return Some(format!("render failed:\n{rendered}"));
    }
    if EMULATOR.iter().any(|(file, _)| *file == name) {
        return None;
    }
    let first = run("deploy", copy);
    if first.code != 0 || first.report("changed").as_deref() != Some("true") {
        return Some(format!("first deploy:\n{first}"));
    }
    let again = run("deploy", copy);
    if again.report("changed").as_deref() != Some("false") {
        return Some(format!("second deploy is not unchanged:\n{again}"));
    }
    let family = first.report("family").unwrap();
    let mut described = scene.ecs_raw(
        "DescribeTaskDefinition",
        &json!({ "taskDefinition": family, "include": ["TAGS"] }),
    );
    fill_defaults(&mut described);
    let fed = scene.file(
        "described.json",
        &serde_json::to_string_pretty(&described).unwrap(),
    );
    let back = run("deploy", fed.to_str().unwrap());
    if back.report("changed").as_deref() != Some("false") {
        return Some(format!(
            "its describe output fed back is not unchanged:\n{back}"
        ));
    }
    None
}

#[test]
fn every_real_task_definition_renders_deploys_once_and_comes_back_unchanged() {
    let files = corpus();
    assert!(files.len() >= 50, "the corpus has {} files", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            run_one(path)
                .map(|why| format!("== {}\n{why}", path.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
