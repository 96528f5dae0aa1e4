//! A Parameter Store reference: the parameter exists (by metadata, by name in the task's Region
//! or by its ARN), the role's permission, and the key of a SecureString. A parameter given by
//! name and missing in the task's Region is looked for in the other Regions the definition names.

use serde_json::Value;

use super::report::Status;
use super::{Checker, fix_for, key};
use crate::aws::{Aws, ssm};
use crate::iam;
use crate::reference::{Arn, Parameter};
use crate::template::Rendered;

/// Where a parameter is looked for: its Region, account, partition, and the names it may have.
pub(super) struct ParameterPlace {
    pub region: String,
    pub account: String,
    pub partition: String,
    pub candidates: Vec<String>,
}

impl Checker<'_> {
    /// Where the parameter of `valueFrom` is looked for: the Region of its ARN, or for a name the
    /// task's Region.
    pub(super) fn parameter_place(
        &self,
        parameter: &Parameter,
        arn: Option<&Arn<'_>>,
    ) -> ParameterPlace {
        match arn {
            Some(arn) => {
                // `parameter/app/x` is `/app/x`; `parameter/x` is `x` or `/x`.
                let rest = arn.resource.trim_start_matches("parameter/");
                let candidates = if rest.contains('/') {
                    vec![format!("/{rest}")]
                } else {
                    vec![rest.to_owned(), format!("/{rest}")]
                };
                ParameterPlace {
                    region: arn.region.to_owned(),
                    account: arn.account.to_owned(),
                    partition: arn.partition.to_owned(),
                    candidates,
                }
            }
            None => ParameterPlace {
                region: self.region.clone(),
                account: self.account.clone(),
                partition: self.partition.clone(),
                candidates: vec![parameter.id.clone()],
            },
        }
    }

    /// A parameter: found by metadata (by name in the task's Region, or by its ARN), the role's
    /// permission, and the key of a SecureString.
    pub(super) async fn parameter(&mut self, parameter: &Parameter, arn: Option<&Arn<'_>>) {
        let place = self.parameter_place(parameter, arn);
        if self.other_account(&place.account) {
            self.report.push(
                Status::Warn,
                1,
                format!(
                    "the parameter is in account {}, the role in {}: it must be shared with the role's account",
                    place.account, self.account
                ),
            );
        }
        // DescribeParameters has no resource-level permissions.
        self.report.read("ssm:DescribeParameters", "*");
        let Some((found_name, metadata)) = self.find_parameter(&place).await else {
            return;
        };
        let ParameterPlace {
            region,
            account,
            partition,
            ..
        } = &place;
        let Some(metadata) = metadata else {
            return self.missing_parameter(&place, arn.is_none()).await;
        };
        let parameter_arn = format!(
            "arn:{partition}:ssm:{region}:{account}:parameter/{}",
            found_name.trim_start_matches('/')
        );
        let kind = if metadata.secure {
            "SecureString, "
        } else {
            ""
        };
        self.report.push(
            Status::Ok,
            1,
            format!("the parameter exists ({kind}{parameter_arn})"),
        );
        self.parameter_tags(region, &found_name, &parameter_arn)
            .await;
        self.permissions
            .verdict(&mut self.report, "ssm:GetParameters", &parameter_arn)
            .await;
        if metadata.secure {
            let owner = key::Owner {
                partition,
                region,
                account,
            };
            let via = format!("ssm.{region}.amazonaws.com");
            self.key(metadata.key_id.as_deref(), &owner, &via).await;
        }
    }

    /// The parameter's tags, read (`ListTagsForResource`) only when a condition of the role's
    /// policies is about a resource's tags.
    async fn parameter_tags(&mut self, region: &str, name: &str, parameter_arn: &str) {
        if !self
            .permissions
            .role
            .is_some_and(iam::Role::mentions_resource_tags)
        {
            return;
        }
        self.report.read("ssm:ListTagsForResource", parameter_arn);
        match ssm::tags(self.aws, region, name).await {
            Ok(tags) => {
                self.permissions
                    .resource_tags
                    .insert(parameter_arn.to_owned(), tags);
            }
            Err(failure) => self.report.skip_because(
                format!("the parameter's tags cannot be read ({failure}): conditions on them are not evaluated"),
                failure
                    .is(crate::aws::Kind::Denied)
                    .then(|| super::this_run_needs("ssm:ListTagsForResource on the parameter")),
            ),
        }
    }

    /// The first candidate name that exists (with its metadata), `Some((_, None))` when none
    /// does, or `None` when a read failed (reported).
    async fn find_parameter(
        &mut self,
        place: &ParameterPlace,
    ) -> Option<(String, Option<ssm::Metadata>)> {
        for name in &place.candidates {
            let key = (place.region.clone(), name.clone());
            let answer = if let Some(known) = self.parameters.get(&key) {
                known.clone()
            } else {
                ssm::describe_parameters(self.aws, &place.region, std::slice::from_ref(name))
                    .await
                    .map(|found| found.into_iter().next().map(|(_, metadata)| metadata))
            };
            match answer {
                Err(failure) => {
                    let fix = fix_for(
                        &failure,
                        "ssm:DescribeParameters",
                        "check the name and the Region",
                    );
                    self.report.fail(
                        1,
                        format!("the parameter cannot be described: {failure}"),
                        fix,
                    );
                    return None;
                }
                Ok(Some(metadata)) => return Some((name.clone(), Some(metadata))),
                Ok(None) => {}
            }
        }
        Some((String::new(), None))
    }

    /// No such parameter. One given by name is read in the task's Region: when another Region
    /// the definition names holds it, the fix is its full ARN.
    async fn missing_parameter(&mut self, place: &ParameterPlace, by_name: bool) {
        let ParameterPlace {
            region,
            account,
            partition,
            candidates,
        } = place;
        let elsewhere = if by_name {
            let regions = other_regions(self.rendered, &self.region);
            elsewhere(self.aws, candidates, &regions).await
        } else {
            None
        };
        match elsewhere {
            Some((other, name)) => self.report.fail(
                1,
                format!(
                    "no parameter `{}` in {region}, where the task runs and reads parameters given by name; it is in {other}",
                    candidates[0]
                ),
                format!(
                    "write its full ARN: arn:{partition}:ssm:{other}:{}:parameter/{}",
                    if account.is_empty() { "<account>" } else { account },
                    name.trim_start_matches('/')
                ),
            ),
            None => self.report.fail(
                1,
                format!("no parameter `{}` in {region}", candidates[0]),
                "create it, or fix the name or the Region in `valueFrom`",
            ),
        }
    }
}

