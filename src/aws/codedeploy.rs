//! CodeDeploy, for services on the `CODE_DEPLOY` deployment controller: the deployment group, a
//! deployment of an AppSpec, how it goes (status, lifecycle events, task sets and their traffic)
//! and stopping it with rollback.

use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentStatus, RevisionLocation, RevisionLocationType,
};

use super::{Failure, Kind};

const SERVICE: &str = "CodeDeploy";

/// What a deployment group says about waiting: how long a blue/green deployment may wait for
/// traffic to be rerouted and, after success, before the old task set ends (minutes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub ready_wait_minutes: i64,
    pub termination_wait_minutes: i64,
    /// The ECS services it deploys, `cluster/service`.
    pub services: Vec<String>,
}

/// Reads a deployment group; `Ok(None)` when the application or the group does not exist.
pub async fn group(
    client: &aws_sdk_codedeploy::Client,
    application: &str,
    group: &str,
) -> Result<Option<Group>, Failure> {
    let output = match client
        .get_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await
    {
        Ok(output) => output,
        Err(err) => {
            let failure = Failure::of(SERVICE, &err);
            return if failure.is(Kind::NotFound) {
                Ok(None)
            } else {
                Err(failure)
            };
        }
    };
    let Some(info) = output.deployment_group_info() else {
        return Ok(None);
    };
    let blue_green = info.blue_green_deployment_configuration();
    Ok(Some(Group {
        ready_wait_minutes: blue_green
            .and_then(|b| b.deployment_ready_option())
            .map_or(0, |r| i64::from(r.wait_time_in_minutes())),
        termination_wait_minutes: blue_green
            .and_then(|b| b.terminate_blue_instances_on_deployment_success())
            .map_or(0, |t| i64::from(t.termination_wait_time_in_minutes())),
        services: info
            .ecs_services()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s.cluster_name().unwrap_or_default(),
                    s.service_name().unwrap_or_default()
                )
            })
            .collect(),
    }))
}

/// A deployment to start: where, the AppSpec (JSON) and its SHA-256, and the optional settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDeployment<'a> {
    pub application: &'a str,
    pub group: &'a str,
    pub appspec: &'a str,
    pub sha256: &'a str,
    pub config: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// Starts a deployment; returns its id.
pub async fn create(
    client: &aws_sdk_codedeploy::Client,
    new: &NewDeployment<'_>,
) -> Result<String, Failure> {
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(
            AppSpecContent::builder()
                .content(new.appspec)
                .sha256(new.sha256)
                .build(),
        )
        .build();
    let output = client
        .create_deployment()
        .application_name(new.application)
        .deployment_group_name(new.group)
        .revision(revision)
        .set_deployment_config_name(new.config.map(str::to_owned))
        .set_description(new.description.map(str::to_owned))
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    output
        .deployment_id()
        .map(str::to_owned)
        .ok_or_else(|| Failure::answer(SERVICE, "CreateDeployment returned no deployment id"))
}

/// A deployment as `GetDeployment` tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed`, `Stopped`.
    pub status: String,
    /// The error code and message of a failed or stopped deployment.
    pub error: Option<String>,
    /// The rollback that ended it, or that it is.
    pub rollback: Option<String>,
    /// The deployment CodeDeploy started to roll this one back.
    pub rolled_back_by: Option<String>,
    pub messages: Vec<String>,
}

