//! The front half every command that takes a template shares: the templates (one, or a
//! manifest's many) → overrides merged → placeholders found → every reference of every template
//! resolved in one batched pass → each rendered and validated. Everything that can be wrong
//! without AWS fails before the first call; nothing is written here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::aws::ecs::{self, Latest};
use crate::aws::{self, Aws};
use crate::ci::Ci;
use crate::error::Error;
use crate::manifest::{self, Entry};
use crate::placeholder::{Reference, Resolved};
use crate::resolve;
use crate::rollout::{LastChange, Target};
use crate::template::{self, Image, Overrides, Rendered, Slot, Template};

/// Where the definitions come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Templates {
    /// One template file.
    One(PathBuf),
    /// A manifest naming many (`deploy` and `check`).
    Manifest(PathBuf),
    /// A revision registered in ECS.
    Registered(Registered),
}

/// A registered revision to start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// An ARN, `FAMILY` (its latest ACTIVE revision) or `FAMILY:REVISION`.
    Definition(String),
    /// The revision a service runs.
    Service(Target),
}

/// What every template-taking command reads: the templates, what the inputs change in them, and
/// how placeholders are resolved.
#[derive(Debug, Clone)]
pub struct Definitions {
    pub templates: Templates,
    pub overrides: Overrides,
    pub allow_plaintext_secrets: bool,
    /// Every secret's metadata read as it is now (`redeploy-on-secret-change` compares when each
    /// changed): no ARN learnt from `ListSecrets`, which may lag five minutes behind.
    pub fresh_metadata: bool,
    /// A manifest's part that this run takes (`shard`).
    pub shard: Option<manifest::Shard>,
    /// The process environment, for `{{env:…}}` placeholders.
    pub environment: BTreeMap<String, String>,
    pub aws: aws::Settings,
    /// The ECS reads to start with the lookups (`deploy`), `None` for the other commands.
    pub read_ahead: Option<ReadAhead>,
}

/// What a deploy will read whatever the lookups find, so it is read while they are answered:
/// each definition's service (its entry's, else `service`, in its entry's cluster, else
/// `cluster`), and with `latest` its family's latest revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAhead {
    pub cluster: String,
    pub service: Option<String>,
    pub latest: bool,
}

/// What resolution reads: values (`render`, `deploy`), or metadata only (`check`, `policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    Values,
    Metadata,
}

/// Every definition rendered and valid, and the AWS set-up for what follows.
pub struct Ready {
    /// `None` only for a `render` that needed no AWS.
    aws: Option<Aws>,
    pub definitions: Vec<Definition>,
    pub resolved: HashMap<Reference, Resolved>,
}

/// One template, rendered.
pub struct Definition {
    /// The template file, and for a manifest's entry its service.
    pub entry: Entry,
    pub rendered: Rendered,
    /// Its placeholders.
    pub slots: Vec<Slot>,
    /// The registered revision it started from, as ECS returned it.
    pub source: Option<Latest>,
}

impl Ready {
    /// The AWS set-up; every command but `render` has one.
    pub fn aws(&self) -> &Aws {
        self.aws
            .as_ref()
            .expect("AWS is loaded for every command that makes calls")
    }
}

impl Definition {
    /// The newest change of anything it references, for `redeploy-on-secret-change`.
    pub fn last_change(&self, resolved: &HashMap<Reference, Resolved>) -> LastChange {
        self.slots
            .iter()
            .flat_map(Slot::references)
            .filter_map(|(reference, raw, _)| {
                Some((raw.to_owned(), resolved.get(reference)?.changed_at?))
            })
            .max_by_key(|(_, at)| *at)
    }
}

