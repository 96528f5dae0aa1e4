//! Resolution: collect every reference of the template, deduplicate, fetch in batches (bounded
//! concurrency, grouped by Region), and turn the answers into values. All or nothing: one error
//! lists every failing reference with its place.

pub mod secretsmanager;
pub mod ssm;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::future::{FutureExt as _, LocalBoxFuture};
use futures_util::stream::{self, StreamExt as _};
use tracing::{debug, info};

use crate::aws::Aws;
use crate::error::{Error, Location, Problem, Problems};
use crate::mask::Secret;
use crate::placeholder::Reference;
use crate::reference::{Parameter, SecretId};
use crate::taskdef::{Resolved, Slot};

/// Environment variables that hold credentials: an `env` placeholder naming one yields a secret.
const CREDENTIAL_VARIABLES: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "GITHUB_TOKEN",
];

/// Runs `check` on every placeholder of the slots and gathers the failures as problems.
fn for_each_reference(
    slots: &[Slot],
    mut check: impl FnMut(&Reference, &Slot) -> Result<(), String>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for slot in slots {
        for (reference, raw, location) in slot.references() {
            if let Err(reason) = check(reference, slot) {
                problems.push(problem(location, raw, reason));
            }
        }
    }
    problems
}

fn problem(location: &Location, raw: &str, reason: String) -> Problem {
    Problem {
        location: location.clone(),
        reference: Some(raw.to_owned()),
        reason,
    }
}

/// Resolves what needs no AWS call (`env`) and refuses Secrets Manager values in plain text
/// unless allowed. Runs before any AWS call, so bad input costs nothing.
pub fn resolve_local(
    slots: &[Slot],
    environment: &BTreeMap<String, String>,
    allow_plaintext_secrets: bool,
    on_secret: &dyn Fn(&Secret, &str),
) -> Result<HashMap<Reference, Resolved>, Error> {
    let mut resolved = HashMap::new();
    let problems = for_each_reference(slots, |reference, slot| match reference {
        Reference::Env { name, fallback } => {
            // As in the shell's `${NAME:-fallback}`: an empty value takes the fallback too.
            let set = environment.get(name).filter(|v| !v.is_empty());
            let Some(value) = set.or(fallback.as_ref()).or(environment.get(name)) else {
                return Err(format!(
                    "environment variable `{name}` is not set and has no fallback (write `{{{{env:{name}:-default}}}}` for one)"
                ));
            };
            let secret = CREDENTIAL_VARIABLES.contains(&name.as_str());
            if secret && never_a_value(&slot.path) {
                return Err(value_in_reference_field(&slot.path, &format!("env:{name}")));
            }
            if secret && !allow_plaintext_secrets {
                return Err(format!(
                    "`{name}` holds a credential; it would land in plain text at `{}` (set `allow-plaintext-secrets` to accept that)",
                    slot.path
                ));
            }
            let text = Secret::new(value.clone());
            if secret {
                on_secret(&text, &format!("env:{name}"));
            }
            resolved.insert(
                reference.clone(),
                Resolved {
                    text,
                    secret,
                    changed_at: None,
                },
            );
            Ok(())
        }
        Reference::Secret(secret) if never_a_value(&slot.path) => Err(value_in_reference_field(
            &slot.path,
            &format!("secretsmanager-arn:{}", secret.body()),
        )),
        Reference::Secret(secret) if !allow_plaintext_secrets => Err(plaintext_refusal(
            &slot.path,
            &format!("secretsmanager-arn:{}", secret.body()),
        )),
        _ => Ok(()),
    });
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(Error::Invalid {
            problems: Problems(problems),
        })
    }
}

