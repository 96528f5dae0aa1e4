//! IAM: a role's documents (trust policy, inline and attached policies, permissions boundary),
//! and IAM's own evaluator (`SimulatePrincipalPolicy`). What the documents mean is `crate::iam`.

use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::Failure;

const SERVICE: &str = "IAM";

/// A role as IAM stores it: its documents, decoded.
#[derive(Debug, Clone)]
pub struct RoleDocuments {
    pub arn: String,
    pub name: String,
    pub trust: Value,
    /// Inline and attached policies: (name, document).
    pub policies: Vec<(String, Value)>,
    /// Its permissions boundary, if it has one: (name, document), or why it could not be read.
    pub boundary: Option<Result<(String, Value), (String, Failure)>>,
    /// Its tags: (key, value).
    pub tags: Vec<(String, String)>,
}

fn decode(document: &str) -> Value {
    let text = percent_decode_str(document).decode_utf8_lossy();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Reads the role (by the name after the last `/`) and its inline and attached policies.
pub async fn role(client: &aws_sdk_iam::Client, arn: &str) -> Result<RoleDocuments, Failure> {
    let name = arn.rsplit('/').next().unwrap_or(arn).to_owned();
    let got = client
        .get_role()
        .role_name(&name)
        .send()
        .await
        .map_err(|e| Failure::of(SERVICE, &e))?;
    let role = got
        .role()
        .ok_or_else(|| Failure::answer(SERVICE, "GetRole returned no role"))?;
    let boundary = match role
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
    {
        Some(arn) => Some(
            managed_policy(client, arn)
                .await
                .map_err(|failure| (arn.to_owned(), failure)),
        ),
        None => None,
    };
    let mut documents = RoleDocuments {
        arn: role.arn().to_owned(),
        name: name.clone(),
        trust: role
            .assume_role_policy_document()
            .map_or(Value::Null, decode),
        policies: Vec::new(),
        boundary,
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
    };
    let mut inline = client
        .list_role_policies()
        .role_name(&name)
        .into_paginator()
        .send();
    while let Some(page) = inline.next().await {
        for policy in page.map_err(|e| Failure::of(SERVICE, &e))?.policy_names() {
            let got = client
                .get_role_policy()
                .role_name(&name)
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| Failure::of(SERVICE, &e))?;
            documents
                .policies
                .push((policy.clone(), decode(got.policy_document())));
        }
    }
    let mut attached = client
        .list_attached_role_policies()
        .role_name(&name)
        .into_paginator()
        .send();
    while let Some(page) = attached.next().await {
        let page = page.map_err(|e| Failure::of(SERVICE, &e))?;
        for policy_arn in page
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
        {
            documents
                .policies
                .push(managed_policy(client, policy_arn).await?);
        }
    }
    Ok(documents)
}

/// A managed policy's name and the document of its default version.
async fn managed_policy(
    client: &aws_sdk_iam::Client,
    arn: &str,
) -> Result<(String, Value), Failure> {
    let got = client
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| Failure::of(SERVICE, &e))?;
    let policy = got.policy();
    let label = policy
        .and_then(|p| p.policy_name())
        .unwrap_or(arn)
        .to_owned();
    let Some(version) = policy.and_then(|p| p.default_version_id()) else {
        return Ok((label, Value::Null));
    };
    let document = client
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| Failure::of(SERVICE, &e))?;
    let text = document.policy_version().and_then(|v| v.document());
    Ok((label, text.map_or(Value::Null, decode)))
}

/// What IAM's evaluator answered for one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulated {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: String,
    /// The policies whose statements matched.
    pub matched: Vec<String>,
    pub outside_boundary: bool,
    pub outside_scps: bool,
    /// Condition keys the simulation lacked a value for.
    pub missing_context: Vec<String>,
}

/// Asks IAM's evaluator. `context`: the string condition keys known of the request, such as
/// `kms:ViaService` for a decryption on the role's behalf, or the role's tags.
pub async fn simulate(
    client: &aws_sdk_iam::Client,
    role_arn: &str,
    action: &str,
    resource: &str,
    context: &[(String, String)],
) -> Result<Simulated, Failure> {
    let mut request = client
        .simulate_principal_policy()
        .policy_source_arn(role_arn)
        .action_names(action)
        .resource_arns(resource);
    for (key, value) in context {
        request = request.context_entries(
            ContextEntry::builder()
                .context_key_name(key)
                .context_key_values(value)
                .context_key_type(ContextKeyTypeEnum::String)
                .build(),
        );
    }
    let output = request.send().await.map_err(|e| Failure::of(SERVICE, &e))?;
    let result = output
        .evaluation_results()
        .first()
        .ok_or_else(|| Failure::answer(SERVICE, "SimulatePrincipalPolicy returned no result"))?;
    Ok(Simulated {
        decision: result.eval_decision().as_str().to_owned(),
        matched: result
            .matched_statements()
            .iter()
            .filter_map(|s| s.source_policy_id().map(str::to_owned))
            .collect(),
        outside_boundary: result
            .permissions_boundary_decision_detail()
            .is_some_and(|d| !d.allowed_by_permissions_boundary()),
        outside_scps: result
            .organizations_decision_detail()
            .is_some_and(|d| !d.allowed_by_organizations()),
        missing_context: result.missing_context_values().to_vec(),
    })
}