/// Loads, resolves, renders and validates every definition. `needs_aws`: load the AWS set-up
/// even when no placeholder needs it (every command but `render` makes calls of its own).
pub async fn prepare(
    definitions: &Definitions,
    reads: Reads,
    needs_aws: bool,
    ci: &Ci,
) -> Result<Ready, Error> {
    let mut aws = None;
    let mut source = None;
    let loaded = if let Templates::Registered(registered) = &definitions.templates {
        let loaded_aws = Aws::load(&definitions.aws).await?;
        let (entry, mut template, latest) = fetch(&loaded_aws, registered).await?;
        definitions.overrides.apply(&mut template)?;
        let slots = template::slots(&template)?;
        aws = Some(loaded_aws);
        source = Some(latest);
        vec![(entry, template, slots)]
    } else {
        load(definitions)?
    };
    let all_slots: Vec<Slot> = loaded.iter().flat_map(|(_, _, s)| s.clone()).collect();
    let protect = |secret: &crate::mask::Secret, label: &str| ci.protect(secret, label);
    let mut resolved = resolve::resolve_local(
        &all_slots,
        &definitions.environment,
        definitions.allow_plaintext_secrets,
        &protect,
    )?;
    // A render of `env` placeholders only needs no AWS at all, not even a Region.
    if aws.is_none() && (needs_aws || resolve::needs_aws(&all_slots)) {
        aws = Some(Aws::load(&definitions.aws).await?);
    }
    if let (Some(aws), Some(ahead)) = (&aws, &definitions.read_ahead) {
        read_ahead(aws, ahead, &loaded, source.is_some());
    }
    if let Some(aws) = &aws {
        let mode = resolve::Mode {
            decrypt: definitions.allow_plaintext_secrets && reads == Reads::Values,
            read_secret_values: reads == Reads::Values,
            list_arns: reads == Reads::Values && !definitions.fresh_metadata,
        };
        resolved.extend(resolve::resolve_remote(&all_slots, aws, mode, &protect).await?);
    }
    resolve::refuse_plaintext(&all_slots, &resolved, definitions.allow_plaintext_secrets)?;
    debug_panic(&definitions.environment, &resolved);
    // Every template valid before the first is used: an invalid one stops the run, not half.
    let mut rendered_all = Vec::new();
    for (entry, template, slots) in loaded {
        let rendered = template::render(template, &slots, &resolved);
        template::validate(&rendered)?;
        rendered_all.push(Definition {
            entry,
            rendered,
            slots,
            source: source.take(),
        });
    }
    Ok(Ready {
        aws,
        definitions: rendered_all,
        resolved,
    })
}

/// Starts the ECS reads a deploy makes after the lookups (see [`ReadAhead`]). A definition that
/// starts from a registered revision already read its service, and may need no latest revision.
fn read_ahead(
    aws: &Aws,
    ahead: &ReadAhead,
    loaded: &[(Entry, Template, Vec<Slot>)],
    registered: bool,
) {
    let client = aws.ecs();
    for (entry, template, _) in loaded {
        if let Some(service) = entry.service.as_ref().or(ahead.service.as_ref()) {
            let cluster = entry.cluster.as_ref().unwrap_or(&ahead.cluster);
            aws.ahead.service(&client, cluster, service);
        }
        let family = template.body.get("family").and_then(Value::as_str);
        // A family written with a placeholder is known only once rendered.
        if let Some(family) = family.filter(|f| ahead.latest && !registered && !f.contains("{{")) {
            aws.ahead.latest(&client, family);
        }
    }
}

/// The registered revision to start from: its entry (named by its ARN), its template, and the
/// revision as ECS returned it.
async fn fetch(aws: &Aws, registered: &Registered) -> Result<(Entry, Template, Latest), Error> {
    let client = aws.ecs();
    let name = match registered {
        Registered::Definition(name) => name.clone(),
        Registered::Service(target) => {
            let service = crate::rollout::describe(&client, target).await?;
            service.task_definition.ok_or_else(|| {
                Error::Aws(format!(
                    "service `{}` of cluster `{}` names no task definition",
                    target.service, target.cluster
                ))
            })?
        }
    };
    let latest = ecs::describe(&client, &name)
        .await
        .map_err(|failure| {
            Error::Aws(format!(
                "cannot read task definition `{name}` (DescribeTaskDefinition): {failure}"
            ))
        })?
        .ok_or_else(|| {
            Error::Usage(format!(
                "no task definition `{name}` in ECS (DescribeTaskDefinition found none): give an ARN, `FAMILY` or `FAMILY:REVISION` that is registered, or the path of a file"
            ))
        })?;
    let mut latest = latest;
    // `aws:` tags are ECS's own: RegisterTaskDefinition refuses them.
    if let Some(Value::Array(tags)) = latest.body.get_mut("tags") {
        tags.retain(|t| {
            !t.get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| k.starts_with("aws:"))
        });
    }
    let label = PathBuf::from(&latest.revision.arn);
    // What ECS runs is text: a `{{` that is no placeholder of ours (a Go template such as
    // `{{end}}` in a label) stays text; placeholders in the revision resolve like a file's.
    let mut body = Value::Object(latest.body.clone());
    template::escape_braces(&mut body, "", &mut |_, text| {
        crate::placeholder::parse(text).is_err()
    });
    let text = serde_json::to_string_pretty(&body).expect("JSON serialises");
    let template = template::parse(&label, &text)?;
    tracing::info!(arn = %latest.revision.arn, "starting from the registered revision");
    Ok((Entry::of(&label), template, latest))
}

