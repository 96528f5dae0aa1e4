//! Why a roll-out failed: the last service events, the stopped tasks of the new deployment with
//! their reasons, and a diagnosis of the most specific ones.

use std::fmt::Write as _;

use super::Rollout;
use crate::aws::ecs;
use crate::diagnose;

/// The forensics text, appended to the roll-out's error.
pub(super) async fn gather(
    rollout: &Rollout<'_>,
    deployment_id: &str,
    events: &[String],
) -> String {
    let mut text = String::new();
    let mut reasons: Vec<String> = Vec::new();
    if !events.is_empty() {
        text.push_str("\n  last service events:");
        for event in events.iter().rev().take(8).rev() {
            let _ = write!(text, "\n    {event}");
        }
        reasons.extend(events.iter().rev().take(8).cloned());
    }
    let target = rollout.target;
    match ecs::stopped_tasks(rollout.client, &target.cluster, &target.service).await {
        Ok(tasks) => {
            let ours: Vec<&ecs::StoppedTask> = tasks
                .iter()
                .filter(|t| {
                    t.task_definition.as_deref() == Some(rollout.revision)
                        || (!deployment_id.is_empty()
                            && t.started_by.as_deref() == Some(deployment_id))
                })
                .take(5)
                .collect();
            if ours.is_empty() {
                text.push_str("\n  no stopped task of the new deployment was found");
            } else {
                text.push_str("\n  stopped tasks of the new deployment:");
            }
            for task in ours {
                let _ = write!(text, "\n    task {}: {}", task.id, task.reason);
                for (name, container_reason) in &task.containers {
                    let _ = write!(text, "\n      container `{name}`: {container_reason}");
                    reasons.push(container_reason.clone());
                }
                reasons.push(task.reason.clone());
            }
        }
        Err(failure) => {
            let _ = write!(text, "\n  could not read the stopped tasks: {failure}");
        }
    }
    text.push_str(&diagnoses(&reasons, rollout.execution_role));
    text
}

/// Up to three distinct diagnoses, the most specific first: task reasons are more precise than
/// events.
fn diagnoses(reasons: &[String], execution_role: Option<&str>) -> String {
    let mut found: Vec<diagnose::Diagnosis> = Vec::new();
    for reason in reasons.iter().rev() {
        if let Some(d) = diagnose::explain(reason, execution_role)
            && !found.contains(&d)
        {
            found.push(d);
        }
    }
    let mut text = String::new();
    for d in found.iter().take(3) {
        let _ = write!(text, "\n  diagnosis: {}\n  fix: {}", d.cause, d.fix);
    }
    text
}