/// Whether `found`, a name DescribeParameters answered with, is the parameter asked for as
/// `asked`: a name outside any hierarchy may be written with or without its leading `/`.
pub(super) fn same_parameter(found: &str, asked: &str) -> bool {
    found == asked
        || (found.trim_start_matches('/') == asked.trim_start_matches('/')
            && !asked.trim_start_matches('/').contains('/'))
}

/// The Regions the definition names besides the task's own: those of its `valueFrom` ARNs and
/// of its log configuration.
fn other_regions(rendered: &Rendered, task_region: &str) -> Vec<String> {
    let mut regions: Vec<String> = Vec::new();
    for reference in super::lookups(rendered) {
        if let Some(arn) = Arn::parse(&reference.value_from) {
            regions.push(arn.region.to_owned());
        }
    }
    for container in crate::template::containers(&rendered.body) {
        let logs = container
            .get("logConfiguration")
            .and_then(|l| l.get("options"))
            .and_then(|o| o.get("awslogs-region"))
            .and_then(Value::as_str);
        regions.extend(logs.map(str::to_owned));
    }
    regions.sort();
    regions.dedup();
    regions.retain(|r| r != task_region && !r.is_empty());
    regions
}

/// The first of `regions` that holds one of the parameter `names`, with the name found.
async fn elsewhere(aws: &Aws, names: &[String], regions: &[String]) -> Option<(String, String)> {
    for region in regions {
        if let Ok(found) = ssm::describe_parameters(aws, region, names).await
            && let Some((name, _)) = found.into_iter().next()
        {
            return Some((region.clone(), name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_outside_a_hierarchy_may_have_a_leading_slash_or_not() {
        assert!(same_parameter("/db", "db"));
        assert!(same_parameter("db", "/db"));
        assert!(!same_parameter("/app/db", "app/db"));
        assert!(same_parameter("/app/db", "/app/db"));
    }
}
