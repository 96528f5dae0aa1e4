//! `init`: a template from the task definition a service runs. Every `environment` value that
//! looks like a secret becomes a placeholder: one that a Secrets Manager secret or a Parameter
//! Store parameter of the account holds (found by name, confirmed by value) becomes a reference
//! to it; one whose name says it is a secret (PASSWORD, SECRET, TOKEN, KEY, …) and that nothing
//! holds becomes `{{env:NAME}}`, to be given by the CI. Each change is noted by name, never by
//! value. Rendered again (with `allow-plaintext-secrets` while the values stay in `environment`,
//! and the `env` variables set), the template gives back the same definition.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};
use tracing::{info, warn};

use crate::artifacts::Staged;
use crate::aws::{self, Aws, secretsmanager, ssm};
use crate::ci::Ci;
use crate::error::Error;
use crate::mask::{MIN_MASKED_LEN, Secret};
use crate::output::{self, Stream};
use crate::rollout::{self, Target};
use crate::template;

pub struct Init {
    pub target: Target,
    /// The template file; `-`: stdout, exactly.
    pub output: PathBuf,
    pub aws: aws::Settings,
}

/// Words in an environment variable's name that say its value is a secret.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "PRIVATE",
];

/// Where a value was found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    /// A Secrets Manager secret, or one JSON key of it.
    Secret { name: String, key: Option<String> },
    /// A Parameter Store parameter; `secure`: a `SecureString`.
    Parameter { name: String, secure: bool },
}

impl Holder {
    fn placeholder(&self) -> String {
        match self {
            Holder::Secret { name, key: None } => format!("{{{{secretsmanager:{name}}}}}"),
            Holder::Secret {
                name,
                key: Some(key),
            } => format!("{{{{secretsmanager:{name}:{key}}}}}"),
            Holder::Parameter { name, .. } => format!("{{{{ssm:{name}}}}}"),
        }
    }

    /// A value ECS should read from the holder, not from the definition.
    fn is_secret(&self) -> bool {
        !matches!(self, Holder::Parameter { secure: false, .. })
    }

    fn describe(&self) -> String {
        match self {
            Holder::Secret { name, key: None } => format!("Secrets Manager secret `{name}`"),
            Holder::Secret {
                name,
                key: Some(key),
            } => format!("key `{key}` of Secrets Manager secret `{name}`"),
            Holder::Parameter { name, secure: true } => {
                format!("SecureString parameter `{name}`")
            }
            Holder::Parameter { name, .. } => format!("parameter `{name}`"),
        }
    }
}

/// What init changed: the notes (names, never values), the pointers of the values it wrote, and
/// whether a secret value stays in `environment`.
#[derive(Default)]
struct Changes {
    notes: Vec<String>,
    written: Vec<String>,
    plaintext: bool,
    /// Listing the secrets or parameters failed: values were not all looked up.
    incomplete: bool,
}

impl Changes {
    /// Turns the entry into a placeholder when a holder has its value or its name says secret.
    fn apply(&mut self, body: &mut Map<String, Value>, entry: &Entry, holder: Option<&Holder>) {
        let (placeholder, note) = match holder {
            Some(holder) => {
                self.plaintext |= holder.is_secret();
                (
                    holder.placeholder(),
                    format!("its value is {}", holder.describe()),
                )
            }
            None if looks_secret(&entry.name) => (
                format!("{{{{env:{}}}}}", env_name(&entry.name)),
                "its name says secret and no secret or parameter of the account holds its value: set it in the CI's secrets, or better, store it in Secrets Manager and move it to `secrets`".to_owned(),
            ),
            None => return,
        };
        body["containerDefinitions"][entry.container]["environment"][entry.index]["value"] =
            Value::String(placeholder.clone());
        self.written.push(format!(
            "/containerDefinitions/{}/environment/{}/value",
            entry.container, entry.index
        ));
        self.notes.push(format!(
            "container `{}`, environment `{}` → `{placeholder}`: {note}",
            entry.container_name, entry.name
        ));
    }

