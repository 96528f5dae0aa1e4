//! What the service's state says about our deployment: still going, complete, or failed (and
//! why). A pure function of what `DescribeServices` answered.

use crate::aws::ecs::{Deployment, Service};

/// The reading of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Not done yet.
    Going,
    /// Our deployment is PRIMARY, complete and at its desired count.
    Completed,
    /// Rolled back or failed: why.
    Failed(String),
    /// No deployment of the service is ours (by id, or without one by revision).
    Unidentified,
}

/// Our deployment: by its id, or (when ECS gave none) by the revision it deploys.
pub fn ours<'a>(
    service: &'a Service,
    revision: &str,
    deployment_id: &str,
) -> Option<&'a Deployment> {
    service.deployments.iter().find(|d| {
        if deployment_id.is_empty() {
            d.task_definition.as_deref() == Some(revision)
        } else {
            d.id == deployment_id
        }
    })
}

/// The line that shows our deployment's progress.
pub fn progress(d: &Deployment) -> String {
    let failed = if d.failed_tasks > 0 {
        format!(" failed tasks {}", d.failed_tasks)
    } else {
        String::new()
    };
    format!(
        "  {}: {} running {}/{} pending {}{failed}",
        if d.id.is_empty() { "deployment" } else { &d.id },
        d.rollout_state.as_deref().unwrap_or("-"),
        d.running,
        d.desired,
        d.pending,
    )
}

/// What the service says about our deployment.
pub fn read(service: &Service, revision: &str, deployment_id: &str) -> Reading {
    let Some(d) = ours(service, revision, deployment_id) else {
        return Reading::Unidentified;
    };
    let complete = match d.rollout_state.as_deref() {
        Some("COMPLETED") => true,
        Some(_) => false,
        // Without rollout states, one deployment left is the finished one.
        None => service.deployments.len() == 1,
    };
    if d.rollout_state.as_deref() == Some("FAILED") {
        Reading::Failed(format!(
            "the deployment failed{}",
            d.rollout_state_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ))
    } else if d.status != "PRIMARY" {
        Reading::Failed("the deployment is no longer PRIMARY: the service rolled back to its previous revision (deployment circuit breaker), or another deployment replaced it".to_owned())
    } else if complete && d.running == d.desired {
        Reading::Completed
    } else {
        Reading::Going
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVISION: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:2";

    fn deployment(id: &str, status: &str, state: Option<&str>, running: i32) -> Deployment {
        Deployment {
            id: id.into(),
            status: status.into(),
            task_definition: Some(REVISION.into()),
            rollout_state: state.map(str::to_owned),
            running,
            desired: 2,
            ..Deployment::default()
        }
    }

    fn service(deployments: Vec<Deployment>) -> Service {
        Service {
            status: "ACTIVE".into(),
            deployments,
            ..Service::default()
        }
    }

    #[test]
    fn complete_only_when_primary_completed_and_at_count() {
        let going = service(vec![deployment("d2", "PRIMARY", Some("IN_PROGRESS"), 1)]);
        assert_eq!(read(&going, REVISION, "d2"), Reading::Going);
        let short = service(vec![deployment("d2", "PRIMARY", Some("COMPLETED"), 1)]);
        assert_eq!(read(&short, REVISION, "d2"), Reading::Going);
        let done = service(vec![deployment("d2", "PRIMARY", Some("COMPLETED"), 2)]);
        assert_eq!(read(&done, REVISION, "d2"), Reading::Completed);
    }

    #[test]
    fn a_rollback_and_a_failure_say_why() {
        let rolled_back = service(vec![
            deployment("d1", "PRIMARY", Some("IN_PROGRESS"), 2),
            deployment("d2", "ACTIVE", Some("IN_PROGRESS"), 0),
        ]);
        let Reading::Failed(why) = read(&rolled_back, REVISION, "d2") else {
            panic!("a rollback")
        };
        assert!(why.contains("no longer PRIMARY"), "{why}");
        let mut failed = deployment("d2", "PRIMARY", Some("FAILED"), 0);
        failed.rollout_state_reason =
            Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let Reading::Failed(why) = read(&service(vec![failed]), REVISION, "d2") else {
            panic!("a failure")
        };
        assert_eq!(
            why,
            "the deployment failed: ECS deployment circuit breaker: tasks failed to start."
        );
        let gone = service(vec![deployment("d1", "PRIMARY", Some("COMPLETED"), 2)]);
        assert_eq!(read(&gone, REVISION, "d2"), Reading::Unidentified);
    }

    #[test]
    fn without_rollout_states_one_deployment_left_is_the_finished_one() {
        let two = service(vec![
            deployment("", "PRIMARY", None, 2),
            Deployment {
                task_definition: Some("old".into()),
                ..deployment("", "ACTIVE", None, 1)
            },
        ]);
        assert_eq!(read(&two, REVISION, ""), Reading::Going);
        let one = service(vec![deployment("", "PRIMARY", None, 2)]);
        assert_eq!(read(&one, REVISION, ""), Reading::Completed);
        assert_eq!(
            progress(&one.deployments[0]),
            "  deployment: - running 2/2 pending 0"
        );
    }
}
