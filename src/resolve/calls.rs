//! Which calls a set of references needs: deduplicated, grouped by Region, batched. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::{secretsmanager, ssm};
use crate::placeholder::Reference;

/// A Region key: `None` is the default Region.
pub type RegionKey = Option<String>;

/// One secret version to fetch: Region, then [`crate::reference::SecretId::version_key`].
pub type VersionKey = (RegionKey, (String, Option<String>, Option<String>));

/// What resolution may read.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Decrypt `ssm` values: only when a `SecureString` value may be used.
    pub decrypt: bool,
    /// Read `secretsmanager` values; off for `check` and `policy`, which describe them instead.
    pub read_secret_values: bool,
    /// Learn `secretsmanager-arn` ARNs from `ListSecrets`, ten names a call. Off where the
    /// metadata must be current (`ListSecrets` may lag five minutes behind): the check, and
    /// `redeploy-on-secret-change`, which reads when each secret last changed.
    pub list_arns: bool,
}

/// What to fetch, deduplicated.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Whether `ssm` values are decrypted: only when a `SecureString` value may be used.
    pub decrypt: bool,
    pub ssm_values: BTreeMap<RegionKey, BTreeSet<String>>,
    pub ssm_arns: BTreeMap<RegionKey, BTreeSet<String>>,
    pub secret_current: BTreeMap<RegionKey, BTreeSet<String>>,
    pub secret_pinned: BTreeSet<VersionKey>,
    pub secret_describe: BTreeMap<RegionKey, BTreeSet<String>>,
    /// Secrets whose ARN alone is needed (current version, given by name): `ListSecrets`.
    pub secret_listed: BTreeMap<RegionKey, BTreeSet<String>>,
}

/// The calls `references` need. ARN-only references reuse a value fetch of the same thing, and
/// otherwise read metadata; `region_of` maps a reference's Region to its key.
pub fn needed<'a>(
    references: impl IntoIterator<Item = &'a Reference> + Clone,
    region_of: &dyn Fn(Option<&str>) -> RegionKey,
    mode: Mode,
) -> Wanted {
    let mut wanted = Wanted {
        decrypt: mode.decrypt,
        ..Wanted::default()
    };
    wanted.values(references.clone(), region_of, mode);
    wanted.arns(references, region_of, mode);
    // One answer a secret: a secret also described (a pinned version, say) is not listed.
    for (region, ids) in &mut wanted.secret_listed {
        if let Some(described) = wanted.secret_describe.get(region) {
            ids.retain(|id| !described.contains(id));
        }
    }
    wanted.secret_listed.retain(|_, ids| !ids.is_empty());
    wanted
}

impl Wanted {
    /// The value fetches (or, for `check` and `policy`, descriptions) of value references.
    fn values<'a>(
        &mut self,
        references: impl IntoIterator<Item = &'a Reference>,
        region_of: &dyn Fn(Option<&str>) -> RegionKey,
        mode: Mode,
    ) {
        let wanted = self;
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
    }

    /// ARN-only references: a value fetch of the same thing serves them, else metadata.
    fn arns<'a>(
        &mut self,
        references: impl IntoIterator<Item = &'a Reference>,
        region_of: &dyn Fn(Option<&str>) -> RegionKey,
        mode: Mode,
    ) {
        let wanted = self;
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
                    let listable = mode.list_arns && s.is_current() && !s.id.starts_with("arn:");
                    if fetched {
                    } else if listable {
                        wanted
                            .secret_listed
                            .entry(region)
                            .or_default()
                            .insert(s.id.clone());
                    } else {
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
    }

    /// How many calls the plan makes.
    pub fn calls(&self) -> usize {
        let batches = |groups: &BTreeMap<RegionKey, BTreeSet<String>>, size: usize| {
            groups
                .values()
                .map(|g| g.len().div_ceil(size))
                .sum::<usize>()
        };
        batches(&self.ssm_values, ssm::BATCH)
            + batches(&self.ssm_arns, ssm::BATCH)
            + batches(&self.secret_current, secretsmanager::BATCH)
            + self.secret_pinned.len()
            + self
                .secret_describe
                .values()
                .map(BTreeSet::len)
                .sum::<usize>()
            + batches(&self.secret_listed, secretsmanager::NAMES_PER_LIST)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::placeholder::references;

    /// `{{PREFIX0}}{{PREFIX1}}…`.
    fn numbered(prefix: &str, count: usize) -> String {
        (0..count).fold(String::new(), |mut text, i| {
            let _ = write!(text, "{{{{{prefix}{i}}}}}");
            text
        })
    }

    fn default_region(region: Option<&str>) -> RegionKey {
        region.filter(|r| *r != "us-east-1").map(str::to_owned)
    }

    const VALUES: Mode = Mode {
        decrypt: true,
        read_secret_values: true,
        list_arns: false,
    };

    #[test]
    fn eleven_parameters_take_two_calls_and_a_value_fetch_serves_its_arn() {
        let text = numbered("ssm:/p/", 11) + "{{ssm-arn:/p/3}}{{ssm-arn:/other}}";
        let refs = references(&text);
        let wanted = needed(&refs, &default_region, VALUES);
        assert_eq!(wanted.ssm_values[&None].len(), 11);
        assert_eq!(
            wanted.ssm_arns[&None].iter().collect::<Vec<_>>(),
            ["/other"]
        );
        assert_eq!(wanted.calls(), 2 + 1);
    }

    #[test]
    fn secrets_are_batched_described_or_pinned_by_what_is_asked() {
        let text = numbered("secretsmanager:s", 21)
            + "{{secretsmanager-arn:s0:key}}{{secretsmanager-arn:only-arn}}{{secretsmanager:pinned::AWSPREVIOUS}}"
            + "{{secretsmanager-arn:arn:aws:secretsmanager:eu-west-1:1:secret:far-AbCdEf}}";
        let refs = references(&text);
        let wanted = needed(&refs, &default_region, VALUES);
        assert_eq!(wanted.secret_current[&None].len(), 21);
        assert_eq!(wanted.secret_pinned.len(), 1);
        assert_eq!(
            wanted.secret_describe[&None].len(),
            1,
            "s0 is fetched anyway"
        );
        assert_eq!(
            wanted.secret_describe[&Some("eu-west-1".to_owned())].len(),
            1
        );
        assert_eq!(wanted.calls(), 2 + 1 + 1 + 1);
        // Listing ARNs: the ARN by name is listed; the one given as an ARN is still described.
        let listing = needed(
            &refs,
            &default_region,
            Mode {
                list_arns: true,
                ..VALUES
            },
        );
        assert_eq!(listing.secret_listed[&None].len(), 1, "only-arn");
        assert!(!listing.secret_describe.contains_key(&None));
        assert_eq!(listing.calls(), 2 + 1 + 1 + 1);
        // `check` and `policy` read no value: every secret is described.
        let metadata = Mode {
            decrypt: false,
            read_secret_values: false,
            list_arns: false,
        };
        let wanted = needed(&refs, &default_region, metadata);
        assert!(wanted.secret_current.is_empty());
        assert_eq!(wanted.secret_describe[&None].len(), 23);
    }
}