    /// The notes and a summary, on stderr.
    fn say(&self) {
        for note in &self.notes {
            output::err(&format!("init: {note}"));
        }
        let summary = match self.notes.len() {
            0 => "init: no environment value looks like a secret; the template is the running definition".to_owned(),
            n => format!(
                "init: {n} environment value{} turned into placeholders{}",
                if n == 1 { "" } else { "s" },
                if self.plaintext {
                    "; while secret values stay in `environment`, deploy with `allow-plaintext-secrets: true`, or move each to `secrets` as `NAME={{secretsmanager-arn:…}}` / `{{ssm-arn:…}}` so that the definition holds references only"
                } else {
                    ""
                }
            ),
        };
        output::err(&summary);
        if self.incomplete {
            output::err(
                "init: listing secrets or parameters failed (see the warnings above), so values were not looked up in all of them: read the template before using it",
            );
        }
    }
}

/// One `environment` entry of one container.
struct Entry {
    container: usize,
    index: usize,
    container_name: String,
    name: String,
    value: String,
}

impl Init {
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        let aws = Aws::load(&self.aws).await?;
        let (arn, mut body) = self.running(&aws).await?;
        let entries = environment(&body);
        let family = body
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let (holders, complete) = find_holders(&aws, &entries, &family, ci).await;
        let mut changes = Changes {
            incomplete: !complete,
            ..Changes::default()
        };
        for entry in &entries {
            changes.apply(
                &mut body,
                entry,
                holders.get(&(entry.container, entry.index)),
            );
        }
        let mut body = Value::Object(body);
        template::escape_braces(&mut body, "", &mut |pointer, _| {
            !changes.written.iter().any(|w| w == pointer)
        });
        let mut text = serde_json::to_string_pretty(&body).expect("JSON serialises");
        text.push('\n');
        self.write(&text)?;
        changes.say();
        info!(arn = %arn, "template written from the revision the service runs");
        Ok(())
    }

    /// The ARN and body of the revision the service runs, parsed like any template (read-only
    /// fields and nulls dropped).
    async fn running(&self, aws: &Aws) -> Result<(String, Map<String, Value>), Error> {
        let client = aws.ecs();
        let service = rollout::describe(&client, &self.target).await?;
        let arn = service.task_definition.ok_or_else(|| {
            Error::Aws(format!(
                "service `{}` of cluster `{}` names no task definition",
                self.target.service, self.target.cluster
            ))
        })?;
        let described = aws::ecs::describe(&client, &arn)
            .await
            .map_err(|f| {
                Error::Aws(format!(
                    "cannot read task definition `{arn}` (DescribeTaskDefinition): {f}"
                ))
            })?
            .ok_or_else(|| Error::Aws(format!("task definition `{arn}` is not in ECS")))?;
        let text = serde_json::to_string(&Value::Object(described.body)).expect("JSON serialises");
        let body = template::parse(&PathBuf::from(&arn), &text)?.body;
        Ok((arn, body))
    }

    /// The template, to its file or, asked for in so many words (`output: -`), to stdout as it
    /// is: the values left in it are the running definition's own, and redacting would corrupt
    /// the JSON where one equals a masked value.
    fn write(&self, text: &str) -> Result<(), Error> {
        if self.output.as_os_str() == "-" {
            output::write_exact(Stream::Stdout, text);
        } else {
            let mut staged = Staged::default();
            staged.file(&self.output, text.as_bytes(), false)?;
            staged.commit()?;
            output::err(&format!("init: wrote `{}`", self.output.display()));
        }
        Ok(())
    }
}

