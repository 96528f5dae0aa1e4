//! ECS: the family's latest revision (the raw JSON ECS returns), registration (the rendered JSON
//! itself as the request body), revisions and services for `keep-revisions`, and the service,
//! its deployments, events and stopped tasks for the roll-out, in the tool's own model.
//!
//! Registering sends the rendered JSON through `mutate_request`, so fields newer than our SDK
//! reach ECS, while signing, retries, credentials and endpoints stay the SDK's.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_ecs::types::{
    ContainerDefinition, DesiredStatus, SortOrder, TaskDefinitionField, TaskDefinitionStatus,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Map, Value};
use tracing::warn;

use super::pace::{SERVICE_WRITES, TASK_DEFINITION_WRITES};
use super::{Failure, Kind};

const SERVICE: &str = "ECS";

/// A registered revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub arn: String,
    pub revision: i64,
}

/// The family's latest ACTIVE revision, with its definition as ECS returned it.
#[derive(Debug)]
pub struct Latest {
    pub revision: Revision,
    pub body: Map<String, Value>,
}

/// Captures the raw response body of one call.
#[derive(Debug, Default, Clone)]
struct CaptureBody(Arc<Mutex<Option<Vec<u8>>>>);

impl Intercept for CaptureBody {
    fn name(&self) -> &'static str {
        "CaptureBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = context.response().body().bytes() {
            *self.0.lock().expect("capture lock") = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// Reads the family's latest ACTIVE revision, or `None` when the family has none.
pub async fn latest(client: &aws_sdk_ecs::Client, family: &str) -> Result<Option<Latest>, Failure> {
    describe(client, family).await
}

/// Reads one revision (`arn`, `FAMILY:REVISION`, or `FAMILY` for its latest ACTIVE one) with its
/// tags, or `None` when ECS knows no such revision.
pub async fn describe(
    client: &aws_sdk_ecs::Client,
    task_definition: &str,
) -> Result<Option<Latest>, Failure> {
    let capture = CaptureBody::default();
    let response = client
        .describe_task_definition()
        .task_definition(task_definition)
        .include(TaskDefinitionField::Tags)
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let output = match response {
        Ok(output) => output,
        Err(err) => {
            let failure = Failure::of(SERVICE, &err);
            // ECS answers an unknown family (or one without ACTIVE revisions) this way.
            if failure.code.as_deref() == Some("ClientException") {
                return Ok(None);
            }
            return Err(failure);
        }
    };
    let Some(definition) = output.task_definition() else {
        return Ok(None);
    };
    let revision = Revision {
        arn: definition
            .task_definition_arn()
            .unwrap_or_default()
            .to_owned(),
        revision: i64::from(definition.revision()),
    };
    let raw = capture.0.lock().expect("capture lock").take();
    let mut response: Value = raw
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default();
    let Some(Value::Object(mut body)) = response.get_mut("taskDefinition").map(Value::take) else {
        return Err(Failure::answer(
            SERVICE,
            "DescribeTaskDefinition returned no readable definition",
        ));
    };
    if let Some(Value::Array(tags)) = response.get_mut("tags").map(Value::take)
        && !tags.is_empty()
    {
        body.insert("tags".to_owned(), Value::Array(tags));
    }
    Ok(Some(Latest { revision, body }))
}

/// One RegisterTaskDefinition attempt, never retried by the SDK: a retry after a lost answer
/// could register twice, so [`register`] decides.
async fn register_once(
    client: &aws_sdk_ecs::Client,
    family: &str,
    body: &bytes::Bytes,
) -> Result<Revision, Failure> {
    let body = body.clone();
    TASK_DEFINITION_WRITES.take().await;
    let output = client
        .register_task_definition()
        // The typed input only satisfies the builder; the body below replaces it.
        .family(family)
        .container_definitions(ContainerDefinition::builder().build())
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .mutate_request(move |request| {
            *request.body_mut() = SdkBody::from(body.clone());
            request
                .headers_mut()
                .insert("content-length", body.len().to_string());
        })
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    let definition = output.task_definition().ok_or_else(|| Failure {
        kind: Kind::Unavailable,
        ..Failure::answer(
            SERVICE,
            "RegisterTaskDefinition returned no task definition",
        )
    })?;
    Ok(Revision {
        arn: definition
            .task_definition_arn()
            .unwrap_or_default()
            .to_owned(),
        revision: i64::from(definition.revision()),
    })
}

/// How a registration ended without a revision.
#[derive(Debug)]
pub enum NotRegistered {
    /// ECS answered and refused.
    Refused(Failure),
    /// Every attempt failed (throttled, or without an answer, and the family shows no new
    /// revision); the last failure, and how many attempts were made.
    GaveUp(Failure, u32),
    /// An attempt got no answer, and whether it registered cannot be read.
    Unknown(Failure, Failure),
}

/// Registers `json` (the rendered definition) as a new revision. Throttling is retried with
/// backoff. When an attempt ends without an answer (a lost response, a timeout, a 5xx), the
/// family's latest revision is read first: if `landed` recognises it as ours, it is the result,
/// so a retry never leaves two new revisions.
pub async fn register(
    client: &aws_sdk_ecs::Client,
    family: &str,
    json: Vec<u8>,
    max_attempts: u32,
    landed: impl Fn(&Latest) -> bool,
) -> Result<Revision, NotRegistered> {
    let body = bytes::Bytes::from(json);
    let mut backoff = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        let failure = match register_once(client, family, &body).await {
            Ok(revision) => return Ok(revision),
            Err(failure) => failure,
        };
        match failure.kind {
            Kind::Throttled => {}
            Kind::Unavailable => {
                // The attempt may have registered: look before trying again (or giving up).
                let found = latest(client, family)
                    .await
                    .map_err(|read| NotRegistered::Unknown(failure.clone(), read))?;
                if let Some(latest) = found
                    && landed(&latest)
                {
                    warn!(
                        arn = %latest.revision.arn,
                        "the RegisterTaskDefinition answer was lost ({failure}), but the revision was registered; using it"
                    );
                    return Ok(latest.revision);
                }
            }
            _ => return Err(NotRegistered::Refused(failure)),
        }
        if attempt >= max_attempts {
            return Err(NotRegistered::GaveUp(failure, attempt));
        }
        warn!(
            attempt,
            "RegisterTaskDefinition failed ({failure}); retrying"
        );
        tokio::time::sleep(super::pace::jitter(backoff)).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
        attempt += 1;
    }
}

