//! What a run writes to disk: the rendered definition, and the CodePipeline artifacts
//! (`imagedefinitions.json` for the ECS standard deploy action; `taskdef.json` and `appspec.yaml`
//! for the CodeDeployToECS blue/green action). A file that holds a secret value is created 0600.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tracing::{info, warn};

use crate::error::Error;
use crate::output;
use crate::taskdef::Rendered;

/// Writes the rendered definition to `target` (`-` is stdout). A file that holds secret values
/// is created 0600; stdout never receives secret values.
pub fn write_rendered(rendered: &Rendered, target: &Path) -> Result<Option<PathBuf>, Error> {
    let text = rendered.to_pretty_json();
    if target == Path::new("-") {
        if rendered.holds_secret_values() {
            return Err(Error::Usage(
                "the rendered task definition holds secret values (allow-plaintext-secrets); refusing to print it: write it to a file with `--output PATH`"
                    .to_owned(),
            ));
        }
        let redacted = output::redact(&text);
        if redacted != text {
            warn!(
                "masked text that equals a secret value in the rendered definition on stdout; write it with `--output PATH` for the exact file"
            );
        }
        output::write(output::Stream::Stdout, redacted.as_bytes());
        return Ok(None);
    }
    let secret = rendered.holds_secret_values();
    write_file(target, text.as_bytes(), secret).map_err(|source| Error::Write {
        path: target.to_owned(),
        source,
    })?;
    if secret {
        warn!(
            file = %target.display(),
            fields = %rendered.secret_paths.iter().cloned().collect::<Vec<_>>().join(", "),
            "wrote the rendered definition with secret values in plain text (allow-plaintext-secrets); the file is readable by its owner only (0600)"
        );
    } else {
        info!(file = %target.display(), "wrote the rendered definition (references only)");
    }
    Ok(Some(target.to_owned()))
}

/// Writes through a temporary file in the same directory, renamed into place, so a reader never
/// sees half a file and a secret-bearing file is never readable by others, even for a moment.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(
        || "rendered".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let temporary = directory.join(format!(".{name}.{}.tmp", std::process::id()));
    let mode = if private { 0o600 } else { 0o644 };
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Writes a file only its owner can read (values the user asked for).
pub fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    write(path, text, true)
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), Error> {
    write_file(path, text.as_bytes(), private).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// `imagedefinitions.json`: each container's name and image.
pub fn image_definitions(rendered: &Rendered) -> String {
    let entries: Vec<Value> = containers(rendered)
        .map(|c| json!({ "name": c.get("name"), "imageUri": c.get("image") }))
        .collect();
    serde_json::to_string_pretty(&entries).expect("JSON serialises") + "\n"
}

/// `appspec.yaml` for an ECS blue/green deployment: CodePipeline replaces `<TASK_DEFINITION>`
/// with the revision it registers from `taskdef.json`. The load-balanced container is the first
/// of `container_names` or else the first container with a port mapping.
pub fn appspec(rendered: &Rendered, container_names: &[String]) -> String {
    let with_port = containers(rendered).find_map(|c| {
        let name = c.get("name")?.as_str()?;
        if !container_names.is_empty() && !container_names.iter().any(|n| n == name) {
            return None;
        }
        let port = c
            .get("portMappings")?
            .as_array()?
            .first()?
            .get("containerPort")?
            .as_u64()?;
        Some((name.to_owned(), port))
    });
    let mut text = String::from(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n",
    );
    if let Some((name, port)) = with_port {
        let name = serde_json::to_string(&name).expect("a string serialises");
        let _ = write!(
            text,
            "        LoadBalancerInfo:\n          ContainerName: {name}\n          ContainerPort: {port}\n"
        );
    }
    text
}

fn containers(rendered: &Rendered) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    crate::taskdef::containers(&rendered.body)
}

/// Writes the CodePipeline artifacts the inputs ask for; returns the paths written.
pub fn write_pipeline_artifacts(
    rendered: &Rendered,
    image_definitions_path: Option<&Path>,
    codedeploy_directory: Option<&Path>,
    container_names: &[String],
) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    if let Some(path) = image_definitions_path {
        // An image could only hold a secret value by opt-in; then the file is private too.
        write(
            path,
            &image_definitions(rendered),
            rendered.holds_secret_values(),
        )?;
        written.push(path.to_owned());
    }
    if let Some(directory) = codedeploy_directory {
        std::fs::create_dir_all(directory).map_err(|source| Error::Write {
            path: directory.to_owned(),
            source,
        })?;
        let taskdef = directory.join("taskdef.json");
        write(
            &taskdef,
            &rendered.to_pretty_json(),
            rendered.holds_secret_values(),
        )?;
        let appspec_path = directory.join("appspec.yaml");
        write(&appspec_path, &appspec(rendered, container_names), false)?;
        written.extend([taskdef, appspec_path]);
    }
    for path in &written {
        info!(file = %path.display(), "wrote CodePipeline artifact");
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(json: &str) -> Rendered {
        Rendered {
            body: serde_json::from_str(json).unwrap(),
            secret_paths: std::collections::BTreeSet::new(),
            secret_pointers: std::collections::BTreeSet::new(),
            ..Rendered::default()
        }
    }

    #[test]
    fn image_definitions_list_each_container() {
        let r = rendered(
            r#"{"family":"f","containerDefinitions":[{"name":"web","image":"repo/web:1"},{"name":"side","image":"repo/side:2"}]}"#,
        );
        let parsed: Value = serde_json::from_str(&image_definitions(&r)).unwrap();
        assert_eq!(
            parsed,
            json!([{"name":"web","imageUri":"repo/web:1"},{"name":"side","imageUri":"repo/side:2"}])
        );
    }

    #[test]
    fn appspec_points_at_the_load_balanced_container() {
        let r = rendered(
            r#"{"family":"f","containerDefinitions":[{"name":"side","image":"x"},{"name":"web","image":"<IMAGE1_NAME>","portMappings":[{"containerPort":8080}]}]}"#,
        );
        let text = appspec(&r, &[]);
        assert!(text.contains("TaskDefinition: <TASK_DEFINITION>"), "{text}");
        assert!(
            text.contains("ContainerName: \"web\"\n          ContainerPort: 8080"),
            "{text}"
        );
        let yaml: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(
            yaml["Resources"][0]["TargetService"]["Type"],
            "AWS::ECS::Service"
        );
    }
}
