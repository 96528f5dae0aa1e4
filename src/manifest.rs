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
    /// What names it wherever the manifest is checked out: `CLUSTER/SERVICE` (the cluster as the
    /// manifest writes it, maybe empty), or the template path as written. `shard` hashes it.
    pub key: String,
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
            let key = match &raw.service {
                Some(service) => {
                    format!("{}/{service}", raw.cluster.as_deref().unwrap_or_default())
                }
                None => raw.task_definition.display().to_string(),
            };
            Ok(Entry {
                key,
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

/// A deterministic part of a manifest: `K/N` keeps the services whose key hashes to `K - 1`
/// modulo `N`, so N CI jobs share a manifest with no coordination, each service in exactly one
/// part, stable when services are reordered or added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `K/N` with 1 ≤ K ≤ N ≤ 1000.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not `K/N` (the K-th of N parts, 1 ≤ K ≤ N ≤ 1000)");
        let (index, count) = text.trim().split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            index.trim().parse::<u32>().map_err(|_| bad())?,
            count.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if index == 0 || index > count || count > 1000 {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    pub fn holds(self, entry: &Entry) -> bool {
        // FNV-1a, 64 bits: the same everywhere, whatever the platform or the Rust version.
        let hash = entry
            .key
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        hash % u64::from(self.count) == u64::from(self.index - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_the_manifest() {
        let entries: Vec<Entry> = (0..200)
            .map(|i| Entry {
                key: format!("prod/service-{i}"),
                task_definition: PathBuf::new(),
                service: None,
                cluster: None,
                images: Vec::new(),
            })
            .collect();
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for entry in &entries {
            assert_eq!(shards.iter().filter(|s| s.holds(entry)).count(), 1);
        }
        for shard in &shards {
            let n = entries.iter().filter(|e| shard.holds(e)).count();
            assert!((40..=94).contains(&n), "{shard:?} holds {n} of 200");
        }
        assert_eq!(Shard::parse(" 2/3 "), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/1001"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

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
        assert_eq!(entries[0].key, "/web");
        assert_eq!(entries[1].key, "w.json");
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
