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
use crate::template::Rendered;

/// Files written under temporary names in their own directories and moved into place together
/// by [`Staged::commit`], once everything that can fail before them has passed; dropped
/// uncommitted, they are removed. A path the user reads never holds a file of a run that failed
/// before it could use it.
#[derive(Debug, Default)]
pub struct Staged {
    /// Temporary file → its place.
    files: Vec<(PathBuf, PathBuf)>,
    /// Directories created for the files, removed again when nothing is committed.
    directories: Vec<PathBuf>,
}

impl Staged {
    /// Writes `bytes` for `path` (0600 when `private`), not yet at `path`.
    pub fn file(&mut self, path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
        let temporary = temporary_name(path);
        write_temporary(&temporary, bytes, private).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        self.files.push((temporary, path.to_owned()));
        Ok(())
    }

    /// Creates `directory` (and its parents) for files to come; removed again if nothing is
    /// committed.
    pub fn directory(&mut self, directory: &Path) -> Result<(), Error> {
        let mut missing = Vec::new();
        let mut at = Some(directory);
        while let Some(dir) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(dir.to_owned());
            at = dir.parent();
        }
        std::fs::create_dir_all(directory).map_err(|source| Error::Write {
            path: directory.to_owned(),
            source,
        })?;
        self.directories.extend(missing);
        Ok(())
    }

    /// Moves every file into place. When a move fails (the disk changed under the run), the
    /// error names what is in place and what is not.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, Error> {
        let files = std::mem::take(&mut self.files);
        self.directories.clear();
        let mut done = Vec::new();
        let mut pending = files.into_iter();
        for (temporary, path) in pending.by_ref() {
            if let Err(source) = std::fs::rename(&temporary, &path) {
                let _ = std::fs::remove_file(&temporary);
                for (rest, _) in pending {
                    let _ = std::fs::remove_file(rest);
                }
                let written = if done.is_empty() {
                    "none of the other files was written".to_owned()
                } else {
                    format!(
                        "already written: {}",
                        done.iter()
                            .map(|p: &PathBuf| format!("`{}`", p.display()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(Error::Write {
                    path: path.clone(),
                    source: std::io::Error::other(format!("{source}; {written}")),
                });
            }
            done.push(path);
        }
        Ok(done)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (temporary, _) in &self.files {
            let _ = std::fs::remove_file(temporary);
        }
        for directory in &self.directories {
            let _ = std::fs::remove_dir(directory);
        }
    }
}

fn temporary_name(path: &Path) -> PathBuf {
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(
        || "rendered".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    directory.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes a new file (mode 0600 when private, else 0644), synced, so that the rename that puts
/// it in place never exposes half a file or a secret-bearing file to others, even for a moment.
/// On Windows the file takes the folder's permissions (there is no mode to set).
fn write_temporary(temporary: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let _ = std::fs::remove_file(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = (|| {
        let mut file = options.open(temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    result
}

/// Prints the rendered definition on stdout, for `render` without `output`. Stdout never
/// receives secret values.
pub fn print_rendered(rendered: &Rendered) -> Result<(), Error> {
    if rendered.holds_secret_values() {
        return Err(Error::Usage(
            "the rendered task definition holds secret values (allow-plaintext-secrets); refusing to print it: write it to a file with `--output PATH`"
                .to_owned(),
        ));
    }
    let text = rendered.to_pretty_json();
    let redacted = output::redact(&text);
    if redacted != text {
        warn!(
            "masked text that equals a secret value in the rendered definition on stdout; write it with `--output PATH` for the exact file"
        );
    }
    output::write(output::Stream::Stdout, redacted.as_bytes());
    Ok(())
}

/// Stages the rendered definition for `target`; a file that holds secret values is 0600.
pub fn stage_rendered(
    staged: &mut Staged,
    rendered: &Rendered,
    target: &Path,
) -> Result<(), Error> {
    staged.file(
        target,
        rendered.to_pretty_json().as_bytes(),
        rendered.holds_secret_values(),
    )
}

/// Puts the staged files in place and says what each holds; `rendered_path` is the rendered
/// definition's, when one was staged.
pub fn commit(
    staged: Staged,
    rendered: &Rendered,
    rendered_path: Option<&Path>,
) -> Result<(), Error> {
    for path in staged.commit()? {
        if Some(path.as_path()) == rendered_path {
            report_rendered(rendered, &path);
        } else {
            info!(file = %path.display(), "wrote CodePipeline artifact");
        }
    }
    Ok(())
}

/// Says what a committed rendered file holds.
fn report_rendered(rendered: &Rendered, target: &Path) {
    if rendered.holds_secret_values() {
        warn!(
            file = %target.display(),
            fields = %rendered.secret_paths.iter().cloned().collect::<Vec<_>>().join(", "),
            "wrote the rendered definition with secret values in plain text (allow-plaintext-secrets); the file is readable by its owner only (0600)"
        );
    } else {
        info!(file = %target.display(), "wrote the rendered definition (references only)");
    }
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
    crate::template::containers(&rendered.body)
}

/// The CodePipeline artifacts asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// `imagedefinitions.json`, for the ECS standard deploy action.
    pub image_definitions: Option<PathBuf>,
    /// A directory for `taskdef.json` and `appspec.yaml`, for the CodeDeployToECS action.
    pub codedeploy: Option<PathBuf>,
    /// The containers named by `container-name`: the first is the load-balanced one.
    pub container_names: Vec<String>,
}

impl Targets {
    /// Stages the artifacts asked for.
    pub fn stage(&self, staged: &mut Staged, rendered: &Rendered) -> Result<(), Error> {
        // An image could only hold a secret value by opt-in; then the files are private too.
        let private = rendered.holds_secret_values();
        if let Some(path) = &self.image_definitions {
            staged.file(path, image_definitions(rendered).as_bytes(), private)?;
        }
        if let Some(directory) = &self.codedeploy {
            staged.directory(directory)?;
            staged.file(
                &directory.join("taskdef.json"),
                rendered.to_pretty_json().as_bytes(),
                private,
            )?;
            staged.file(
                &directory.join("appspec.yaml"),
                appspec(rendered, &self.container_names).as_bytes(),
                false,
            )?;
        }
        Ok(())
    }
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

#[cfg(test)]
mod staging {
    use super::*;

    #[test]
    fn staged_files_appear_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let nested = dir.path().join("out/deeper");
        let mut staged = Staged::default();
        staged.file(&a, b"{}", false).unwrap();
        staged.directory(&nested).unwrap();
        staged.file(&nested.join("b.json"), b"{}", true).unwrap();
        assert!(!a.exists());
        drop(staged);
        assert!(!a.exists());
        assert!(
            !dir.path().join("out").exists(),
            "created directories go too"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temporary left"
        );

        let mut staged = Staged::default();
        staged.file(&a, b"{}", false).unwrap();
        staged.directory(&nested).unwrap();
        staged.file(&nested.join("b.json"), b"{}", true).unwrap();
        let done = staged.commit().unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "{}");
    }

    #[test]
    fn a_file_that_cannot_be_staged_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/a.json");
        let err = Staged::default().file(&missing, b"{}", false).unwrap_err();
        assert!(err.to_string().contains("no/such/dir/a.json"), "{err}");
    }
}
