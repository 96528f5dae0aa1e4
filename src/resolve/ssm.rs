//! Parameter Store: `GetParameters`, at most 10 names a call.

use aws_sdk_ssm::types::ParameterType;

use crate::aws;
use crate::mask::Secret;

/// AWS's limit on names in one `GetParameters` call.
pub const BATCH: usize = 10;

/// A fetched parameter. A `SecureString` read without decryption has no `value`.
#[derive(Debug)]
pub struct Fetched {
    pub arn: String,
    pub value: Option<Secret>,
    pub secure: bool,
    /// When the parameter last changed (epoch seconds).
    pub changed_at: Option<i64>,
}

/// Fetches up to [`BATCH`] parameters. Returns one result per requested name, in request order;
/// names AWS reports in `InvalidParameters` fail with "not found".
pub async fn get_parameters(
    client: &aws_sdk_ssm::Client,
    names: &[String],
    decrypt: bool,
) -> Vec<(String, Result<Fetched, String>)> {
    debug_assert!(names.len() <= BATCH);
    let response = client
        .get_parameters()
        .set_names(Some(names.to_vec()))
        .with_decryption(decrypt)
        .send()
        .await;
    let output = match response {
        Ok(output) => output,
        Err(err) => {
            let reason = aws::describe(&err);
            return names
                .iter()
                .map(|n| (n.clone(), Err(reason.clone())))
                .collect();
        }
    };
    let invalid = output.invalid_parameters();
    let parameters = output.parameters();
    names
        .iter()
        .map(|request| {
            if invalid.iter().any(|i| i == request) {
                return (
                    request.clone(),
                    Err("parameter not found (or not readable)".to_owned()),
                );
            }
            let found = parameters
                .iter()
                .find(|p| matches_request(p, request, names));
            let result = match found {
                None => Err("parameter missing from the GetParameters response".to_owned()),
                Some(p) => {
                    let secure = p.r#type() == Some(&ParameterType::SecureString);
                    match (p.arn(), p.value()) {
                        (Some(arn), Some(value)) => Ok(Fetched {
                            arn: arn.to_owned(),
                            // Undecrypted SecureString text is ciphertext at best: never used.
                            value: (decrypt || !secure).then(|| Secret::new(value)),
                            secure,
                            changed_at: p
                                .last_modified_date()
                                .map(aws_smithy_types::DateTime::secs),
                        }),
                        _ => Err("the GetParameters response lacks the ARN or value".to_owned()),
                    }
                }
            };
            (request.clone(), result)
        })
        .collect()
}

/// What `DescribeParameters` tells about a parameter: no value.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub secure: bool,
    pub key_id: Option<String>,
}

/// Reads the metadata of up to [`BATCH`] parameters by name in `region`, each page paced under
/// the Parameter Store rate bound. Missing names are absent from the answer.
pub async fn describe_parameters(
    aws: &aws::Aws,
    region: &str,
    names: &[String],
) -> Result<Vec<(String, Metadata)>, String> {
    use aws_sdk_ssm::types::ParameterStringFilter;
    let client = aws.ssm(Some(region));
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .set_values(Some(names.to_vec()))
        .build()
        .map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    let mut token = None;
    loop {
        aws.pace().await;
        let page = client
            .describe_parameters()
            .parameter_filters(filter.clone())
            // The most one page holds (the default, 10, would need a second call for a full batch).
            .max_results(50)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws::describe(&e))?;
        for p in page.parameters() {
            found.push((
                p.name().unwrap_or_default().to_owned(),
                Metadata {
                    secure: p.r#type() == Some(&ParameterType::SecureString),
                    key_id: p.key_id().map(str::to_owned),
                },
            ));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// Whether a returned parameter answers `request` (a name or ARN, with an optional selector).
fn matches_request(p: &aws_sdk_ssm::types::Parameter, request: &str, batch: &[String]) -> bool {
    let (id, selector) = split_selector(request);
    let same_parameter = p.name() == Some(id) || p.arn() == Some(id);
    if !same_parameter {
        return false;
    }
    match (selector, p.selector()) {
        (None, None) => true,
        (Some(wanted), Some(got)) => got.trim_start_matches(':') == wanted,
        (None, Some(_)) => false,
        // The response did not say which selector it answers (the local emulator omits it):
        // a version number can still be checked; otherwise it must be the only ask for this id.
        (Some(wanted), None) => match wanted.parse::<i64>() {
            Ok(version) => p.version() == version,
            Err(_) => batch.iter().filter(|r| split_selector(r).0 == id).count() == 1,
        },
    }
}

fn split_selector(request: &str) -> (&str, Option<&str>) {
    // A parameter name has no colon; an ARN has exactly five before its resource.
    let colons_in_id = if request.starts_with("arn:") { 5 } else { 0 };
    match request.match_indices(':').nth(colons_in_id) {
        Some((at, _)) => (&request[..at], Some(&request[at + 1..])),
        None => (request, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_selectors_of_names_and_arns() {
        assert_eq!(split_selector("/a/b:3"), ("/a/b", Some("3")));
        assert_eq!(split_selector("/a/b"), ("/a/b", None));
        let arn = "arn:aws:ssm:us-east-1:123456789012:parameter/a";
        assert_eq!(split_selector(arn), (arn, None));
        assert_eq!(split_selector(&format!("{arn}:prod")), (arn, Some("prod")));
    }
}