/// Every `environment` entry with a non-empty string value and no placeholder.
fn environment(body: &Map<String, Value>) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (container, definition) in template::containers(body).enumerate() {
        let container_name = definition
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(Value::Array(environment)) = definition.get("environment") else {
            continue;
        };
        for (index, variable) in environment.iter().enumerate() {
            let (Some(name), Some(value)) = (
                variable.get("name").and_then(Value::as_str),
                variable.get("value").and_then(Value::as_str),
            ) else {
                continue;
            };
            if value.is_empty() || value.contains("{{") {
                continue;
            }
            entries.push(Entry {
                container,
                index,
                container_name: container_name.clone(),
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
    }
    entries
}

fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| upper.contains(word))
}

/// The name as an `env` placeholder takes it (letters, digits and `_`, no leading digit).
fn env_name(name: &str) -> String {
    crate::variables::variable_name(name, crate::variables::Casing::None)
}

/// `DB_PASSWORD`, `db-password`, `db.password` alike.
fn normalise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether a secret or parameter named `holder` is named like the variable `variable`: its
/// last path segment is the variable's name, or its whole name ends with it (`prod/app/DB_PASSWORD`,
/// `prod-app-db-password`).
fn named_like(holder: &str, variable: &str) -> bool {
    let variable = normalise(variable);
    let last = holder.rsplit('/').next().unwrap_or(holder);
    let whole = normalise(holder.trim_start_matches('/'));
    normalise(last) == variable || whole.ends_with(&format!("_{variable}"))
}

/// For each entry, the secret or parameter that holds its value: candidates found by name (named
/// like the variable; or, for a JSON secret's key named like it, like the container or the
/// family: `prod/web` holding `{"DB_PASSWORD": …}`), each read and compared. A secret value
/// found is also looked for under any other name (`DATABASE_PASS` holding what `prod/DB_PASSWORD`
/// holds). Only the values found are protected: the others are never written anywhere. The
/// second value is false when a listing failed.
async fn find_holders(
    aws: &Aws,
    entries: &[Entry],
    family: &str,
    ci: &Ci,
) -> (BTreeMap<(usize, usize), Holder>, bool) {
    let app_named = |holder: &str, entry: &Entry| {
        named_like(holder, &entry.container_name)
            || (!family.is_empty() && named_like(holder, family))
    };
    let sm = aws.secretsmanager(None);
    let mut complete = true;
    let secret_names = secretsmanager::all_names(&sm).await.unwrap_or_else(|f| {
        warn!("init: ListSecrets failed ({f}); no value is matched to a Secrets Manager secret");
        complete = false;
        Vec::new()
    });
    let parameter_names = ssm::all_names(aws).await.unwrap_or_else(|f| {
        warn!("init: DescribeParameters failed ({f}); no value is matched to a parameter");
        complete = false;
        Vec::new()
    });
    let secret_candidates: Vec<String> = secret_names
        .into_iter()
        .filter(|s| {
            entries
                .iter()
                .any(|e| named_like(s, &e.name) || app_named(s, e))
        })
        .collect();
    let parameter_candidates: Vec<String> = parameter_names
        .into_iter()
        .filter(|p| entries.iter().any(|e| named_like(p, &e.name)))
        .collect();
    let mut values = read_secrets(&sm, &secret_candidates).await;
    values.extend(read_parameters(aws, &parameter_candidates).await);
    let mut holders = BTreeMap::new();
    for entry in entries {
        let found = values.iter().find(|(holder, value)| {
            let by_name = match holder {
                Holder::Secret { name, key: None } | Holder::Parameter { name, .. } => {
                    named_like(name, &entry.name)
                }
                Holder::Secret {
                    name,
                    key: Some(key),
                } => {
                    named_like(name, &entry.name)
                        || (app_named(name, entry) && normalise(key) == normalise(&entry.name))
                }
            };
            by_name && value.expose() == entry.value
        });
        // A secret value found under another name is that secret too.
        let found = found.or_else(|| {
            values.iter().find(|(holder, value)| {
                holder.is_secret()
                    && value.expose().len() >= MIN_MASKED_LEN
                    && value.expose() == entry.value
            })
        });
        if let Some((holder, value)) = found {
            ci.protect(value, &holder.describe());
            holders.insert((entry.container, entry.index), holder.clone());
        }
    }
    (holders, complete)
}

