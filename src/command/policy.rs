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
    /// The CodeDeploy application and group of a `CODE_DEPLOY` service, as `deploy` names them.
    pub codedeploy: crate::rollout::codedeploy::Settings,
    /// `for: codepipeline`: the deployer is a CodePipeline Lambda function or job worker.
    pub codepipeline: bool,
}

impl Policy {
    /// For a service on the `CODE_DEPLOY` controller, its application and deployment group (the
    /// service is read to know; when it cannot be, the ECS controller is assumed, said).
    async fn codedeploy_group(&self, aws: &crate::aws::Aws) -> Option<(String, String)> {
        let target = self.service.as_ref()?;
        match crate::rollout::describe(&aws.ecs(), target).await {
            Ok(service) if service.controller.as_deref() == Some("CODE_DEPLOY") => {
                Some(crate::rollout::codedeploy::names(target, &self.codedeploy))
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(
                    "{e}; the policy assumes the ECS deployment controller (a CODE_DEPLOY service needs CodeDeploy permissions too)"
                );
                None
            }
        }
    }

    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        let ready = prepare::prepare(&self.definitions, Reads::Metadata, true, ci).await?;
        let aws = ready.aws();
        let definition = &ready.definitions[0];
        let checked = check::run(aws, &definition.rendered, None, &mut Roles::default()).await;
        let region = aws.region();
        let codedeploy = self.codedeploy_group(aws).await;
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
                    codedeploy: codedeploy.as_ref().map(|(a, g)| (a.as_str(), g.as_str())),
                    codepipeline: self.codepipeline,
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