/// Every template loaded with its overrides, and its placeholders.
fn load(definitions: &Definitions) -> Result<Vec<(Entry, Template, Vec<Slot>)>, Error> {
    // The other shards' templates, for their container names only.
    let mut elsewhere: Vec<PathBuf> = Vec::new();
    let entries = match &definitions.templates {
        Templates::One(path) => vec![Entry::of(path)],
        Templates::Manifest(path) => {
            let mut entries = manifest::load(path)?;
            if let Some(shard) = definitions.shard {
                let all = entries.len();
                elsewhere = entries
                    .iter()
                    .filter(|e| !shard.holds(e))
                    .map(|e| e.task_definition.clone())
                    .collect();
                entries.retain(|entry| shard.holds(entry));
                tracing::info!(
                    "shard {}/{}: {} of the manifest's {all} services",
                    shard.index,
                    shard.count,
                    entries.len()
                );
            }
            entries
        }
        Templates::Registered(_) => unreachable!("fetched, not loaded"),
    };
    let many = matches!(definitions.templates, Templates::Manifest(_));
    let mut loaded = Vec::new();
    let mut used_images = BTreeSet::new();
    for entry in entries {
        let mut template = template::load(&entry.task_definition)?;
        let overrides = if many {
            for_manifest_entry(&definitions.overrides, &template, &entry, &mut used_images)
        } else {
            definitions.overrides.clone()
        };
        overrides.apply(&mut template)?;
        let slots = template::slots(&template)?;
        loaded.push((entry, template, slots));
    }
    let named = definitions
        .overrides
        .images
        .iter()
        .filter_map(|i| i.container.as_ref());
    // A shard may hold none of the templates that have the container: the manifest's others
    // may (a template another shard holds that does not parse is that shard's error).
    if many && named.clone().any(|name| !used_images.contains(name)) {
        for path in &elsewhere {
            if let Ok(template) = template::load(path) {
                used_images.extend(template::container_names(&template.body));
            }
        }
    }
    if let Some(unused) = named
        .clone()
        .find(|name| many && !used_images.contains(*name))
    {
        return Err(Error::Usage(format!(
            "input `image`: no template of the manifest has a container named `{unused}`"
        )));
    }
    Ok(loaded)
}

/// A manifest entry's overrides: a named `image` input applies to the templates that have that
/// container, then the entry's own images.
fn for_manifest_entry(
    overrides: &Overrides,
    template: &Template,
    entry: &Entry,
    used: &mut BTreeSet<String>,
) -> Overrides {
    let names = template::container_names(&template.body);
    let global: Vec<Image> = overrides
        .images
        .iter()
        .filter(|image| match &image.container {
            Some(name) => names.contains(name),
            None => true,
        })
        .cloned()
        .collect();
    used.extend(global.iter().filter_map(|i| i.container.clone()));
    Overrides {
        images: global
            .into_iter()
            .chain(entry.images.iter().cloned())
            .collect(),
        ..overrides.clone()
    }
}

/// Debug builds only, for the leak suite: a panic whose message carries a value must still
/// print `***`. Only a value long enough to be masked is used.
#[cfg(debug_assertions)]
fn debug_panic(environment: &BTreeMap<String, String>, resolved: &HashMap<Reference, Resolved>) {
    if environment.contains_key("ECS_SECRETS_DEBUG_PANIC") {
        let value = resolved
            .values()
            .find(|r| r.secret && r.text.expose().len() >= crate::mask::MIN_MASKED_LEN)
            .map(|r| r.text.expose());
        panic!(
            "debug panic carrying a value: {}",
            value.unwrap_or_default()
        );
    }
}

#[cfg(not(debug_assertions))]
fn debug_panic(_: &BTreeMap<String, String>, _: &HashMap<Reference, Resolved>) {}

impl Entry {
    /// A single template as a manifest of one.
    pub fn of(path: &Path) -> Self {
        Entry {
            key: path.display().to_string(),
            task_definition: path.to_owned(),
            service: None,
            cluster: None,
            images: Vec::new(),
        }
    }
}
