//! What a placeholder or a `valueFrom` points at: ARNs, Parameter Store parameters, Secrets
//! Manager secrets with their JSON key and version, and the rules AWS applies to each.

use std::fmt;

/// An ARN split into its parts. The resource keeps any further colons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        let known_partition = arn.partition.starts_with("aws");
        (known_partition && !arn.service.is_empty() && !arn.resource.is_empty()).then_some(arn)
    }
}

/// The partition of a Region: `aws-cn` for China, `aws-us-gov` for GovCloud, the ISO partitions
/// by their prefixes, `aws` for the rest.
pub fn partition_of(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// A Parameter Store parameter: a name or an ARN, and an optional `:version` or `:label`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Parameter {
    /// The name or ARN as written.
    pub id: String,
    pub selector: Option<String>,
}

impl Parameter {
    pub fn parse(body: &str) -> Result<Self, String> {
        let (id, rest) = split_id(body, 6);
        if let Some(arn) = Arn::parse(&id) {
            if arn.service != "ssm" || !arn.resource.starts_with("parameter/") {
                return Err(format!(
                    "`{id}` is not a Parameter Store ARN; expected `arn:<partition>:ssm:<region>:<account>:parameter/<name>`"
                ));
            }
        } else if id.starts_with("arn:") {
            return Err(format!("`{id}` is not a well-formed ARN"));
        } else {
            check_parameter_name(&id)?;
        }
        let selector = match rest.as_slice() {
            [] => None,
            [selector] if !selector.is_empty() => Some((*selector).to_owned()),
            _ => {
                return Err(format!(
                    "`{body}`: expected `NAME` or `NAME:VERSION` or `NAME:LABEL`"
                ));
            }
        };
        Ok(Self { id, selector })
    }

    /// The Region named by an ARN id, if any.
    pub fn region(&self) -> Option<&str> {
        Arn::parse(&self.id).map(|arn| arn.region)
    }

    /// What `GetParameters` is asked for: the id and its selector.
    pub fn request_name(&self) -> String {
        match &self.selector {
            Some(selector) => format!("{}:{selector}", self.id),
            None => self.id.clone(),
        }
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.request_name())
    }
}

fn check_parameter_name(name: &str) -> Result<(), String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    if name.is_empty() || name.len() > 2048 || !name.chars().all(valid_char) {
        return Err(format!(
            "`{name}` is not a valid parameter name; expected letters, digits and `_.-/`"
        ));
    }
    Ok(())
}

/// A Secrets Manager secret: name or ARN, with the optional parts ECS understands.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId {
    /// The name, full ARN or partial ARN as written.
    pub id: String,
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

impl SecretId {
    /// Parses `ID[:json-key[:version-stage[:version-id]]]`, where `ID` is a name or an ARN (whose
    /// first seven colon-separated parts are the ARN).
    pub fn parse(body: &str) -> Result<Self, String> {
        let (id, rest) = split_id(body, 7);
        if let Some(arn) = Arn::parse(&id) {
            if arn.service != "secretsmanager" || !arn.resource.starts_with("secret:") {
                return Err(format!(
                    "`{id}` is not a Secrets Manager ARN; expected `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`"
                ));
            }
        } else if id.starts_with("arn:") {
            return Err(format!("`{id}` is not a well-formed ARN"));
        } else {
            let valid_char = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
            if id.is_empty() || id.len() > 512 || !id.chars().all(valid_char) {
                return Err(format!(
                    "`{id}` is not a valid secret name; expected letters, digits and `/_+=.@-`"
                ));
            }
        }
        if rest.len() > 3 {
            return Err(format!(
                "`{body}` has too many parts; expected `ID[:json-key[:version-stage[:version-id]]]`"
            ));
        }
        let part = |i: usize| {
            rest.get(i)
                .filter(|s| !s.is_empty())
                .map(|s| (*s).to_owned())
        };
        let secret = Self {
            id,
            json_key: part(0),
            version_stage: part(1),
            version_id: part(2),
        };
        if secret.version_stage.is_some() && secret.version_id.is_some() {
            return Err(format!(
                "`{body}` names both a version stage and a version id; give one of them"
            ));
        }
        if let Some(version_id) = &secret.version_id
            && !(32..=64).contains(&version_id.len())
        {
            return Err(format!(
                "version id `{version_id}` must be 32 to 64 characters long"
            ));
        }
        Ok(secret)
    }