/// The ACTIVE revisions of `family`, newest first (the prefix filter also matches `web-worker`
/// for `web`: only the family's own are kept).
pub async fn active_revisions(
    client: &aws_sdk_ecs::Client,
    family: &str,
) -> Result<Vec<String>, Failure> {
    let mut pages = client
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| Failure::of(SERVICE, &err))?;
        arns.extend(
            page.task_definition_arns()
                .iter()
                .filter(|arn| family_of(arn) == Some(family))
                .cloned(),
        );
    }
    arns.sort_by_key(|arn| {
        std::cmp::Reverse(
            arn.rsplit(':')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0),
        )
    });
    Ok(arns)
}

fn family_of(arn: &str) -> Option<&str> {
    let resource = arn.rsplit_once(":task-definition/")?.1;
    Some(resource.rsplit_once(':')?.0)
}

pub async fn deregister(client: &aws_sdk_ecs::Client, arn: &str) -> Result<(), Failure> {
    TASK_DEFINITION_WRITES.take().await;
    client
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map(drop)
        .map_err(|err| Failure::of(SERVICE, &err))
}

/// Task definitions that the services of `cluster` run or are deploying.
pub async fn revisions_in_use(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<HashSet<String>, Failure> {
    let mut pages = client
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .send();
    let mut services = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| Failure::of(SERVICE, &err))?;
        services.extend(page.service_arns().iter().cloned());
    }
    let mut in_use = HashSet::new();
    for chunk in services.chunks(10) {
        let output = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|err| Failure::of(SERVICE, &err))?;
        for service in output.services() {
            in_use.extend(service.task_definition().map(str::to_owned));
            in_use.extend(
                service
                    .deployments()
                    .iter()
                    .filter_map(|d| d.task_definition().map(str::to_owned)),
            );
        }
    }
    Ok(in_use)
}

/// A service as the roll-out sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub status: String,
    /// `ECS`, `CODE_DEPLOY` or `EXTERNAL`; `None` when ECS does not say (the ECS controller).
    pub controller: Option<String>,
    pub task_definition: Option<String>,
    pub desired_count: i32,
    pub deployments: Vec<Deployment>,
    /// Newest first, as ECS lists them.
    pub events: Vec<Event>,
    /// Its `awsvpc` network configuration, as RunTask takes it (`subnets`, `securityGroups`,
    /// `assignPublicIp`), for a one-off task that runs where the service's tasks run.
    pub awsvpc: Option<Value>,
    /// The service deployment ECS names as current (`currentServiceDeployment`).
    pub current_service_deployment: Option<String>,
    /// How its tasks are launched, for a one-off task launched the same way.
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub platform_version: Option<String>,
    /// Its first load balancer's container and port (what a CodeDeploy AppSpec names).
    pub load_balancer: Option<(String, i32)>,
}

