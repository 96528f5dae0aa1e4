//! The manifest of a many-service deploy: which templates, to which services.
//!
//! ```yaml
//! services:
//!   - task-definition: deploy/web.json
//!     service: web
//!     cluster: prod          # default: the `cluster` input
//!     image: web=repo/web:1  # or a list; added to the `image` input
//!   - task-definition: deploy/worker.json
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::template::Image;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    services: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawEntry {
    task_definition: PathBuf,
    service: Option<String>,
    cluster: Option<String>,
    image: Option<OneOrMany>,
}

/// One service of the manifest.
#[derive(Debug)]
pub struct Entry {
    /// The template, relative to the manifest's directory.
    pub task_definition: PathBuf,
    pub service: Option<String>,
    pub cluster: Option<String>,
    pub images: Vec<Image>,
}

pub fn load(path: &Path) -> Result<Vec<Entry>, Error> {
    let fail = |message: String| Error::Template {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let file: File = serde_yaml_ng::from_str(crate::document::without_bom(&text))
        .map_err(|e| fail(format!("not a manifest: {e}")))?;
    if file.services.is_empty() {
        return Err(fail("`services` is empty".to_owned()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    file.services
        .into_iter()
        .map(|raw| {
            let images = match raw.image {
                None => Vec::new(),
                Some(OneOrMany::One(one)) => vec![one],
                Some(OneOrMany::Many(many)) => many,
            };
            Ok(Entry {
                task_definition: base.join(raw.task_definition),
                service: raw.service,
                cluster: raw.cluster,
                images: images
                    .iter()
                    .map(|i| Image::parse(i))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_resolve_paths_against_the_manifest_and_take_one_or_many_images() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("services.yaml");
        std::fs::write(
            &path,
            "services:\n  - task-definition: web.json\n    service: web\n    image: web=repo/web:1\n  - task-definition: w.json\n    image: [a=x:1, b=y:2]\n",
        )
        .unwrap();
        let entries = load(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].task_definition, dir.path().join("web.json"));
        assert_eq!(entries[0].images.len(), 1);
        assert_eq!(entries[1].images.len(), 2);
        std::fs::write(
            &path,
            "services:\n  - task-definition: a.json\n    servce: typo\n",
        )
        .unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("servce"));
    }
}