/// Refuses Parameter Store `SecureString` values in plain text, once their type is known (in a
/// field that takes a reference or names the definition, even with the opt-in).
pub fn refuse_plaintext(
    slots: &[Slot],
    resolved: &HashMap<Reference, Resolved>,
    allow_plaintext_secrets: bool,
) -> Result<(), Error> {
    let problems = for_each_reference(slots, |reference, slot| match reference {
        Reference::Ssm(parameter) if resolved.get(reference).is_some_and(|r| r.secret) => {
            let arn_form = format!("ssm-arn:{}", parameter.id);
            if never_a_value(&slot.path) {
                Err(format!(
                    "is a SecureString: {}",
                    value_in_reference_field(&slot.path, &arn_form)
                ))
            } else if allow_plaintext_secrets {
                Ok(())
            } else {
                Err(format!(
                    "is a SecureString: {}",
                    plaintext_refusal(&slot.path, &arn_form)
                ))
            }
        }
        _ => Ok(()),
    });
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            problems: Problems(problems),
        })
    }
}

/// Fields that must never hold a secret value, even with `allow-plaintext-secrets`: those ECS
/// reads as a reference (`valueFrom`, `credentialsParameter`: a value there is never what anyone
/// wants, and a later plan could not tell it from an ARN), and those ECS writes into every ARN,
/// event and report (`family`, the roles).
fn never_a_value(path: &str) -> bool {
    let field = path.rsplit('.').next().unwrap_or(path);
    matches!(
        field,
        "valueFrom" | "credentialsParameter" | "family" | "executionRoleArn" | "taskRoleArn"
    )
}

