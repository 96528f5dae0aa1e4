//! Secret and parameter values as named variables, for `export`: what
//! aws-actions/aws-secretsmanager-get-secrets does, plus Parameter Store, pinned versions,
//! prefixes and paths, and batched fetching.
//!
//! Entry lines (`secret-ids`): `[ALIAS,]ID`. A line the get-secrets action accepts means what it
//! means there: ID is a Secrets Manager name or ARN (with `:json-key:version-stage:version-id`
//! like placeholders; a name may start with `/`), or a prefix `name*`; a blank alias
//! (`,ID`) names a JSON secret's variables after its keys alone. Parameter Store entries say so:
//! `ssm:name` (optionally `:version` or `:label`), `ssm:/path/` (recursive), or a parameter ARN.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::{Aws, secretsmanager, ssm};
use crate::document;
use crate::error::Error;
use crate::mask::{OnSecret, Secret};
use crate::reference::{Arn, Parameter, SecretId};

/// How variable names are cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    Uppercase,
    Lowercase,
    None,
}

/// Where an entry's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Secret(SecretId),
    SecretPrefix(String),
    Parameter(Parameter),
    ParameterPath(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    alias: Option<String>,
    source: Source,
    line: String,
}

fn parse_entry(line: &str) -> Result<Entry, String> {
    let (alias, id) = match line.split_once(',') {
        // An alias is a variable name: the same characters rules as any other. A blank one
        // (`,ID`) is kept blank: a JSON secret's keys alone name its variables.
        Some((alias, id)) => (Some(variable_name(alias.trim(), Casing::None)), id.trim()),
        None => (None, line.trim()),
    };
    if id.is_empty() {
        return Err(format!("`{line}`: expected `[ALIAS,]ID`"));
    }
    let source = if let Some(name) = id.strip_prefix("ssm:") {
        if name.starts_with('/') && name.ends_with('/') {
            Source::ParameterPath(name.to_owned())
        } else {
            Source::Parameter(Parameter::parse(name)?)
        }
    } else if let Some(name) = id.strip_prefix("secretsmanager:") {
        Source::Secret(SecretId::parse(name)?)
    } else if Arn::parse(id).is_some_and(|a| a.service == "ssm") {
        Source::Parameter(Parameter::parse(id)?)
    } else if let Some(prefix) = id.strip_suffix('*') {
        Source::SecretPrefix(prefix.to_owned())
    } else {
        Source::Secret(SecretId::parse(id)?)
    };
    Ok(Entry {
        alias,
        source,
        line: line.trim().to_owned(),
    })
}

/// The variable name for a source name, as the get-secrets action forms it: every character
/// outside `[A-Za-z0-9_]` becomes `_`, a leading digit gets a `_` prefix, then the casing.
pub fn variable_name(name: &str, casing: Casing) -> String {
    variable_name_of(name.trim_start_matches('/'), casing)
}

/// A secret's variable name, exactly as the get-secrets action forms it: a leading `/` becomes
/// `_` like any other.
fn secret_variable_name(name: &str, casing: Casing) -> String {
    variable_name_of(name, casing)
}

fn variable_name_of(name: &str, casing: Casing) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    match casing {
        Casing::Uppercase => out.to_ascii_uppercase(),
        Casing::Lowercase => out.to_ascii_lowercase(),
        Casing::None => out,
    }
}

/// One exported variable and where it came from: the entry line, and for a flattened JSON
/// secret the key path in it.
pub struct Variable {
    pub name: String,
    pub value: Secret,
    pub source: String,
}

/// Flattens a JSON object secret into `NAME_KEY_SUBKEY` variables; non-string leaves keep their
/// JSON text.
fn flatten(
    prefix: &str,
    parsed: &document::Parsed,
    pointer: &str,
    casing: Casing,
    source: &str,
    out: &mut Vec<Variable>,
) {
    if let Some(serde_json::Value::Object(map)) = parsed.value.pointer(pointer) {
        for key in map.keys() {
            // A blank alias: the keys alone.
            let name = if prefix.is_empty() {
                variable_name(key, casing)
            } else {
                format!("{prefix}_{}", variable_name(key, casing))
            };
            let child = format!("{pointer}/{}", document::pointer_token(key));
            flatten(
                &name,
                parsed,
                &child,
                casing,
                &format!("{source} → {key}"),
                out,
            );
        }
    } else if let Some(text) = parsed.text_at(pointer) {
        out.push(Variable {
            name: prefix.to_owned(),
            value: Secret::new(text),
            source: source.to_owned(),
        });
    }
}

/// What the entries expand to, before any value is fetched (paths come with their values).
#[derive(Default)]
struct Expanded {
    secrets: Vec<(Option<String>, SecretId, String)>,
    parameters: Vec<(Option<String>, Parameter, String)>,
    path_values: Vec<(Option<String>, String, Secret, String)>,
}