    pub fn region(&self) -> Option<&str> {
        Arn::parse(&self.id).map(|arn| arn.region)
    }

    /// What identifies the version to fetch: the id, a stage other than `AWSCURRENT`, a version id.
    pub fn version_key(&self) -> (String, Option<String>, Option<String>) {
        let stage = self.version_stage.clone().filter(|_| !self.is_current());
        (self.id.clone(), stage, self.version_id.clone())
    }

    /// The placeholder body again: `ID[:json-key[:version-stage[:version-id]]]`, shortest form.
    pub fn body(&self) -> String {
        let parts = [
            self.json_key.as_deref(),
            self.version_stage.as_deref(),
            self.version_id.as_deref(),
        ];
        let used = parts.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
        let mut body = self.id.clone();
        for part in &parts[..used] {
            body.push(':');
            body.push_str(part.unwrap_or_default());
        }
        body
    }

    /// Whether the value is the current one, which `BatchGetSecretValue` can fetch.
    pub fn is_current(&self) -> bool {
        self.version_id.is_none()
            && self
                .version_stage
                .as_deref()
                .is_none_or(|stage| stage == "AWSCURRENT")
    }

    /// The ECS `valueFrom` for this secret, given its full ARN: the ARN alone, or followed by
    /// `:json-key:version-stage:version-id` with empty parts kept.
    pub fn value_from(&self, full_arn: &str) -> String {
        if self.json_key.is_none() && self.version_stage.is_none() && self.version_id.is_none() {
            return full_arn.to_owned();
        }
        format!(
            "{full_arn}:{}:{}:{}",
            self.json_key.as_deref().unwrap_or_default(),
            self.version_stage.as_deref().unwrap_or_default(),
            self.version_id.as_deref().unwrap_or_default()
        )
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(key) = &self.json_key {
            write!(f, " (key `{key}`)")?;
        }
        if let Some(stage) = &self.version_stage {
            write!(f, " (stage `{stage}`)")?;
        }
        if let Some(id) = &self.version_id {
            write!(f, " (version `{id}`)")?;
        }
        Ok(())
    }
}

/// Splits `body` into the id (an ARN of `arn_parts` parts, or the first part) and the rest.
fn split_id(body: &str, arn_parts: usize) -> (String, Vec<&str>) {
    let parts: Vec<&str> = body.split(':').collect();
    if parts[0] == "arn" && parts.len() >= arn_parts {
        (parts[..arn_parts].join(":"), parts[arn_parts..].to_vec())
    } else if parts[0] == "arn" {
        (body.to_owned(), Vec::new())
    } else {
        (parts[0].to_owned(), parts[1..].to_vec())
    }
}