pub async fn get(client: &aws_sdk_codedeploy::Client, id: &str) -> Result<Deployment, Failure> {
    let output = client
        .get_deployment()
        .deployment_id(id)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    let info = output
        .deployment_info()
        .ok_or_else(|| Failure::answer(SERVICE, "GetDeployment returned no deployment"))?;
    let error = info.error_information().and_then(|e| {
        let code = e.code().map(|c| c.as_str().to_owned());
        let message = e.message().map(str::to_owned);
        match (code, message) {
            (Some(code), Some(message)) => Some(format!("{code}: {message}")),
            (code, message) => code.or(message),
        }
    });
    Ok(Deployment {
        status: info
            .status()
            .map_or("Unknown", DeploymentStatus::as_str)
            .to_owned(),
        error: error.filter(|e| !e.is_empty()),
        rollback: info
            .rollback_info()
            .and_then(|r| r.rollback_message())
            .map(str::to_owned)
            .filter(|m| !m.is_empty()),
        rolled_back_by: info
            .rollback_info()
            .and_then(|r| r.rollback_deployment_id())
            .map(str::to_owned)
            .filter(|m| !m.is_empty()),
        messages: info.deployment_status_messages().to_vec(),
    })
}

/// One lifecycle event of the ECS target: `BeforeInstall`, `AllowTraffic`, … with its status
/// and, when it failed, the diagnosis CodeDeploy gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub name: String,
    pub status: String,
    pub diagnosis: Option<String>,
}

/// A task set of the deployment: `BLUE` or `GREEN`, its share of traffic and its tasks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskSet {
    pub label: String,
    pub traffic: f64,
    pub running: i64,
    pub desired: i64,
}

/// The ECS target of a deployment: its lifecycle events and task sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub events: Vec<LifecycleEvent>,
    pub task_sets: Vec<TaskSet>,
}

/// The deployment's ECS target (`ListDeploymentTargets`, `BatchGetDeploymentTargets`); `None`
/// before CodeDeploy has one.
pub async fn target(
    client: &aws_sdk_codedeploy::Client,
    id: &str,
) -> Result<Option<Target>, Failure> {
    let listed = client
        .list_deployment_targets()
        .deployment_id(id)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    let ids: Vec<String> = listed.target_ids().iter().take(25).cloned().collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let output = client
        .batch_get_deployment_targets()
        .deployment_id(id)
        .set_target_ids(Some(ids))
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    let Some(ecs) = output
        .deployment_targets()
        .iter()
        .find_map(|t| t.ecs_target())
    else {
        return Ok(None);
    };
    Ok(Some(Target {
        events: ecs
            .lifecycle_events()
            .iter()
            .map(|e| LifecycleEvent {
                name: e.lifecycle_event_name().unwrap_or("?").to_owned(),
                status: e.status().map_or("Unknown", |s| s.as_str()).to_owned(),
                diagnosis: e.diagnostics().and_then(|d| {
                    let parts: Vec<&str> = [
                        d.error_code()
                            .map(aws_sdk_codedeploy::types::LifecycleErrorCode::as_str),
                        d.script_name(),
                        d.message(),
                    ]
                    .into_iter()
                    .flatten()
                    .filter(|p| !p.is_empty())
                    .collect();
                    (!parts.is_empty()).then(|| parts.join(": "))
                }),
            })
            .collect(),
        task_sets: ecs
            .task_sets_info()
            .iter()
            .map(|t| TaskSet {
                label: t
                    .task_set_label()
                    .map_or("?", |l| l.as_str())
                    .to_uppercase(),
                traffic: t.traffic_weight(),
                running: t.running_count(),
                desired: t.desired_count(),
            })
            .collect(),
    }))
}

/// The deployments of a group that have not finished, newest first.
pub async fn unfinished(
    client: &aws_sdk_codedeploy::Client,
    application: &str,
    group: &str,
) -> Result<Vec<String>, Failure> {
    let output = client
        .list_deployments()
        .application_name(application)
        .deployment_group_name(group)
        .set_include_only_statuses(Some(vec![
            DeploymentStatus::Created,
            DeploymentStatus::Queued,
            DeploymentStatus::InProgress,
            DeploymentStatus::Ready,
            DeploymentStatus::Baking,
        ]))
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(output.deployments().to_vec())
}

/// Stops a deployment and rolls back to the revision it replaced.
pub async fn stop_with_rollback(
    client: &aws_sdk_codedeploy::Client,
    id: &str,
) -> Result<(), Failure> {
    client
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(true)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(())
}