/// The values of the candidate secrets, and of each string key of a JSON one; one that cannot be
/// read is skipped with a warning (init only suggests).
async fn read_secrets(
    sm: &aws_sdk_secretsmanager::Client,
    names: &[String],
) -> Vec<(Holder, Secret)> {
    let mut values = Vec::new();
    for chunk in names.chunks(secretsmanager::BATCH) {
        for (name, fetched) in secretsmanager::batch_get(sm, chunk).await {
            let fetched = match fetched {
                Ok(fetched) => fetched,
                Err(f) => {
                    warn!("init: secret `{name}` cannot be read ({f}); skipped");
                    continue;
                }
            };
            if let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(fetched.value.expose()) {
                for (key, value) in keys {
                    if let Value::String(value) = value {
                        let value = Secret::new(value);
                        let key = Some(key);
                        let name = name.clone();
                        values.push((Holder::Secret { name, key }, value));
                    }
                }
            }
            values.push((Holder::Secret { name, key: None }, fetched.value));
        }
    }
    values
}

/// The values of the candidate parameters, decrypted; one that cannot be read is skipped.
async fn read_parameters(aws: &Aws, names: &[String]) -> Vec<(Holder, Secret)> {
    let client = aws.ssm(None);
    let mut values = Vec::new();
    for chunk in names.chunks(ssm::BATCH) {
        aws.pace().await;
        for (name, fetched) in ssm::get_parameters(&client, chunk, true).await {
            match fetched {
                Ok(ssm::Fetched {
                    value: Some(value),
                    secure,
                    ..
                }) => {
                    values.push((Holder::Parameter { name, secure }, value));
                }
                Ok(_) => {}
                Err(f) => warn!("init: parameter `{name}` cannot be read ({f}); skipped"),
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_last_segment_or_suffix_in_any_spelling() {
        assert!(named_like("prod/app/DB_PASSWORD", "DB_PASSWORD"));
        assert!(named_like("/prod/app/db-password", "DB_PASSWORD"));
        assert!(named_like("prod-app-db-password", "DB_PASSWORD"));
        assert!(!named_like("prod/app/OLD_DB_PASSWORD_X", "DB_PASSWORD"));
        assert!(!named_like("prod/app/password", "DB_PASSWORD"));
    }

    #[test]
    fn secret_looking_names_and_env_names() {
        assert!(looks_secret("stripe_api_key"));
        assert!(looks_secret("GITHUB_TOKEN"));
        assert!(!looks_secret("LOG_LEVEL"));
        assert_eq!(env_name("db-password"), "db_password");
        assert_eq!(env_name("1X"), "_1X");
    }

    #[test]
    fn braces_of_the_running_definition_stay_text() {
        use crate::placeholder::escape;
        assert_eq!(escape("{{.Name}}"), "\\{{.Name}}");
        assert_eq!(escape("a\\{{b}} {{c"), "a\\\\\\{{b}} \\{{c");
        let parsed = crate::placeholder::parse(&escape("x \\{{env:A}} {{ssm:/b}}")).unwrap();
        assert!(
            parsed
                .iter()
                .all(|s| !matches!(s, crate::placeholder::Segment::Placeholder { .. })),
            "{parsed:?}"
        );
    }

    #[test]
    fn placeholders_name_the_holder() {
        let json = Holder::Secret {
            name: "prod/db".into(),
            key: Some("password".into()),
        };
        assert_eq!(json.placeholder(), "{{secretsmanager:prod/db:password}}");
        let parameter = Holder::Parameter {
            name: "/app/url".into(),
            secure: false,
        };
        assert_eq!(parameter.placeholder(), "{{ssm:/app/url}}");
        assert!(!parameter.is_secret());
    }
}