/// Fetches every entry (batched) and returns the variables, in entry order. Each value is shown
/// to `on_secret` as soon as it arrives. Two sources giving one name is an error.
pub async fn fetch(
    aws: &Aws,
    lines: &[String],
    casing: Casing,
    parse_json: bool,
    on_secret: OnSecret<'_>,
) -> Result<Vec<Variable>, Error> {
    let mut problems = Vec::new();
    let entries: Vec<Entry> = lines
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| parse_entry(l).map_err(|e| problems.push(e)).ok())
        .collect();
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "input `secret-ids`: {}",
            problems.join("; ")
        )));
    }
    let expanded = expand(aws, &entries, on_secret).await?;
    let (secret_values, parameter_values) = fetch_values(aws, &expanded, on_secret).await?;
    let mut variables = name(
        expanded,
        &secret_values,
        &parameter_values,
        casing,
        parse_json,
    )?;
    refuse_clashes(&mut variables)?;
    Ok(variables)
}

/// Expands prefixes into secret names and paths into their parameters.
async fn expand(aws: &Aws, entries: &[Entry], on_secret: OnSecret<'_>) -> Result<Expanded, Error> {
    let mut expanded = Expanded::default();
    for entry in entries {
        let alias = entry.alias.clone();
        let line = entry.line.clone();
        // A blank alias means something for one JSON secret only.
        let prefix_alias = alias.clone().filter(|a| !a.is_empty());
        match &entry.source {
            Source::Secret(id) => expanded.secrets.push((alias, id.clone(), line)),
            Source::Parameter(p) => expanded.parameters.push((prefix_alias, p.clone(), line)),
            Source::SecretPrefix(prefix) => {
                for name in secret_names(aws, prefix).await? {
                    let alias = prefix_alias
                        .as_ref()
                        .map(|a| format!("{a}_{}", variable_name(&name, Casing::None)));
                    let id = SecretId::parse(&name).map_err(Error::Usage)?;
                    expanded
                        .secrets
                        .push((alias, id, format!("{line} → {name}")));
                }
            }
            Source::ParameterPath(path) => {
                for (name, value) in parameters_under(aws, path).await? {
                    on_secret(&value, &format!("ssm:{name}"));
                    let alias = prefix_alias.as_ref().map(|a| {
                        let relative = name.trim_start_matches(path.as_str());
                        format!("{a}_{}", variable_name(relative, Casing::None))
                    });
                    expanded
                        .path_values
                        .push((alias, name, value, line.clone()));
                }
            }
        }
    }
    Ok(expanded)
}

type Values = BTreeMap<String, Secret>;

/// Fetches the secrets (current versions in batches of 20, pinned ones one by one) and the
/// parameters (batches of 10, decrypted), each unique one once.
async fn fetch_values(
    aws: &Aws,
    expanded: &Expanded,
    on_secret: OnSecret<'_>,
) -> Result<(Values, Values), Error> {
    let sm = aws.secretsmanager(None);
    let mut secrets = Values::new();
    let current: BTreeSet<String> = expanded
        .secrets
        .iter()
        .filter(|(_, s, _)| s.is_current())
        .map(|(_, s, _)| s.id.clone())
        .collect();
    let current: Vec<String> = current.into_iter().collect();
    for chunk in current.chunks(secretsmanager::BATCH) {
        for (id, result) in secretsmanager::batch_get(&sm, chunk).await {
            let fetched = result.map_err(|reason| Error::Aws(not_read(&id, &reason, expanded)))?;
            on_secret(&fetched.value, &format!("secretsmanager:{id}"));
            secrets.insert(id, fetched.value);
        }
    }
    for (_, s, _) in expanded.secrets.iter().filter(|(_, s, _)| !s.is_current()) {
        let (stage, version) = (s.version_stage.as_deref(), s.version_id.as_deref());
        let fetched = secretsmanager::get(&sm, &s.id, stage, version)
            .await
            .map_err(|reason| Error::Aws(not_read(&s.body(), &reason, expanded)))?;
        on_secret(&fetched.value, &format!("secretsmanager:{}", s.id));
        secrets.insert(s.body(), fetched.value);
    }
    let ssm_client = aws.ssm(None);
    let names: BTreeSet<String> = expanded
        .parameters
        .iter()
        .map(|(_, p, _)| p.request_name())
        .collect();
    let names: Vec<String> = names.into_iter().collect();
    let mut parameters = Values::new();
    for chunk in names.chunks(ssm::BATCH) {
        aws.pace().await;
        for (name, result) in ssm::get_parameters(&ssm_client, chunk, true).await {
            let fetched =
                result.map_err(|reason| Error::Aws(format!("parameter `{name}`: {reason}")))?;
            let value = fetched.value.unwrap_or_else(|| Secret::new(""));
            on_secret(&value, &format!("ssm:{name}"));
            parameters.insert(name, value);
        }
    }
    Ok((secrets, parameters))
}

