//! Resolution: collect every reference of the template, deduplicate, fetch in batches (bounded
//! concurrency, grouped by Region), and turn the answers into values. All or nothing: one error
//! lists every failing reference with its place.

mod secretsmanager;
mod ssm;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::future::{FutureExt as _, LocalBoxFuture};
use futures_util::stream::{self, StreamExt as _};
use tracing::{debug, info};

use crate::aws::Aws;
use crate::error::{Error, Problem, Problems};
use crate::mask::Secret;
use crate::placeholder::Reference;
use crate::reference::{Parameter, SecretId};
use crate::taskdef::{Resolved, Slot};

/// How many AWS calls run at once.
const CONCURRENCY: usize = 8;

/// Resolves what needs no AWS call (`env`) and refuses secret values in plain text unless
/// allowed. Runs before any AWS call, so bad input costs nothing.
pub fn resolve_local(
    slots: &[Slot],
    environment: &BTreeMap<String, String>,
    allow_plaintext_secrets: bool,
) -> Result<HashMap<Reference, Resolved>, Error> {
    let mut resolved = HashMap::new();
    let mut problems = Vec::new();
    for slot in slots {
        for (reference, raw, location) in slot.references() {
            let mut problem = |reason: String| {
                problems.push(Problem {
                    location: location.clone(),
                    reference: Some(raw.to_owned()),
                    reason,
                });
            };
            match reference {
                Reference::Env { name, fallback } => {
                    let value = environment.get(name).or(fallback.as_ref());
                    match value {
                        Some(value) => {
                            resolved.insert(
                                reference.clone(),
                                Resolved {
                                    text: Secret::new(value.clone()),
                                    secret: false,
                                },
                            );
                        }
                        None => problem(format!(
                            "environment variable `{name}` is not set and has no fallback (write `{{{{env:{name}:-default}}}}` for one)"
                        )),
                    }
                }
                Reference::Secret(secret) if !allow_plaintext_secrets => {
                    problem(plaintext_refusal(
                        &slot.path,
                        &format!("secretsmanager-arn:{}", secret_body(secret)),
                    ));
                }
                _ => {}
            }
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(Error::Invalid {
            problems: Problems(problems),
        })
    }
}

/// Refuses Parameter Store `SecureString` values in plain text, once their type is known.
pub fn refuse_plaintext(
    slots: &[Slot],
    resolved: &HashMap<Reference, Resolved>,
    allow_plaintext_secrets: bool,
) -> Result<(), Error> {
    if allow_plaintext_secrets {
        return Ok(());
    }
    let mut problems = Vec::new();
    for slot in slots {
        for (reference, raw, location) in slot.references() {
            if let Reference::Ssm(parameter) = reference
                && resolved.get(reference).is_some_and(|r| r.secret)
            {
                problems.push(Problem {
                    location: location.clone(),
                    reference: Some(raw.to_owned()),
                    reason: format!(
                        "is a SecureString: {}",
                        plaintext_refusal(&slot.path, &format!("ssm-arn:{}", parameter.id))
                    ),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            problems: Problems(problems),
        })
    }
}

fn plaintext_refusal(path: &str, arn_form: &str) -> String {
    let where_ = if path.ends_with(".valueFrom") {
        "would put the secret value itself into `valueFrom`".to_owned()
    } else {
        format!("would put a secret value in plain text at `{path}`")
    };
    format!(
        "{where_}; reference it with `{{{{{arn_form}}}}}` in `secrets[].valueFrom` instead, or set `allow-plaintext-secrets` to accept plain text"
    )
}

fn secret_body(secret: &SecretId) -> String {
    let parts = [
        secret.json_key.as_deref(),
        secret.version_stage.as_deref(),
        secret.version_id.as_deref(),
    ];
    let used = parts.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    let mut body = secret.id.clone();
    for part in &parts[..used] {
        body.push(':');
        body.push_str(part.unwrap_or_default());
    }
    body
}

/// A Region key: `None` is the default Region.
type RegionKey = Option<String>;

/// One secret version to fetch: Region, id, version stage (other than `AWSCURRENT`), version id.
type VersionKey = (RegionKey, String, Option<String>, Option<String>);

/// What to fetch, deduplicated.
#[derive(Default)]
struct Wanted {
    ssm_values: BTreeMap<RegionKey, BTreeSet<String>>,
    ssm_arns: BTreeMap<RegionKey, BTreeSet<String>>,
    secret_current: BTreeMap<RegionKey, BTreeSet<String>>,
    secret_pinned: BTreeSet<VersionKey>,
    secret_describe: BTreeMap<RegionKey, BTreeSet<String>>,
}

/// What came back.
#[derive(Default)]
struct Answers {
    parameters: HashMap<(RegionKey, String), Result<ssm::Fetched, String>>,
    parameter_arns: HashMap<(RegionKey, String), Result<ssm::Fetched, String>>,
    secrets: HashMap<VersionKey, Result<secretsmanager::Value, String>>,
    described: HashMap<(RegionKey, String), Result<secretsmanager::Described, String>>,
}

enum Outcome {
    Parameters(RegionKey, bool, Vec<(String, Result<ssm::Fetched, String>)>),
    Secrets(
        RegionKey,
        Vec<(String, Result<secretsmanager::Value, String>)>,
    ),
    Pinned(VersionKey, Result<secretsmanager::Value, String>),
    Described(RegionKey, String, Result<secretsmanager::Described, String>),
}

/// Fetches every AWS reference of the slots. `on_secret` sees each secret value as soon as it
/// arrives, before anything else can print it (to register it with the redactor and the CI).
pub async fn resolve_remote(
    slots: &[Slot],
    aws: &Aws,
    on_secret: &dyn Fn(&Secret, &str),
) -> Result<HashMap<Reference, Resolved>, Error> {
    let default_region = aws.region().map(str::to_owned);
    let region_of = |region: Option<&str>| -> RegionKey {
        region
            .filter(|r| Some(*r) != default_region.as_deref())
            .map(str::to_owned)
    };
    let references: BTreeSet<&Reference> = slots
        .iter()
        .flat_map(|s| s.references().map(|(r, _, _)| r))
        .collect();
    let wanted = plan(&references, &region_of);
    let call_count = count_calls(&wanted);
    if call_count == 0 {
        return Ok(HashMap::new());
    }
    info!(
        references = references.len(),
        calls = call_count,
        "resolving references"
    );
    let mut answers = Answers::default();
    let mut outcomes = stream::iter(calls(&wanted, aws)).buffer_unordered(CONCURRENCY);
    while let Some(outcome) = outcomes.next().await {
        match outcome {
            Outcome::Parameters(region, decrypt, results) => {
                for (name, result) in results {
                    if let Ok(fetched) = &result
                        && let (true, Some(value)) = (fetched.secure, &fetched.value)
                    {
                        on_secret(value, &format!("ssm:{name}"));
                    }
                    let map = if decrypt {
                        &mut answers.parameters
                    } else {
                        &mut answers.parameter_arns
                    };
                    map.insert((region.clone(), name), result);
                }
            }
            Outcome::Secrets(region, results) => {
                for (id, result) in results {
                    if let Ok(value) = &result {
                        on_secret(&value.value, &format!("secretsmanager:{id}"));
                    }
                    answers
                        .secrets
                        .insert((region.clone(), id, None, None), result);
                }
            }
            Outcome::Pinned(key, result) => {
                if let Ok(value) = &result {
                    on_secret(&value.value, &format!("secretsmanager:{}", key.1));
                }
                answers.secrets.insert(key, result);
            }
            Outcome::Described(region, id, result) => {
                answers.described.insert((region, id), result);
            }
        }
    }
    debug!("all calls answered");
    interpret(slots, &answers, &region_of)
}

/// One future per AWS call the plan needs.
fn calls(wanted: &Wanted, aws: &Aws) -> Vec<LocalBoxFuture<'static, Outcome>> {
    let mut calls: Vec<LocalBoxFuture<'static, Outcome>> = Vec::new();
    for (decrypt, groups) in [(true, &wanted.ssm_values), (false, &wanted.ssm_arns)] {
        for (region, names) in groups {
            let client = aws.ssm(region.as_deref());
            let names: Vec<String> = names.iter().cloned().collect();
            for chunk in names.chunks(ssm::BATCH) {
                let (client, chunk, region) = (client.clone(), chunk.to_vec(), region.clone());
                calls.push(
                    async move {
                        let results = ssm::get_parameters(&client, &chunk, decrypt).await;
                        Outcome::Parameters(region, decrypt, results)
                    }
                    .boxed_local(),
                );
            }
        }
    }
    for (region, ids) in &wanted.secret_current {
        let client = aws.secretsmanager(region.as_deref());
        let ids: Vec<String> = ids.iter().cloned().collect();
        for chunk in ids.chunks(secretsmanager::BATCH) {
            let (client, chunk, region) = (client.clone(), chunk.to_vec(), region.clone());
            calls.push(
                async move {
                    Outcome::Secrets(region, secretsmanager::batch_get(&client, &chunk).await)
                }
                .boxed_local(),
            );
        }
    }
    for key in &wanted.secret_pinned {
        let client = aws.secretsmanager(key.0.as_deref());
        let key = key.clone();
        calls.push(
            async move {
                let result =
                    secretsmanager::get(&client, &key.1, key.2.as_deref(), key.3.as_deref()).await;
                Outcome::Pinned(key, result)
            }
            .boxed_local(),
        );
    }
    for (region, ids) in &wanted.secret_describe {
        let client = aws.secretsmanager(region.as_deref());
        for id in ids {
            let (client, id, region) = (client.clone(), id.clone(), region.clone());
            calls.push(
                async move {
                    let result = secretsmanager::describe(&client, &id).await;
                    Outcome::Described(region, id, result)
                }
                .boxed_local(),
            );
        }
    }

    calls
}

fn plan(
    references: &BTreeSet<&Reference>,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Wanted {
    let mut wanted = Wanted::default();
    let pinned_key = |s: &SecretId| {
        (
            region_of(s.region()),
            s.id.clone(),
            s.version_stage.clone().filter(|_| !s.is_current()),
            s.version_id.clone(),
        )
    };
    for reference in references {
        match reference {
            Reference::Ssm(p) => {
                wanted
                    .ssm_values
                    .entry(region_of(p.region()))
                    .or_default()
                    .insert(p.request_name());
            }
            Reference::Secret(s) if s.is_current() => {
                wanted
                    .secret_current
                    .entry(region_of(s.region()))
                    .or_default()
                    .insert(s.id.clone());
            }
            Reference::Secret(s) => {
                wanted.secret_pinned.insert(pinned_key(s));
            }
            Reference::SsmArn(_) | Reference::SecretArn(_) | Reference::Env { .. } => {}
        }
    }
    // ARN-only references reuse a value fetch of the same thing, and otherwise read metadata.
    for reference in references {
        match reference {
            Reference::SsmArn(p) => {
                let region = region_of(p.region());
                let fetched = wanted
                    .ssm_values
                    .get(&region)
                    .is_some_and(|names| names.contains(&p.id));
                if !fetched {
                    wanted
                        .ssm_arns
                        .entry(region)
                        .or_default()
                        .insert(p.id.clone());
                }
            }
            Reference::SecretArn(s) => {
                let region = region_of(s.region());
                let fetched = if s.is_current() {
                    wanted
                        .secret_current
                        .get(&region)
                        .is_some_and(|ids| ids.contains(&s.id))
                } else {
                    wanted.secret_pinned.contains(&pinned_key(s))
                };
                if !fetched {
                    wanted
                        .secret_describe
                        .entry(region)
                        .or_default()
                        .insert(s.id.clone());
                }
            }
            _ => {}
        }
    }
    wanted
}

fn count_calls(wanted: &Wanted) -> usize {
    let batches = |groups: &BTreeMap<RegionKey, BTreeSet<String>>, size: usize| {
        groups
            .values()
            .map(|g| g.len().div_ceil(size))
            .sum::<usize>()
    };
    batches(&wanted.ssm_values, ssm::BATCH)
        + batches(&wanted.ssm_arns, ssm::BATCH)
        + batches(&wanted.secret_current, secretsmanager::BATCH)
        + wanted.secret_pinned.len()
        + wanted
            .secret_describe
            .values()
            .map(BTreeSet::len)
            .sum::<usize>()
}

/// Turns the answers into a value per reference, or one error listing every failure.
fn interpret(
    slots: &[Slot],
    answers: &Answers,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<HashMap<Reference, Resolved>, Error> {
    let mut resolved = HashMap::new();
    let mut problems = Vec::new();
    for slot in slots {
        for (reference, raw, location) in slot.references() {
            let result = match reference {
                Reference::Env { .. } => continue,
                Reference::Ssm(p) => parameter_value(answers, p, region_of),
                Reference::SsmArn(p) => parameter_arn(answers, p, region_of),
                Reference::Secret(s) => secret_value(answers, s, region_of),
                Reference::SecretArn(s) => secret_arn(answers, s, region_of),
            };
            match result {
                Ok(value) => {
                    resolved.insert(reference.clone(), value);
                }
                Err(reason) => problems.push(Problem {
                    location: location.clone(),
                    reference: Some(raw.to_owned()),
                    reason,
                }),
            }
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(Error::Resolve {
            problems: Problems(problems),
        })
    }
}

fn parameter_value(
    answers: &Answers,
    p: &Parameter,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let fetched = answers.parameters[&(region_of(p.region()), p.request_name())].as_ref()?;
    Ok(Resolved {
        text: fetched.value.clone().unwrap_or_else(|| Secret::new("")),
        secret: fetched.secure,
    })
}

fn parameter_arn(
    answers: &Answers,
    p: &Parameter,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let key = (region_of(p.region()), p.id.clone());
    let fetched = answers
        .parameters
        .get(&key)
        .or_else(|| answers.parameter_arns.get(&key))
        .expect("every ARN reference was planned")
        .as_ref()?;
    Ok(Resolved {
        text: Secret::new(fetched.arn.clone()),
        secret: false,
    })
}

fn secret_value(
    answers: &Answers,
    s: &SecretId,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let key = (
        region_of(s.region()),
        s.id.clone(),
        s.version_stage.clone().filter(|_| !s.is_current()),
        s.version_id.clone(),
    );
    let fetched = answers.secrets[&key].as_ref()?;
    let text = match &s.json_key {
        None => fetched.value.clone(),
        Some(key) => json_key(&fetched.value, key)?,
    };
    Ok(Resolved { text, secret: true })
}

fn json_key(value: &Secret, key: &str) -> Result<Secret, String> {
    let document: serde_json::Value = serde_json::from_str(value.expose())
        .map_err(|_| format!("the secret is not a JSON object, so it has no key `{key}`"))?;
    let Some(object) = document.as_object() else {
        return Err(format!(
            "the secret is not a JSON object, so it has no key `{key}`"
        ));
    };
    match object.get(key) {
        Some(serde_json::Value::String(text)) => Ok(Secret::new(text.clone())),
        Some(other) => Ok(Secret::new(other.to_string())),
        None => {
            let keys: Vec<String> = object.keys().map(|k| format!("`{k}`")).collect();
            Err(format!(
                "the secret has no JSON key `{key}`; its keys are {}",
                keys.join(", ")
            ))
        }
    }
}

fn secret_arn(
    answers: &Answers,
    s: &SecretId,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let region = region_of(s.region());
    let value_key = (
        region.clone(),
        s.id.clone(),
        s.version_stage.clone().filter(|_| !s.is_current()),
        s.version_id.clone(),
    );
    let arn = if let Some(fetched) = answers.secrets.get(&value_key) {
        fetched.as_ref()?.arn.clone()
    } else {
        let described = answers
            .described
            .get(&(region, s.id.clone()))
            .expect("every ARN reference was planned")
            .as_ref()?;
        if let Some(version_id) = &s.version_id
            && !described.versions.contains_key(version_id)
        {
            return Err(format!("the secret has no version `{version_id}`"));
        }
        if let Some(stage) = &s.version_stage
            && !described.versions.values().flatten().any(|st| st == stage)
        {
            return Err(format!("no version of the secret has stage `{stage}`"));
        }
        described.arn.clone()
    };
    Ok(Resolved {
        text: Secret::new(s.value_from(&arn)),
        secret: false,
    })
}
