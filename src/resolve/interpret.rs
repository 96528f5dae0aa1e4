//! The answers of the calls, turned into a value per reference, or one error listing every
//! failure with its place. Pure: the answers come from the calls in `resolve`.

use std::collections::HashMap;

use super::calls::{RegionKey, VersionKey};
use super::for_each_reference;
use crate::aws::Failure;
use crate::aws::{secretsmanager, ssm};
use crate::error::{Error, Problems};
use crate::mask::Secret;
use crate::placeholder::{Reference, Resolved};
use crate::reference::{Parameter, SecretId};
use crate::template::Slot;

/// What came back, by what was asked.
#[derive(Default)]
pub struct Answers {
    pub parameters: HashMap<(RegionKey, String), Result<ssm::Fetched, Failure>>,
    pub parameter_arns: HashMap<(RegionKey, String), Result<ssm::Fetched, Failure>>,
    pub secrets: HashMap<VersionKey, Result<secretsmanager::Fetched, Failure>>,
    pub described: HashMap<(RegionKey, String), Result<secretsmanager::Described, Failure>>,
}

/// A value per reference of the slots, or one error listing every failure.
pub fn interpret(
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

fn answer<'a, T, K: Eq + std::hash::Hash>(
    map: &'a HashMap<K, Result<T, Failure>>,
    key: &K,
) -> Result<&'a T, String> {
    map.get(key)
        .ok_or(UNANSWERED)?
        .as_ref()
        .map_err(ToString::to_string)
}

fn parameter_value(
    answers: &Answers,
    p: &Parameter,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
) -> Result<Resolved, String> {
    let fetched = answer(
        &answers.parameters,
        &(region_of(p.region()), p.request_name()),
    )?;
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
    let map = if answers.parameters.contains_key(&key) {
        &answers.parameters
    } else {
        &answers.parameter_arns
    };
    let fetched = answer(map, &key)?;
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
        let described = answer(&answers.described, &(region, s.id.clone()))?;
        return Ok(Resolved {
            text: Secret::new(""),
            secret: true,
            changed_at: described.changed_at,
        });
    };
    let fetched = fetched.as_ref().map_err(ToString::to_string)?;
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

/// The text of one key of a JSON secret, as it is substituted (numbers as written).
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
            let fetched = fetched.as_ref().map_err(ToString::to_string)?;
            // The value was read for another placeholder anyway: check the key ECS will look up.
            if let Some(key) = &s.json_key {
                json_key(&fetched.value, key)?;
            }
            (fetched.arn.clone(), fetched.changed_at)
        } else {
            let described = answer(&answers.described, &(region, s.id.clone()))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Kind;

    fn secret(id: &str) -> SecretId {
        SecretId::parse(id).unwrap()
    }

    fn fetched(value: &str) -> secretsmanager::Fetched {
        secretsmanager::Fetched {
            arn: "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf".into(),
            value: Secret::new(value),
            changed_at: Some(7),
        }
    }

    fn none(_: Option<&str>) -> RegionKey {
        None
    }

    #[test]
    fn a_json_key_is_taken_from_the_value_and_a_missing_one_named() {
        let mut answers = Answers::default();
        let id = secret("db:password");
        answers.secrets.insert(
            (None, id.version_key()),
            Ok(fetched(r#"{"password":"pw","port":5432,"ratio":1.10}"#)),
        );
        let value = secret_value(&answers, &id, &none).unwrap();
        assert_eq!(value.text.expose(), "pw");
        assert!(value.secret);
        let ratio = secret_value(&answers, &secret("db:ratio"), &none).unwrap();
        assert_eq!(ratio.text.expose(), "1.10");
        let err = secret_value(&answers, &secret("db:user"), &none).unwrap_err();
        assert_eq!(err, "the secret has no JSON key `user` (it has 3 keys)");
    }

    #[test]
    fn an_arn_reference_needs_the_version_it_names() {
        let mut answers = Answers::default();
        let described = secretsmanager::Described {
            arn: "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf".into(),
            versions: HashMap::from([("v1".repeat(16), vec!["AWSCURRENT".into()])]),
            changed_at: None,
            kms_key_id: None,
            tags: Vec::new(),
        };
        answers.described.insert((None, "db".into()), Ok(described));
        let arn = secret_arn(&answers, &secret("db:password"), &none).unwrap();
        assert_eq!(
            arn.text.expose(),
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf:password::"
        );
        let err = secret_arn(&answers, &secret("db::AWSPENDING"), &none).unwrap_err();
        assert_eq!(err, "no version of the secret has stage `AWSPENDING`");
    }

    #[test]
    fn a_failure_is_the_reference_s_reason() {
        let mut answers = Answers::default();
        let p = Parameter::parse("/app/key").unwrap();
        let failure = Failure {
            kind: Kind::NotFound,
            ..Failure::answer("Parameter Store", "parameter not found (or not readable)")
        };
        answers
            .parameters
            .insert((None, p.request_name()), Err(failure));
        let err = parameter_value(&answers, &p, &none).unwrap_err();
        assert_eq!(err, "parameter not found (or not readable)");
        let unanswered = parameter_value(&Answers::default(), &p, &none).unwrap_err();
        assert_eq!(unanswered, UNANSWERED);
    }
}
