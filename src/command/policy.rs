//! `policy`: the least-privilege policies for the definition, as one JSON document: the
//! execution role's (exactly what the check finds it needs) and the deployer's (the CI role's).

use crate::check::{self, Roles};
use crate::ci::Ci;
use crate::error::Error;
use crate::output::{self, Stream};
use crate::policy::{self, Extras, Policies};
use crate::prepare::{self, Definitions, Reads};
use crate::rollout::Target;

pub struct Policy {
    pub definitions: Definitions,
    /// The service the deployer rolls out to.
    pub service: Option<Target>,
    /// The deployer runs the preflight check: its reads too.
    pub preflight: bool,
    pub keep_revisions: bool,
    /// The deployer runs a one-off task (`run-task`) in this cluster.
    pub run_task: Option<String>,
}

impl Policy {
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        let ready = prepare::prepare(&self.definitions, Reads::Metadata, true, ci).await?;
        let aws = ready.aws();
        let definition = &ready.definitions[0];
        let checked = check::run(aws, &definition.rendered, None, &mut Roles::default()).await;
        let region = aws.region();
        let policies = Policies {
            version: policy::VERSION,
            execution_role: policy::execution_role(&checked.needs, &checked.via, region),
            deployer: policy::deployer(
                &definition.rendered,
                &definition.slots,
                &ready.resolved,
                region,
                Extras {
                    preflight: self.preflight.then_some(checked.reads.as_slice()),
                    keep_revisions: self.keep_revisions,
                    service: self
                        .service
                        .as_ref()
                        .map(|t| (t.cluster.as_str(), t.service.as_str())),
                    run_task: self.run_task.as_deref(),
                },
            ),
            missing: checked.missing.clone(),
        };
        let text = serde_json::to_string_pretty(&policies).expect("JSON serialises") + "\n";
        // Exact: ARNs and actions, no value (a redactor that knew a value as common as the Region
        // would corrupt every ARN).
        output::write_exact(Stream::Stdout, &text);
        if checked.missing.is_empty() {
            return Ok(());
        }
        let n = checked.missing.len();
        let list: Vec<String> = checked.missing.iter().map(|m| format!("  - {m}")).collect();
        Err(Error::Check(format!(
            "the policy printed cannot make {n} reference{} readable (a secret, parameter or key that does not exist, or that this run could not read):\n{}",
            if n == 1 { "" } else { "s" },
            list.join("\n")
        )))
    }
}
