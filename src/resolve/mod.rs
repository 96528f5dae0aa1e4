//! Resolution: collect every reference of the template, deduplicate, fetch in batches (bounded
//! concurrency, grouped by Region), and turn the answers into values. All or nothing: one error
//! lists every failing reference with its place.
//!
//! [`calls`] decides the calls and [`interpret`] reads the answers, both pure; this module runs
//! the calls and the local rules (`env` values, secret values refused where they must not go).

mod calls;
mod interpret;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::future::{FutureExt as _, LocalBoxFuture};
use futures_util::stream::{self, StreamExt as _};
use tracing::{debug, info};

pub use calls::Mode;

use crate::aws::{Aws, Failure, secretsmanager, ssm};
use crate::error::{Error, Location, Problem, Problems};
use crate::mask::{OnSecret, Secret};
use crate::placeholder::{Reference, Resolved};
use crate::template::Slot;
use calls::{RegionKey, VersionKey, Wanted};
use interpret::Answers;

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

fn invalid(problems: Vec<Problem>) -> Result<(), Error> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            problems: Problems(problems),
        })
    }
}

/// Whether any reference of the slots needs AWS.
pub fn needs_aws(slots: &[Slot]) -> bool {
    slots
        .iter()
        .flat_map(Slot::references)
        .any(|(reference, _, _)| !matches!(reference, Reference::Env { .. }))
}