/// A secret that could not be read. A line that starts with `/` (not found, or denied to a role
/// that may read parameters only) may have been meant as a parameter: the error says how to
/// write that, from the line as it was written.
fn not_read(id: &str, reason: &crate::aws::Failure, expanded: &Expanded) -> String {
    let written = expanded
        .secrets
        .iter()
        .find(|(_, s, _)| s.id == id || s.body() == id)
        .map(|(_, _, line)| {
            line.split_once(',')
                .map_or(line.as_str(), |(_, id)| id)
                .trim()
        });
    let hint = match written {
        Some(written) if written.starts_with('/') => format!(
            " (a line without `ssm:` names a Secrets Manager secret, as in the get-secrets action; for the Parameter Store parameter, write `ssm:{written}`)"
        ),
        _ => String::new(),
    };
    format!("secret `{id}`: {reason}{hint}")
}

/// The variable name of a secret without an alias: its name, without an ARN's random suffix.
fn secret_name(id: &SecretId) -> &str {
    Arn::parse(&id.id).map_or(id.id.as_str(), |a| {
        let name = a.resource.trim_start_matches("secret:");
        name.rsplit_once('-')
            .filter(|(_, suffix)| suffix.len() == 6)
            .map_or(name, |(n, _)| n)
    })
}

fn json_key(value: &Secret, key: &str, line: &str) -> Result<Secret, Error> {
    let parsed = document::json(value.expose())
        .ok()
        .filter(|p| p.value.is_object())
        .ok_or_else(|| {
            Error::Aws(format!(
                "`{line}`: the secret is not JSON, so it has no key `{key}`"
            ))
        })?;
    parsed
        .text_at(&format!("/{}", document::pointer_token(key)))
        .map(Secret::new)
        .ok_or_else(|| Error::Aws(format!("`{line}`: the secret has no JSON key `{key}`")))
}

/// Names every value, in entry order.
fn name(
    expanded: Expanded,
    secrets: &Values,
    parameters: &Values,
    casing: Casing,
    parse_json: bool,
) -> Result<Vec<Variable>, Error> {
    let mut variables = Vec::new();
    for (alias, id, line) in &expanded.secrets {
        let key = if id.is_current() {
            id.id.clone()
        } else {
            id.body()
        };
        let value = &secrets[&key];
        let value = match &id.json_key {
            Some(key) => json_key(value, key, line)?,
            None => value.clone(),
        };
        let parsed = document::json(value.expose())
            .ok()
            .filter(|p| parse_json && p.value.is_object());
        // A blank alias names a JSON secret's variables after its keys; anything else after
        // the secret (as the get-secrets action does).
        let base = alias
            .clone()
            .filter(|a| !a.is_empty() || parsed.is_some())
            .unwrap_or_else(|| secret_variable_name(secret_name(id), casing));
        match parsed {
            Some(parsed) => {
                flatten(&base, &parsed, "", casing, line, &mut variables);
            }
            _ => variables.push(Variable {
                name: base,
                value,
                source: line.clone(),
            }),
        }
    }
    for (alias, p, line) in &expanded.parameters {
        let name = alias.clone().unwrap_or_else(|| {
            let plain = Arn::parse(&p.id).map_or(p.id.as_str(), |a| {
                a.resource.trim_start_matches("parameter")
            });
            variable_name(plain, casing)
        });
        variables.push(Variable {
            name,
            value: parameters[&p.request_name()].clone(),
            source: line.clone(),
        });
    }
    for (alias, name, value, line) in expanded.path_values {
        let name = alias.map_or_else(
            || variable_name(&name, casing),
            |a| variable_name(&a, casing),
        );
        variables.push(Variable {
            name,
            value,
            source: line,
        });
    }
    Ok(variables)
}

/// Two sources, one name: an error, not an overwrite. (The same entry listed twice is one
/// source.)
fn refuse_clashes(variables: &mut Vec<Variable>) -> Result<(), Error> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut clashes = Vec::new();
    variables.retain(|variable| match seen.get(&variable.name) {
        None => {
            seen.insert(variable.name.clone(), variable.source.clone());
            true
        }
        Some(first) if *first == variable.source => false,
        Some(first) => {
            clashes.push(format!(
                "`{}` comes from both `{first}` and `{}`",
                variable.name, variable.source
            ));
            true
        }
    });
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "export: two sources give one variable name: {}; give one of them an alias (`ALIAS,id`)",
            clashes.join("; ")
        )))
    }
}