/// Whether a secret ARN ends with the 6-character suffix Secrets Manager adds to names.
pub fn has_random_suffix(secret_arn: &str) -> bool {
    let Some((_, suffix)) = secret_arn.rsplit_once('-') else {
        return false;
    };
    suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Checks a `valueFrom` as ECS reads it: a Secrets Manager ARN (with the optional ECS suffix), a
/// Parameter Store ARN, or a parameter name. Returns a problem description, or a warning.
pub fn check_value_from(value_from: &str) -> Result<Option<String>, String> {
    if value_from.is_empty() {
        return Err("`valueFrom` is empty".to_owned());
    }
    if value_from.chars().any(char::is_whitespace) {
        return Err("`valueFrom` contains whitespace; expected an ARN or a parameter name".into());
    }
    if !value_from.starts_with("arn:") {
        check_parameter_name(value_from)?;
        return Ok(None);
    }
    let arn = Arn::parse(value_from).ok_or_else(|| format!("`{value_from}` is not a valid ARN"))?;
    match arn.service {
        "ssm" => {
            Parameter::parse(value_from)
                .and_then(|p| match p.selector {
                    None => Ok(()),
                    Some(_) => Err(
                        "ECS reads the latest version of a parameter; `valueFrom` cannot select a version or label"
                            .to_owned(),
                    ),
                })
                .map(|()| None)
        }
        "secretsmanager" => {
            let parts = value_from.split(':').count();
            if parts != 7 && parts != 10 {
                return Err(format!(
                    "`{value_from}`: a Secrets Manager `valueFrom` is the secret ARN, optionally followed by `:json-key:version-stage:version-id` (keep the colons of parts left out)"
                ));
            }
            let secret = SecretId::parse(value_from)?;
            if has_random_suffix(&secret.id) {
                Ok(None)
            } else {
                Ok(Some(format!(
                    "`{}` looks like a partial ARN (no 6-character suffix): a policy that grants it must name it as `{}-??????` or by its exact full ARN (with the suffix)",
                    secret.id, secret.id
                )))
            }
        }
        other => Err(format!(
            "`{value_from}` names service `{other}`; expected `secretsmanager` or `ssm`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";

    #[test]
    fn secret_arn_keeps_its_seven_parts_and_splits_the_rest() {
        let secret = SecretId::parse(&format!("{ARN}:password:AWSPREVIOUS")).unwrap();
        assert_eq!(secret.id, ARN);
        assert_eq!(secret.json_key.as_deref(), Some("password"));
        assert_eq!(secret.version_stage.as_deref(), Some("AWSPREVIOUS"));
        assert_eq!(secret.region(), Some("us-east-1"));
        assert!(!secret.is_current());
        assert_eq!(
            secret.value_from(ARN),
            format!("{ARN}:password:AWSPREVIOUS:")
        );
    }

    #[test]
    fn secret_name_with_key_only_keeps_the_colons_in_value_from() {
        let secret = SecretId::parse("prod/db:password").unwrap();
        assert!(secret.is_current());
        assert_eq!(secret.value_from(ARN), format!("{ARN}:password::"));
        let plain = SecretId::parse("prod/db").unwrap();
        assert_eq!(plain.value_from(ARN), ARN);
    }

    #[test]
    fn secret_stage_and_id_exclude_each_other() {
        let err = SecretId::parse(&format!("prod/db::AWSCURRENT:{}", "a".repeat(32))).unwrap_err();
        assert!(
            err.contains("both a version stage and a version id"),
            "{err}"
        );
        assert!(SecretId::parse("prod/db:::short").is_err());
    }

    #[test]
    fn parameter_accepts_name_arn_and_selector() {
        let p = Parameter::parse("/app/db/host:3").unwrap();
        assert_eq!(
            (p.id.as_str(), p.selector.as_deref()),
            ("/app/db/host", Some("3"))
        );
        let p =
            Parameter::parse("arn:aws:ssm:eu-west-1:123456789012:parameter/app/x:prod").unwrap();
        assert_eq!(p.region(), Some("eu-west-1"));
        assert_eq!(
            p.request_name(),
            "arn:aws:ssm:eu-west-1:123456789012:parameter/app/x:prod"
        );
        assert!(Parameter::parse("bad name").is_err());
        assert!(Parameter::parse("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn value_from_checks_forms_ecs_accepts() {
        assert_eq!(check_value_from(ARN), Ok(None));
        assert_eq!(check_value_from(&format!("{ARN}:password::")), Ok(None));
        assert_eq!(check_value_from("/app/db/password"), Ok(None));
        assert!(check_value_from(&format!("{ARN}:password")).is_err());
        assert!(check_value_from("arn:aws:s3:::bucket/key").is_err());
        assert!(check_value_from("p@ss word").is_err());
        assert!(
            check_value_from("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db")
                .unwrap()
                .is_some()
        );
        assert!(
            check_value_from("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/x")
                .unwrap()
                .is_none()
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            // Fuzz-style: any valueFrom or placeholder body is judged without a panic.
            #[test]
            fn any_reference_text_is_judged_cleanly(text in "(arn:aws[a-z-]{0,4}:(ssm|secretsmanager|s3)?:[a-z0-9-]{0,12}:[0-9]{0,12}:)?[a-zA-Z0-9:/_.@+=-]{0,60}|.{0,60}") {
                let _ = check_value_from(&text);
                let _ = SecretId::parse(&text);
                let _ = Parameter::parse(&text);
                let _ = has_random_suffix(&text);
            }
        }
    }
}