/// Resolves what needs no AWS call (`env`) and refuses Secrets Manager values in plain text
/// unless allowed. Runs before any AWS call, so bad input costs nothing.
pub fn resolve_local(
    slots: &[Slot],
    environment: &BTreeMap<String, String>,
    allow_plaintext_secrets: bool,
    on_secret: OnSecret<'_>,
) -> Result<HashMap<Reference, Resolved>, Error> {
    let mut resolved = HashMap::new();
    let problems = for_each_reference(slots, |reference, slot| match reference {
        Reference::Env { name, fallback } => {
            let value = env_value(
                environment,
                name,
                fallback.as_deref(),
                &slot.path,
                allow_plaintext_secrets,
            )?;
            if value.secret {
                on_secret(&value.text, &format!("env:{name}"));
            }
            resolved.insert(reference.clone(), value);
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
    invalid(problems).map(|()| resolved)
}

/// An `env` placeholder's value; one naming a credential variable is a secret.
fn env_value(
    environment: &BTreeMap<String, String>,
    name: &str,
    fallback: Option<&str>,
    path: &str,
    allow_plaintext_secrets: bool,
) -> Result<Resolved, String> {
    // As in the shell's `${NAME:-fallback}`: an empty value takes the fallback too.
    let set = environment
        .get(name)
        .filter(|v| !v.is_empty())
        .map(String::as_str);
    let Some(value) = set
        .or(fallback)
        .or(environment.get(name).map(String::as_str))
    else {
        return Err(format!(
            "environment variable `{name}` is not set and has no fallback (write `{{{{env:{name}:-default}}}}` for one)"
        ));
    };
    let secret = CREDENTIAL_VARIABLES.contains(&name);
    if secret && never_a_value(path) {
        return Err(value_in_reference_field(path, &format!("env:{name}")));
    }
    if secret && !allow_plaintext_secrets {
        return Err(format!(
            "`{name}` holds a credential; it would land in plain text at `{path}` (set `allow-plaintext-secrets` to accept that)"
        ));
    }
    Ok(Resolved {
        text: Secret::new(value),
        secret,
        changed_at: None,
    })
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
    invalid(problems)
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

/// One call's answers.
enum Reply {
    /// `values` tells a value fetch from an ARN-only one.
    Parameters {
        region: RegionKey,
        values: bool,
        results: Vec<(String, Result<ssm::Fetched, Failure>)>,
    },
    Secrets(
        RegionKey,
        Vec<(String, Result<secretsmanager::Fetched, Failure>)>,
    ),
    Pinned(VersionKey, Result<secretsmanager::Fetched, Failure>),
    Described(
        RegionKey,
        String,
        Result<secretsmanager::Described, Failure>,
    ),
    /// Many secrets described by one `ListSecrets` call (and `DescribeSecret` for any it left out).
    DescribedMany(
        RegionKey,
        Vec<(String, Result<secretsmanager::Described, Failure>)>,
    ),
}

/// Fetches every AWS reference of the slots. `on_secret` sees each secret value as soon as it
/// arrives, before anything else can print it (to register it with the redactor and the CI).
pub async fn resolve_remote(
    slots: &[Slot],
    aws: &Aws,
    mode: Mode,
    on_secret: OnSecret<'_>,
) -> Result<HashMap<Reference, Resolved>, Error> {
    let default_region = aws.region().to_owned();
    let region_of = |region: Option<&str>| -> RegionKey {
        region.filter(|r| *r != default_region).map(str::to_owned)
    };
    let references: BTreeSet<&Reference> = slots
        .iter()
        .flat_map(|s| s.references().map(|(r, _, _)| r))
        .collect();
    let wanted = calls::needed(references.iter().copied(), &region_of, mode);
    let call_count = wanted.calls();
    if call_count == 0 {
        return Ok(HashMap::new());
    }
    info!(
        references = references.len(),
        calls = call_count,
        "resolving references"
    );
    // Parameter Store calls wait for their slot under the rate bound (its quota is shared by the
    // whole account and low), Secrets Manager's list and batch calls under theirs; at most
    // `concurrency` calls are in flight.
    let paced = requests(&wanted, aws)
        .into_iter()
        .map(|(quota, call)| async move {
            match quota {
                Quota::ParameterStore => aws.pace().await,
                Quota::SecretLists => aws.pace_secret_lists().await,
                Quota::High => {}
            }
            call.await
        });
    let mut outcomes = stream::iter(paced).buffer_unordered(aws.limits.concurrency);
    let mut answers = Answers::default();
    while let Some(outcome) = outcomes.next().await {
        record(&mut answers, outcome, on_secret);
    }
    debug!("all calls answered");
    interpret::interpret(slots, &answers, &region_of)
}

/// Files one call's answers, showing each secret value to `on_secret` first.
fn record(answers: &mut Answers, outcome: Reply, on_secret: OnSecret<'_>) {
    match outcome {
        Reply::Parameters {
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
        Reply::Secrets(region, results) => {
            for (id, result) in results {
                if let Ok(value) = &result {
                    on_secret(&value.value, &format!("secretsmanager:{id}"));
                }
                answers
                    .secrets
                    .insert((region.clone(), (id, None, None)), result);
            }
        }
        Reply::Pinned(key, result) => {
            if let Ok(value) = &result {
                on_secret(&value.value, &format!("secretsmanager:{}", key.1.0));
            }
            answers.secrets.insert(key, result);
        }
        Reply::Described(region, id, result) => {
            answers.described.insert((region, id), result);
        }
        Reply::DescribedMany(region, results) => {
            for (id, result) in results {
                answers.described.insert((region.clone(), id), result);
            }
        }
    }
}

/// Which rate bound a call keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quota {
    /// `max-requests-per-second`.
    ParameterStore,
    /// `ListSecrets`, `BatchGetSecretValue`: [`crate::aws::SECRETS_MANAGER_LISTS_PER_SECOND`].
    SecretLists,
    /// `GetSecretValue`, `DescribeSecret`: quotas in the thousands a second.
    High,
}

type Call = (Quota, LocalBoxFuture<'static, Reply>);

/// One future per AWS call the plan needs, each marked with the rate bound it keeps to.
fn requests(wanted: &Wanted, aws: &Aws) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    for (values, decrypt, groups) in [
        (true, wanted.decrypt, &wanted.ssm_values),
        (false, false, &wanted.ssm_arns),
    ] {
        for (region, names) in groups {
            let client = aws.ssm(region.as_deref());
            let names: Vec<String> = names.iter().cloned().collect();
            for chunk in names.chunks(ssm::BATCH) {
                let (client, chunk, region) = (client.clone(), chunk.to_vec(), region.clone());
                let call = async move {
                    let results = ssm::get_parameters(&client, &chunk, decrypt).await;
                    Reply::Parameters {
                        region,
                        values,
                        results,
                    }
                };
                calls.push((Quota::ParameterStore, call.boxed_local()));
            }
        }
    }
    for (region, ids) in &wanted.secret_current {
        let client = aws.secretsmanager(region.as_deref());
        let ids: Vec<String> = ids.iter().cloned().collect();
        for chunk in ids.chunks(secretsmanager::BATCH) {
            let (client, chunk, region) = (client.clone(), chunk.to_vec(), region.clone());
            let call = async move {
                Reply::Secrets(region, secretsmanager::batch_get(&client, &chunk).await)
            };
            calls.push((Quota::SecretLists, call.boxed_local()));
        }
    }
    for key in &wanted.secret_pinned {
        let client = aws.secretsmanager(key.0.as_deref());
        let key = key.clone();
        let call = async move {
            let (id, stage, version) = &key.1;
            let result =
                secretsmanager::get(&client, id, stage.as_deref(), version.as_deref()).await;
            Reply::Pinned(key, result)
        };
        calls.push((Quota::High, call.boxed_local()));
    }
    for (region, names) in &wanted.secret_listed {
        let client = aws.secretsmanager(region.as_deref());
        let names: Vec<String> = names.iter().cloned().collect();
        for chunk in names.chunks(secretsmanager::NAMES_PER_LIST) {
            let (client, chunk, region) = (client.clone(), chunk.to_vec(), region.clone());
            let call = async move {
                let results = secretsmanager::describe_by_names(&client, &chunk).await;
                Reply::DescribedMany(region, results)
            };
            calls.push((Quota::SecretLists, call.boxed_local()));
        }
    }
    for (region, ids) in &wanted.secret_describe {
        let client = aws.secretsmanager(region.as_deref());
        for id in ids {
            let (client, id, region) = (client.clone(), id.clone(), region.clone());
            let call = async move {
                let result = secretsmanager::describe(&client, &id).await;
                Reply::Described(region, id, result)
            };
            calls.push((Quota::High, call.boxed_local()));
        }
    }
    calls
}
