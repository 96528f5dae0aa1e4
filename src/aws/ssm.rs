//! Parameter Store: `GetParameters` (at most 10 names a call), `DescribeParameters` (metadata
//! only), `GetParametersByPath`. Every page of a paginated call is paced under the Parameter
//! Store rate bound, whose quota is low and shared by the whole account.

use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType};
use aws_smithy_async::future::pagination_stream::PaginationStream;

use super::{Aws, Failure};
use crate::mask::Secret;

const SERVICE: &str = "Parameter Store";

/// AWS's limit on names in one `GetParameters` call, and on values of one `DescribeParameters`
/// name filter.
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
) -> Vec<(String, Result<Fetched, Failure>)> {
    debug_assert!(names.len() <= BATCH);
    let answer = client
        .get_parameters()
        .set_names(Some(names.to_vec()))
        .with_decryption(decrypt)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err));
    let output = match answer {
        Ok(output) => output,
        // The whole batch failed: each name, with the reason.
        Err(failure) => {
            return names
                .iter()
                .map(|n| (n.clone(), Err(failure.clone())))
                .collect();
        }
    };
    let invalid = output.invalid_parameters();
    let parameters = output.parameters();
    names
        .iter()
        .map(|request| {
            if invalid.iter().any(|i| i == request) {
                let failure = Failure {
                    kind: super::Kind::NotFound,
                    ..Failure::answer(SERVICE, "parameter not found (or not readable)")
                };
                return (request.clone(), Err(failure));
            }
            let found = parameters
                .iter()
                .find(|p| matches_request(p, request, names));
            let result = match found {
                None => Err(Failure::answer(
                    SERVICE,
                    "parameter missing from the GetParameters response",
                )),
                Some(p) => fetched(p, decrypt),
            };
            (request.clone(), result)
        })
        .collect()
}

fn fetched(p: &aws_sdk_ssm::types::Parameter, decrypt: bool) -> Result<Fetched, Failure> {
    let secure = p.r#type() == Some(&ParameterType::SecureString);
    match (p.arn(), p.value()) {
        (Some(arn), Some(value)) => Ok(Fetched {
            arn: arn.to_owned(),
            // Undecrypted SecureString text is ciphertext at best: never used.
            value: (decrypt || !secure).then(|| Secret::new(value)),
            secure,
            changed_at: p.last_modified_date().map(aws_smithy_types::DateTime::secs),
        }),
        _ => Err(Failure::answer(
            SERVICE,
            "the GetParameters response lacks the ARN or value",
        )),
    }
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
    aws: &Aws,
    region: &str,
    names: &[String],
) -> Result<Vec<(String, Metadata)>, Failure> {
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .set_values(Some(names.to_vec()))
        .build()
        .map_err(|e| Failure::answer(SERVICE, e.to_string()))?;
    described(aws, Some(region), Some(filter)).await
}

/// The name and metadata of every parameter `filter` selects (all, without one), every
/// `DescribeParameters` page paced under the rate bound. Reads no value.
async fn described(
    aws: &Aws,
    region: Option<&str>,
    filter: Option<ParameterStringFilter>,
) -> Result<Vec<(String, Metadata)>, Failure> {
    let mut pages = aws
        .ssm(region)
        .describe_parameters()
        .set_parameter_filters(filter.map(|f| vec![f]))
        // The most one page holds (the default, 10, would need a second call for a full batch).
        .max_results(50)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = paced(aws, &mut pages).await {
        let page = page.map_err(|err| Failure::of(SERVICE, &err))?;
        for p in page.parameters() {
            found.push((
                p.name().unwrap_or_default().to_owned(),
                Metadata {
                    secure: p.r#type() == Some(&ParameterType::SecureString),
                    key_id: p.key_id().map(str::to_owned),
                },
            ));
        }
        if page.next_token().is_none() {
            break;
        }
    }
    Ok(found)
}

/// A parameter's tags (`ListTagsForResource`), paced like every Parameter Store call.
pub async fn tags(aws: &Aws, region: &str, name: &str) -> Result<Vec<(String, String)>, Failure> {
    aws.pace().await;
    let output = aws
        .ssm(Some(region))
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(output
        .tag_list()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

/// The next page, its request paced under the rate bound. (Call it only while the last page
/// had a next token: the pace of a request the paginator will not make would be wasted.)
async fn paced<T>(aws: &Aws, pages: &mut PaginationStream<T>) -> Option<T> {
    aws.pace().await;
    pages.next().await
}

/// The name of every parameter of the account in the default Region (`DescribeParameters`,
/// every page, paced). Reads no value.
pub async fn all_names(aws: &Aws) -> Result<Vec<String>, Failure> {
    Ok(described(aws, None, None)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Every parameter under `path` (recursive), decrypted, each page paced.
pub async fn by_path(aws: &Aws, path: &str) -> Result<Vec<(String, Secret)>, Failure> {
    let mut pages = aws
        .ssm(None)
        .get_parameters_by_path()
        .path(path.trim_end_matches('/'))
        .recursive(true)
        .with_decryption(true)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = paced(aws, &mut pages).await {
        let page = page.map_err(|err| Failure::of(SERVICE, &err))?;
        found.extend(page.parameters().iter().map(|p| {
            let name = p.name().unwrap_or_default().to_owned();
            (name, Secret::new(p.value().unwrap_or_default()))
        }));
        if page.next_token().is_none() {
            break;
        }
    }
    Ok(found)
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
