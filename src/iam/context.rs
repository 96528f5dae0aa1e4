//! What is known before a task starts of the requests its start makes: ECS assuming the
//! execution role, and the role reading a secret, a parameter, or decrypting with a key. A key
//! is known (with its values), known to be absent, or unknown: conditions on unknown keys are
//! reported, never decided.

use std::collections::BTreeMap;

use super::Role;
use crate::reference::Arn;

/// What a condition key is in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    Values(Vec<String>),
    /// The request does not carry the key.
    Absent,
    /// An ARN of which only the first five segments are known: this prefix, ending in `:`.
    ArnIn(String),
}

/// The condition keys of one request that are known before the task starts.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// By lowercase key (condition keys are not case-sensitive): the key as written, and what
    /// it is.
    keys: BTreeMap<String, (String, Known)>,
    /// The principal's tags (lowercase key → key as written, value), when they were read: then
    /// every `aws:PrincipalTag/…` is known, present or absent.
    principal_tags: Option<Tags>,
    /// The tags of the resource read, when they were read.
    resource_tags: Option<Tags>,
}

/// Tags by lowercase key: (the key as written, its value).
type Tags = BTreeMap<String, (String, String)>;

fn tags(list: impl IntoIterator<Item = (String, String)>) -> Tags {
    list.into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), (k, v)))
        .collect()
}

/// The condition-key prefixes of the resource's tags.
const RESOURCE_TAG_PREFIXES: &[&str] = &[
    "aws:resourcetag/",
    "secretsmanager:resourcetag/",
    "ssm:resourcetag/",
];

impl Context {
    fn put(&mut self, key: &str, known: Known) {
        self.keys
            .insert(key.to_ascii_lowercase(), (key.to_owned(), known));
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.put(key, Known::Values(vec![value.into()]));
    }

    pub fn absent(&mut self, key: &str) {
        self.put(key, Known::Absent);
    }

    pub fn arn_in(&mut self, key: &str, prefix: String) {
        self.put(key, Known::ArnIn(prefix));
    }

    pub fn principal_tags(&mut self, list: impl IntoIterator<Item = (String, String)>) {
        self.principal_tags = Some(tags(list));
    }

    /// The tags of the secret or parameter read: `aws:ResourceTag/…` and the service's own
    /// `secretsmanager:ResourceTag/…`, `ssm:resourceTag/…`.
    pub fn resource_tags(&mut self, list: impl IntoIterator<Item = (String, String)>) {
        self.resource_tags = Some(tags(list));
    }

    /// What the request has for `key`; `None` when that is not known here.
    pub fn get(&self, key: &str) -> Option<Known> {
        let key = key.to_ascii_lowercase();
        if let Some((_, known)) = self.keys.get(&key) {
            return Some(known.clone());
        }
        let (tag, known) = if let Some(tag) = key.strip_prefix("aws:principaltag/") {
            (tag, self.principal_tags.as_ref()?)
        } else {
            let tag = RESOURCE_TAG_PREFIXES
                .iter()
                .find_map(|prefix| key.strip_prefix(prefix))?;
            (tag, self.resource_tags.as_ref()?)
        };
        Some(
            known
                .get(tag)
                .map_or(Known::Absent, |(_, v)| Known::Values(vec![v.clone()])),
        )
    }

    /// The known string values, as context for IAM's simulator: (key, value).
    pub fn strings(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .keys
            .iter()
            .filter(|(lower, _)| !BOOLEAN_KEYS.contains(&lower.as_str()))
            .filter_map(|(_, (key, known))| match known {
                Known::Values(values) if values.len() == 1 => {
                    Some((key.clone(), values[0].clone()))
                }
                _ => None,
            })
            .collect();
        for (tag, value) in self.principal_tags.iter().flat_map(|t| t.values()) {
            out.push((format!("aws:PrincipalTag/{tag}"), value.clone()));
        }
        for (tag, value) in self.resource_tags.iter().flat_map(|t| t.values()) {
            for prefix in [
                "aws:ResourceTag",
                "secretsmanager:ResourceTag",
                "ssm:resourceTag",
            ] {
                out.push((format!("{prefix}/{tag}"), value.clone()));
            }
        }
        out
    }
}

/// Keys whose values are booleans: IAM's simulator takes them with another type.
const BOOLEAN_KEYS: &[&str] = &["aws:securetransport", "aws:principalisawsservice"];

/// The role reading `resource` when a task starts (as ECS's agent does, with the role's
/// session), through `via` when a service decrypts on its behalf (`kms:ViaService`).
pub fn request(role: &Role, resource: &str, via: Option<&str>) -> Context {
    let mut context = Context::default();
    context.set("aws:PrincipalArn", role.arn.clone());
    if let Some(arn) = Arn::parse(&role.arn) {
        context.set("aws:PrincipalAccount", arn.account);
        context.set("kms:CallerAccount", arn.account);
    }
    context.set("aws:PrincipalType", "AssumedRole");
    context.set("aws:PrincipalIsAWSService", "false");
    context.set("aws:SecureTransport", "true");
    // Only IAM users have a user name; a role's session has none.
    context.absent("aws:username");
    context.absent("aws:PrincipalServiceName");
    if let Some(arn) = Arn::parse(resource) {
        if !arn.region.is_empty() {
            context.set("aws:RequestedRegion", arn.region);
        }
        if !arn.account.is_empty() {
            context.set("aws:ResourceAccount", arn.account);
        }
    }
    match via {
        Some(service) => context.set("kms:ViaService", service),
        None => context.absent("kms:ViaService"),
    }
    context.principal_tags(role.tags.clone());
    context
}

/// ECS (`ecs-tasks.amazonaws.com`) assuming the role for a task of `account` in `region`:
/// `aws:SourceAccount` is that account, `aws:SourceArn` an ECS ARN of that account and Region.
pub fn assume(partition: &str, region: &str, account: &str) -> Context {
    let mut context = Context::default();
    context.set("aws:SourceAccount", account);
    context.arn_in(
        "aws:SourceArn",
        format!("arn:{partition}:ecs:{region}:{account}:"),
    );
    context.set("aws:PrincipalServiceName", "ecs-tasks.amazonaws.com");
    context.set("aws:PrincipalIsAWSService", "true");
    context.set("aws:SecureTransport", "true");
    context.absent("aws:username");
    context
}