fn value_in_reference_field(path: &str, arn_form: &str) -> String {
    let field = path.rsplit('.').next().unwrap_or(path);
    if matches!(field, "valueFrom" | "credentialsParameter") {
        format!(
            "would put the secret value itself into `{path}`, where ECS expects an ARN; write `{{{{{arn_form}}}}}` instead (refused even with `allow-plaintext-secrets`)"
        )
    } else {
        format!(
            "would put a secret value into `{path}`, which ECS shows in every ARN, event and report (refused even with `allow-plaintext-secrets`)"
        )
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

/// A Region key: `None` is the default Region.
type RegionKey = Option<String>;

/// One secret version to fetch: Region, then [`SecretId::version_key`].
type VersionKey = (RegionKey, (String, Option<String>, Option<String>));

/// What to fetch, deduplicated.
#[derive(Default)]
struct Wanted {
    /// Whether `ssm` values are decrypted: only when a `SecureString` value may be used.
    decrypt: bool,
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
    secrets: HashMap<VersionKey, Result<secretsmanager::Fetched, String>>,
    described: HashMap<(RegionKey, String), Result<secretsmanager::Described, String>>,
}

enum Outcome {
    /// `values` tells a value fetch from an ARN-only one.
    Parameters {
        region: RegionKey,
        values: bool,
        results: Vec<(String, Result<ssm::Fetched, String>)>,
    },
    Secrets(
        RegionKey,
        Vec<(String, Result<secretsmanager::Fetched, String>)>,
    ),
    Pinned(VersionKey, Result<secretsmanager::Fetched, String>),
    Described(RegionKey, String, Result<secretsmanager::Described, String>),
}

/// What resolution may read.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Decrypt `ssm` values: only when a `SecureString` value may be used.
    pub decrypt: bool,
    /// Read `secretsmanager` values; off for `check` and `policy`, which describe them instead.
    pub read_secret_values: bool,
}

/// Fetches every AWS reference of the slots. `on_secret` sees each secret value as soon as it
/// arrives, before anything else can print it (to register it with the redactor and the CI).
pub async fn resolve_remote(
    slots: &[Slot],
    aws: &Aws,
    mode: Mode,
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
    let wanted = plan(&references, &region_of, mode);
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
    // Each call waits for its slot under the rate bound; at most `concurrency` are in flight.
    // Parameter Store calls wait for their slot under the rate bound (its quota is shared by the
    // whole account and low); at most `concurrency` calls are in flight.
    let paced = calls(&wanted, aws)
        .into_iter()
        .map(|(parameter_store, call)| async move {
            if parameter_store {
                aws.pace().await;
            }
            call.await
        });
    let mut outcomes = stream::iter(paced).buffer_unordered(aws.limits.concurrency);
    while let Some(outcome) = outcomes.next().await {
        match outcome {
            Outcome::Parameters {
                region,
                values,
                results,
            } => {
                for (name, result) in results {
                    if let Ok(ssm::Fetched {
                        secure: true,
                        value: Some(value),
                        ..
                    }) = &result
                    {
                        on_secret(value, &format!("ssm:{name}"));
                    }
                    let map = if values {
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
                    let key = (region.clone(), (id, None, None));
                    answers.secrets.insert(key, result);
                }
            }
            Outcome::Pinned(key, result) => {
                if let Ok(value) = &result {
                    on_secret(&value.value, &format!("secretsmanager:{}", key.1.0));
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

/// One future per AWS call the plan needs, each marked whether it is a Parameter Store call.
fn calls(wanted: &Wanted, aws: &Aws) -> Vec<(bool, LocalBoxFuture<'static, Outcome>)> {
    let mut calls: Vec<(bool, LocalBoxFuture<'static, Outcome>)> = Vec::new();
    for (values, decrypt, groups) in [
        (true, wanted.decrypt, &wanted.ssm_values),
        (false, false, &wanted.ssm_arns),
    ] {
        for (region, names) in groups {
            let client = aws.ssm(region.as_deref());
            let names: Vec<String> = names.iter().cloned().collect();
            for chunk in names.chunks(ssm::BATCH) {
                let (client, chunk, region) = (client.clone(), chunk.to_vec(), region.clone());
                calls.push((
                    true,
                    async move {
                        let results = ssm::get_parameters(&client, &chunk, decrypt).await;
                        Outcome::Parameters {
                            region,
                            values,
                            results,
                        }
                    }
                    .boxed_local(),
                ));
            }
        }
    }
    for (region, ids) in &wanted.secret_current {
        let client = aws.secretsmanager(region.as_deref());
        let ids: Vec<String> = ids.iter().cloned().collect();
        for chunk in ids.chunks(secretsmanager::BATCH) {
            let (client, chunk, region) = (client.clone(), chunk.to_vec(), region.clone());
            calls.push((
                false,
                async move {
                    Outcome::Secrets(region, secretsmanager::batch_get(&client, &chunk).await)
                }
                .boxed_local(),
            ));
        }
    }
    for key in &wanted.secret_pinned {
        let client = aws.secretsmanager(key.0.as_deref());
        let key = key.clone();
        calls.push((
            false,
            async move {
                let (id, stage, version) = &key.1;
                let result =
                    secretsmanager::get(&client, id, stage.as_deref(), version.as_deref()).await;
                Outcome::Pinned(key, result)
            }
            .boxed_local(),
        ));
    }
    for (region, ids) in &wanted.secret_describe {
        let client = aws.secretsmanager(region.as_deref());
        for id in ids {
            let (client, id, region) = (client.clone(), id.clone(), region.clone());
            calls.push((
                false,
                async move {
                    let result = secretsmanager::describe(&client, &id).await;
                    Outcome::Described(region, id, result)
                }
                .boxed_local(),
            ));
        }
    }
    calls
}

fn plan(
    references: &BTreeSet<&Reference>,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
    mode: Mode,
) -> Wanted {
    let mut wanted = Wanted {
        decrypt: mode.decrypt,
        ..Wanted::default()
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
            Reference::Secret(s) if !mode.read_secret_values => {
                wanted
                    .secret_describe
                    .entry(region_of(s.region()))
                    .or_default()
                    .insert(s.id.clone());
            }
            Reference::Secret(s) if s.is_current() => {
                wanted
                    .secret_current
                    .entry(region_of(s.region()))
                    .or_default()
                    .insert(s.id.clone());
            }
            Reference::Secret(s) => {
                wanted
                    .secret_pinned
                    .insert((region_of(s.region()), s.version_key()));
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
                    wanted
                        .secret_pinned
                        .contains(&(region.clone(), s.version_key()))
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
    let problems = for_each_reference(slots, |reference, _| {
        let value = match reference {
            Reference::Env { .. } => return Ok(()),
            Reference::Ssm(p) => parameter_value(answers, p, region_of)?,
            Reference::SsmArn(p) => parameter_arn(answers, p, region_of)?,
            Reference::Secret(s) => secret_value(answers, s, region_of)?,
            Reference::SecretArn(s) => secret_arn(answers, s, region_of)?,
        };
        resolved.insert(reference.clone(), value);
        Ok(())
    });
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(Error::Resolve {
            problems: Problems(problems),
        })
    }
}

const UNANSWERED: &str = "no answer was recorded for this reference";

fn parameter_value(
    answers: &Answers,
    p: &Parameter,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let fetched = answers
        .parameters
        .get(&(region_of(p.region()), p.request_name()))
        .ok_or(UNANSWERED)?
        .as_ref()?;
    Ok(Resolved {
        // A SecureString read without decryption has no value here; it is refused later.
        text: fetched.value.clone().unwrap_or_else(|| Secret::new("")),
        secret: fetched.secure,
        changed_at: fetched.changed_at,
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
        .ok_or(UNANSWERED)?
        .as_ref()?;
    Ok(Resolved {
        text: Secret::new(fetched.arn.clone()),
        secret: false,
        changed_at: fetched.changed_at,
    })
}

fn secret_value(
    answers: &Answers,
    s: &SecretId,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let region = region_of(s.region());
    let Some(fetched) = answers.secrets.get(&(region.clone(), s.version_key())) else {
        // Described only (`check`, `policy`): it exists, and its value is not read.
        let described = answers
            .described
            .get(&(region, s.id.clone()))
            .ok_or(UNANSWERED)?
            .as_ref()?;
        return Ok(Resolved {
            text: Secret::new(""),
            secret: true,
            changed_at: described.changed_at,
        });
    };
    let fetched = fetched.as_ref()?;
    let text = match &s.json_key {
        None => fetched.value.clone(),
        Some(key) => json_key(&fetched.value, key)?,
    };
    Ok(Resolved {
        text,
        secret: true,
        changed_at: fetched.changed_at,
    })
}

fn json_key(value: &Secret, key: &str) -> Result<Secret, String> {
    let not_object = || format!("the secret is not a JSON object, so it has no key `{key}`");
    let parsed = crate::document::json(value.expose()).map_err(|_| not_object())?;
    let object = parsed.value.as_object().ok_or_else(not_object)?;
    match parsed.text_at(&format!("/{}", crate::document::pointer_token(key))) {
        Some(text) => Ok(Secret::new(text)),
        None => Err(format!(
            "the secret has no JSON key `{key}` (it has {} key{})",
            object.len(),
            if object.len() == 1 { "" } else { "s" }
        )),
    }
}

fn secret_arn(
    answers: &Answers,
    s: &SecretId,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let region = region_of(s.region());
    let (arn, changed_at) =
        if let Some(fetched) = answers.secrets.get(&(region.clone(), s.version_key())) {
            let fetched = fetched.as_ref()?;
            // The value was read for another placeholder anyway: check the key ECS will look up.
            if let Some(key) = &s.json_key {
                json_key(&fetched.value, key)?;
            }
            (fetched.arn.clone(), fetched.changed_at)
        } else {
            let described = answers
                .described
                .get(&(region, s.id.clone()))
                .ok_or(UNANSWERED)?
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
            (described.arn.clone(), described.changed_at)
        };
    Ok(Resolved {
        text: Secret::new(s.value_from(&arn)),
        secret: false,
        changed_at,
    })
}