/// One deployment of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// Empty when ECS (or the emulator) gives none.
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub task_definition: Option<String>,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`; `None` when ECS does not say.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    pub failed_tasks: i32,
    /// Epoch seconds.
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub message: String,
}

/// Why a service could not be read.
#[derive(Debug)]
pub enum NoService {
    /// The call failed.
    Failed(Failure),
    /// ECS answered without it (the reason it gave).
    Missing(String),
}

/// Reads one service.
pub async fn describe_service(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Service, NoService> {
    let output = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|err| NoService::Failed(Failure::of(SERVICE, &err)))?;
    if let Some(failure) = output.failures().first() {
        return Err(NoService::Missing(
            failure.reason().unwrap_or("no reason given").to_owned(),
        ));
    }
    let service = output
        .services()
        .first()
        .ok_or_else(|| NoService::Missing("not in the answer".to_owned()))?;
    Ok(Service {
        awsvpc: awsvpc_of(service),
        current_service_deployment: service.current_service_deployment().map(str::to_owned),
        launch_type: service.launch_type().map(|l| l.as_str().to_owned()),
        capacity_provider_strategy: strategy_of(service),
        platform_version: service.platform_version().map(str::to_owned),
        load_balancer: service
            .load_balancers()
            .iter()
            .find_map(|lb| Some((lb.container_name()?.to_owned(), lb.container_port()?))),
        status: service.status().unwrap_or("UNKNOWN").to_owned(),
        controller: service
            .deployment_controller()
            .map(|c| c.r#type().as_str().to_owned()),
        task_definition: service.task_definition().map(str::to_owned),
        desired_count: service.desired_count(),
        deployments: service
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or_default().to_owned(),
                status: d.status().unwrap_or_default().to_owned(),
                task_definition: d.task_definition().map(str::to_owned),
                rollout_state: d.rollout_state().map(|s| s.as_str().to_owned()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
                running: d.running_count(),
                desired: d.desired_count(),
                pending: d.pending_count(),
                failed_tasks: d.failed_tasks(),
                created_at: d.created_at().map(aws_smithy_types::DateTime::secs),
            })
            .collect(),
        events: service
            .events()
            .iter()
            .filter_map(|e| {
                Some(Event {
                    id: e.id()?.to_owned(),
                    message: e.message().unwrap_or_default().to_owned(),
                })
            })
            .collect(),
    })
}

/// Stops a service deployment in progress and rolls the service back to its previous revision
/// (`StopServiceDeployment`, stop type `ROLLBACK`).
pub async fn stop_with_rollback(client: &aws_sdk_ecs::Client, arn: &str) -> Result<(), Failure> {
    client
        .stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(())
}

/// The task definition of a service revision (`DescribeServiceRevisions`).
pub async fn revision_task_definition(
    client: &aws_sdk_ecs::Client,
    service_revision: &str,
) -> Result<Option<String>, Failure> {
    let output = client
        .describe_service_revisions()
        .service_revision_arns(service_revision)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(output
        .service_revisions()
        .first()
        .and_then(|r| r.task_definition())
        .map(str::to_owned))
}

/// What `UpdateService` changes besides the revision; `None`: the service keeps its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceChange {
    pub desired_count: Option<i32>,
    pub force: bool,
    pub managed_tags: Option<bool>,
    /// `TASK_DEFINITION`, `SERVICE` or `NONE`.
    pub propagate_tags: Option<String>,
}

/// What `UpdateService` answered about the deployment it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Updated {
    /// The PRIMARY deployment of the revision (empty when ECS names none).
    pub deployment: String,
    /// The service deployment's ARN (`currentServiceDeployment`), where ECS gives one: the
    /// deployment the service-deployment API follows, whatever its strategy.
    pub service_deployment: Option<String>,
}

/// A service deployment as `DescribeServiceDeployments` tells it: any strategy (rolling,
/// blue/green, linear, canary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDeployment {
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `STOP_REQUESTED`, `ROLLBACK_…`.
    pub status: String,
    pub status_reason: Option<String>,
    /// The lifecycle stage (`SCALE_UP`, `TEST_TRAFFIC_SHIFT`, `BAKE_TIME`, …).
    pub stage: Option<String>,
    /// `ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY`.
    pub strategy: Option<String>,
    pub bake_minutes: Option<i32>,
    pub rollback_reason: Option<String>,
    pub triggered_alarms: Vec<String>,
    /// The service revisions it moves away from (what a rollback returns to).
    pub source_revisions: Vec<String>,
}

/// Reads one service deployment; `Ok(None)` when ECS does not know it.
pub async fn describe_service_deployment(
    client: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<Option<ServiceDeployment>, Failure> {
    let output = client
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(output.service_deployments().first().map(|d| {
        let configuration = d.deployment_configuration();
        ServiceDeployment {
            status: d
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            status_reason: d.status_reason().map(str::to_owned),
            stage: d.lifecycle_stage().map(|s| s.as_str().to_owned()),
            strategy: configuration
                .and_then(|c| c.strategy())
                .map(|s| s.as_str().to_owned()),
            bake_minutes: configuration
                .and_then(aws_sdk_ecs::types::DeploymentConfiguration::bake_time_in_minutes),
            rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_owned),
            triggered_alarms: d
                .alarms()
                .map(|a| a.triggered_alarm_names().to_vec())
                .unwrap_or_default(),
            source_revisions: d
                .source_service_revisions()
                .iter()
                .filter_map(|r| r.arn().map(str::to_owned))
                .collect(),
        }
    }))
}

/// The service's `awsvpc` network, as RunTask takes it.
fn awsvpc_of(service: &aws_sdk_ecs::types::Service) -> Option<Value> {
    let a = service.network_configuration()?.awsvpc_configuration()?;
    let mut config = serde_json::json!({
        "subnets": a.subnets(),
        "securityGroups": a.security_groups(),
    });
    if let Some(public) = a.assign_public_ip() {
        config["assignPublicIp"] = Value::String(public.as_str().to_owned());
    }
    Some(config)
}

/// The service's capacity provider strategy, as RunTask takes it.
fn strategy_of(service: &aws_sdk_ecs::types::Service) -> Option<Value> {
    let items = service.capacity_provider_strategy();
    (!items.is_empty()).then(|| {
        Value::Array(
            items
                .iter()
                .map(|item| {
                    serde_json::json!({
                        "capacityProvider": item.capacity_provider(),
                        "weight": item.weight(),
                        "base": item.base(),
                    })
                })
                .collect(),
        )
    })
}

/// Points the service at `revision`; returns the deployment it started.
pub async fn update_service(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    revision: &str,
    change: &ServiceChange,
) -> Result<Updated, Failure> {
    SERVICE_WRITES.take().await;
    let updated = client
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(revision)
        .set_desired_count(change.desired_count)
        .force_new_deployment(change.force)
        .set_enable_ecs_managed_tags(change.managed_tags)
        .set_propagate_tags(
            change
                .propagate_tags
                .as_deref()
                .map(aws_sdk_ecs::types::PropagateTags::from),
        )
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    let service = updated.service();
    Ok(Updated {
        deployment: service
            .and_then(|s| {
                s.deployments().iter().find(|d| {
                    d.status() == Some("PRIMARY") && d.task_definition() == Some(revision)
                })
            })
            .and_then(|d| d.id())
            .unwrap_or_default()
            .to_owned(),
        service_deployment: service
            .and_then(|s| s.current_service_deployment())
            .filter(|arn| !arn.is_empty())
            .map(str::to_owned),
    })
}

/// A task as `DescribeTasks` tells it, for a one-off task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Task {
    pub arn: String,
    pub last_status: String,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// Each container: name, exit code, reason.
    pub containers: Vec<(String, Option<i32>, Option<String>)>,
}

/// Starts a one-off task with `body` (the RunTask request as JSON, sent as it is, like a
/// registration); returns the tasks' ARNs, or the failures ECS reported.
pub async fn run_task(
    client: &aws_sdk_ecs::Client,
    task_definition: &str,
    body: bytes::Bytes,
) -> Result<Vec<String>, Failure> {
    let output = client
        .run_task()
        // The typed input only satisfies the builder; the body below replaces it. Retried like any
        // call: the body's `clientToken` makes a retry start no second task.
        .task_definition(task_definition)
        .customize()
        .mutate_request(move |request| {
            *request.body_mut() = SdkBody::from(body.clone());
            request
                .headers_mut()
                .insert("content-length", body.len().to_string());
        })
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    if let Some(failure) = output.failures().first() {
        return Err(Failure::answer(
            SERVICE,
            format!(
                "RunTask started no task: {}{}",
                failure.reason().unwrap_or("no reason given"),
                failure
                    .detail()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(output
        .tasks()
        .iter()
        .filter_map(|t| t.task_arn().map(str::to_owned))
        .collect())
}

/// Reads tasks by ARN.
pub async fn describe_tasks(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<Task>, Failure> {
    let described = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(described
        .tasks()
        .iter()
        .map(|t| Task {
            arn: t.task_arn().unwrap_or_default().to_owned(),
            last_status: t.last_status().unwrap_or("UNKNOWN").to_owned(),
            stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
            stopped_reason: t.stopped_reason().map(str::to_owned),
            containers: t
                .containers()
                .iter()
                .map(|c| {
                    (
                        c.name().unwrap_or("?").to_owned(),
                        c.exit_code(),
                        c.reason().map(str::to_owned),
                    )
                })
                .collect(),
        })
        .collect())
}

/// A stopped task: its id, why it stopped, and each container's reason (or exit code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedTask {
    pub id: String,
    pub reason: String,
    pub containers: Vec<(String, String)>,
    pub task_definition: Option<String>,
    pub started_by: Option<String>,
}

/// The stopped tasks of a service (the first 100 ECS lists).
pub async fn stopped_tasks(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Vec<StoppedTask>, Failure> {
    let listed = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|err| Failure::of(SERVICE, &err))?;
    Ok(described
        .tasks()
        .iter()
        .map(|t| StoppedTask {
            id: t
                .task_arn()
                .and_then(|a| a.rsplit('/').next())
                .unwrap_or("?")
                .to_owned(),
            reason: t.stopped_reason().unwrap_or("no reason given").to_owned(),
            containers: t
                .containers()
                .iter()
                .filter_map(|c| {
                    let reason = c.reason().map(str::to_owned).or_else(|| {
                        c.exit_code()
                            .filter(|code| *code != 0)
                            .map(|code| format!("exit code {code}"))
                    })?;
                    Some((c.name().unwrap_or("?").to_owned(), reason))
                })
                .collect(),
            task_definition: t.task_definition_arn().map(str::to_owned),
            started_by: t.started_by().map(str::to_owned),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::replay::{block_on, config};

    #[test]
    fn a_service_answer_becomes_the_tool_s_model() {
        let answer = r#"{"services": [{
            "serviceName": "web", "status": "ACTIVE", "desiredCount": 2,
            "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:7",
            "deploymentController": {"type": "ECS"},
            "deployments": [
                {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:7",
                 "rolloutState": "IN_PROGRESS", "runningCount": 1, "desiredCount": 2, "pendingCount": 1,
                 "failedTasks": 0, "createdAt": 1700000000},
                {"status": "ACTIVE", "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:6"}
            ],
            "events": [{"id": "e2", "message": "(service web) has started 1 tasks"}]
        }], "failures": []}"#;
        let client = aws_sdk_ecs::Client::new(&config(&[(200, answer)]));
        let service = block_on(describe_service(&client, "prod", "web")).unwrap();
        assert_eq!(service.controller.as_deref(), Some("ECS"));
        assert_eq!(
            service.deployments[0].rollout_state.as_deref(),
            Some("IN_PROGRESS")
        );
        assert_eq!(service.deployments[0].created_at, Some(1_700_000_000));
        assert_eq!(service.deployments[1].id, "", "a deployment without an id");
        assert_eq!(service.events[0].id, "e2");
    }

    #[test]
    fn a_missing_service_is_told_from_a_failed_call() {
        let missing = r#"{"services": [], "failures": [{"arn": "x", "reason": "MISSING"}]}"#;
        let client = aws_sdk_ecs::Client::new(&config(&[(200, missing)]));
        let result = block_on(describe_service(&client, "prod", "web"));
        assert!(matches!(result, Err(NoService::Missing(reason)) if reason == "MISSING"));
    }

    #[test]
    fn an_unknown_family_has_no_latest_revision() {
        let answer =
            r#"{"__type": "ClientException", "message": "Unable to describe task definition."}"#;
        let client = aws_sdk_ecs::Client::new(&config(&[(400, answer)]));
        assert!(block_on(latest(&client, "web")).unwrap().is_none());
    }

    #[test]
    fn a_family_is_read_from_a_revision_arn() {
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/web-worker:3"),
            Some("web-worker")
        );
        assert_eq!(family_of("nonsense"), None);
    }
}