async fn secret_names(aws: &Aws, prefix: &str) -> Result<Vec<String>, Error> {
    let names = secretsmanager::names_starting_with(&aws.secretsmanager(None), prefix)
        .await
        .map_err(|failure| Error::Aws(format!("ListSecrets for prefix `{prefix}*`: {failure}")))?;
    if names.is_empty() {
        return Err(Error::Aws(format!(
            "no secret's name starts with `{prefix}`"
        )));
    }
    Ok(names)
}

async fn parameters_under(aws: &Aws, path: &str) -> Result<Vec<(String, Secret)>, Error> {
    let found = ssm::by_path(aws, path)
        .await
        .map_err(|failure| Error::Aws(format!("GetParametersByPath `{path}`: {failure}")))?;
    if found.is_empty() {
        return Err(Error::Aws(format!("no parameter under path `{path}`")));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_get_secrets_action() {
        for (name, casing, expected) in [
            ("test/secret", Casing::Uppercase, "TEST_SECRET"),
            ("test/secret", Casing::Lowercase, "test_secret"),
            ("Test/Secret.v2", Casing::None, "Test_Secret_v2"),
            ("1st-secret", Casing::Uppercase, "_1ST_SECRET"),
            ("/app/db/host", Casing::Uppercase, "APP_DB_HOST"),
        ] {
            assert_eq!(variable_name(name, casing), expected);
        }
    }

    #[test]
    fn entries_tell_secrets_parameters_prefixes_and_paths_apart() {
        let sources: Vec<Source> = [
            "MY_ALIAS,test/secret",
            "prod/*",
            "ssm:/app/prod/",
            "ssm:/app/db/host:3",
            "ssm:plain",
            "prod/db:password::",
            "/special/chars/secret",
            ",prod/db",
        ]
        .iter()
        .map(|l| parse_entry(l).unwrap().source)
        .collect();
        assert!(matches!(&sources[0], Source::Secret(s) if s.id == "test/secret"));
        assert_eq!(sources[1], Source::SecretPrefix("prod/".into()));
        assert_eq!(sources[2], Source::ParameterPath("/app/prod/".into()));
        assert!(matches!(&sources[3], Source::Parameter(p) if p.selector.as_deref() == Some("3")));
        assert!(matches!(&sources[4], Source::Parameter(p) if p.id == "plain"));
        assert!(
            matches!(&sources[5], Source::Secret(s) if s.json_key.as_deref() == Some("password"))
        );
        // As in the get-secrets action: a leading `/` is part of a secret's name.
        assert!(matches!(&sources[6], Source::Secret(s) if s.id == "/special/chars/secret"));
        assert!(matches!(&sources[7], Source::Secret(s) if s.id == "prod/db"));
        assert_eq!(parse_entry(",prod/db").unwrap().alias.as_deref(), Some(""));
        assert_eq!(
            secret_variable_name("/special/chars/secret", Casing::Uppercase),
            "_SPECIAL_CHARS_SECRET"
        );
        assert_eq!(
            parse_entry("MY_ALIAS,test/secret")
                .unwrap()
                .alias
                .as_deref(),
            Some("MY_ALIAS")
        );
    }

    #[test]
    fn aliases_are_variable_names_and_same_line_key_clashes_are_refused() {
        assert_eq!(
            parse_entry("X;rm -rf ~;Y,test/secret")
                .unwrap()
                .alias
                .as_deref(),
            Some("X_rm__rf___Y")
        );
        let mut out = Vec::new();
        let doc = document::json(r#"{"a-b":"1","a_b":"2"}"#).unwrap();
        flatten("S", &doc, "", Casing::Uppercase, "line", &mut out);
        let err = refuse_clashes(&mut out).unwrap_err().to_string();
        assert!(
            err.contains("`S_A_B` comes from both `line → a-b` and `line → a_b`"),
            "{err}"
        );
    }

    #[test]
    fn json_secrets_flatten_to_name_key_subkey() {
        let mut out = Vec::new();
        let doc = document::json(
            r#"{"api_user":"x","config":{"active":true,"db-port":5432,"ratio":1.10,"big":1e3}}"#,
        )
        .unwrap();
        flatten("TEST_SECRET", &doc, "", Casing::Uppercase, "l", &mut out);
        let pairs: Vec<(String, String)> = out
            .iter()
            .map(|v| (v.name.clone(), v.value.expose().to_owned()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("TEST_SECRET_API_USER".into(), "x".into()),
                ("TEST_SECRET_CONFIG_ACTIVE".into(), "true".into()),
                ("TEST_SECRET_CONFIG_DB_PORT".into(), "5432".into()),
                ("TEST_SECRET_CONFIG_RATIO".into(), "1.10".into()),
                ("TEST_SECRET_CONFIG_BIG".into(), "1e3".into()),
            ]
        );
    }
}
