//! CodeDeploy blue/green, for services on the `CODE_DEPLOY` deployment controller, as the deploy
//! action does it: an AppSpec that names the new revision (the user's, or one made from the
//! service's load balancer), `CreateDeployment` on the application and deployment group, then
//! the deployment watched (status, lifecycle events, task sets and their share of traffic) until
//! it succeeds, fails or is stopped, with the same forensics as any roll-out.
//!
//! Everything that can be wrong (no such application or group, an AppSpec that cannot be read
//! or names no task definition, a service without a load balancer and no AppSpec) is found by
//! [`prepare`], before anything is registered.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tracing::warn;

use super::watch::{Watched, new_events, show_state};
use super::{Outcome, Rollout, Target, describe};
use crate::aws::codedeploy::{self, NewDeployment};
use crate::aws::ecs::Service;
use crate::aws::{Aws, Failure};
use crate::error::Error;
use crate::output;

/// The longest wait the deploy action allows, ready and termination waits included.
const MAX_WAIT: Duration = Duration::from_hours(6);

/// The AppSpec file the deploy action reads when `codedeploy-appspec` is not given.
const DEFAULT_APPSPEC: &str = "appspec.yaml";

/// The `codedeploy-*` inputs, the deploy action's names and defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `codedeploy-appspec`: without it, `appspec.yaml` when there is one, else an AppSpec made
    /// from the service's load balancer.
    pub appspec: Option<PathBuf>,
    /// `codedeploy-application`; default `AppECS-{cluster}-{service}`.
    pub application: Option<String>,
    /// `codedeploy-deployment-group`; default `DgpECS-{cluster}-{service}`.
    pub group: Option<String>,
    /// `codedeploy-deployment-config`; default: the group's.
    pub config: Option<String>,
    pub description: Option<String>,
}

/// A CodeDeploy deployment, ready to be started once the revision is registered.
#[derive(Debug, Clone)]
pub struct Prepared {
    client: crate::aws::call::Client,
    pub application: String,
    pub group: String,
    /// The AppSpec, its task definitions still to be set.
    appspec: Value,
    config: Option<String>,
    description: Option<String>,
    /// The group's ready and termination waits, added to `wait-for-minutes`.
    extra_wait: Duration,
}

/// Reads the AppSpec and the deployment group, or says what is missing, before any write.
pub async fn prepare(
    aws: &Aws,
    target: &Target,
    service: &Service,
    settings: &Settings,
    purpose: super::Purpose,
) -> Result<Prepared, Error> {
    let (application, group) = names(target, settings);
    let appspec = match purpose {
        super::Purpose::Deploy => appspec(settings.appspec.as_deref(), target, service)?,
        super::Purpose::Rollback | super::Purpose::Run => Value::Null,
    };
    let client = aws.codedeploy();
    let named = format!("CodeDeploy application `{application}`, deployment group `{group}`");
    let found = codedeploy::group(&client, &application, &group)
        .await
        .map_err(|f| {
            Error::Aws(target.error(&format!(
                "it deploys through CodeDeploy, and its {named} cannot be read (GetDeploymentGroup): {f}"
            )))
        })?
        .ok_or_else(|| {
            Error::Aws(target.error(&format!(
                "it deploys through CodeDeploy, but there is no {named}; name them with `codedeploy-application` and `codedeploy-deployment-group`"
            )))
        })?;
    let minutes = u64::try_from(found.ready_wait_minutes + found.termination_wait_minutes)
        .unwrap_or_default();
    Ok(Prepared {
        client,
        application,
        group,
        appspec,
        config: settings.config.clone(),
        description: settings.description.clone(),
        extra_wait: Duration::from_secs(minutes * 60),
    })
}

/// The application and deployment group: as given, else the deploy action's defaults (the names
/// the ECS console gives them).
pub fn names(target: &Target, settings: &Settings) -> (String, String) {
    let application = settings
        .application
        .clone()
        .unwrap_or_else(|| format!("AppECS-{}-{}", target.cluster, target.service));
    let group = settings
        .group
        .clone()
        .unwrap_or_else(|| format!("DgpECS-{}-{}", target.cluster, target.service));
    (application, group)
}

/// The AppSpec: the file given, else `appspec.yaml` when it exists, else one made from the
/// service's load balancer. Checked now to name a task definition.
fn appspec(given: Option<&Path>, target: &Target, service: &Service) -> Result<Value, Error> {
    let path = match given {
        Some(path) => Some(path),
        None => Some(Path::new(DEFAULT_APPSPEC)).filter(|p| p.is_file()),
    };
    let Some(path) = path else {
        return generated(target, service);
    };
    let text = path.display().to_string();
    let contents = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "input `codedeploy-appspec`: cannot read `{text}`: {e}"
        ))
    })?;
    let value: Value = serde_yaml_ng::from_str(&contents).map_err(|e| {
        Error::Usage(format!(
            "input `codedeploy-appspec`: `{text}` is not a YAML or JSON AppSpec: {e}"
        ))
    })?;
    let mut probe = value.clone();
    set_task_definition(&mut probe, "-")
        .map_err(|why| Error::Usage(format!("input `codedeploy-appspec`: `{text}`: {why}")))?;
    output::err(&format!("rollout: CodeDeploy AppSpec from `{text}`"));
    Ok(value)
}

/// An AppSpec for the service: its load-balanced container and port, its platform version.
fn generated(target: &Target, service: &Service) -> Result<Value, Error> {
    let Some((container, port)) = &service.load_balancer else {
        return Err(Error::Usage(target.error(
            "it deploys through CodeDeploy and has no load balancer with a container to make an AppSpec from; give one with `codedeploy-appspec`",
        )));
    };
    let mut properties = json!({
        "TaskDefinition": "",
        "LoadBalancerInfo": { "ContainerName": container, "ContainerPort": port },
    });
    if let Some(platform) = &service.platform_version {
        properties["PlatformVersion"] = json!(platform);
    }
    output::err(&format!(
        "rollout: CodeDeploy AppSpec made from the service's load balancer (container `{container}`, port {port})"
    ));
    Ok(json!({
        "version": 0.0,
        "Resources": [{ "TargetService": { "Type": "AWS::ECS::Service", "Properties": properties } }],
    }))
}

/// The value of `key` in `map`, its case ignored (the deploy action reads AppSpecs so).
fn field<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    let found = map.keys().find(|k| k.eq_ignore_ascii_case(key))?.clone();
    map.get_mut(&found)
}

/// Sets every resource's `Properties.TaskDefinition` to `arn`.
fn set_task_definition(appspec: &mut Value, arn: &str) -> Result<(), String> {
    let resources = appspec
        .as_object_mut()
        .and_then(|m| field(m, "Resources"))
        .and_then(Value::as_array_mut)
        .filter(|r| !r.is_empty())
        .ok_or("it has no `Resources` list")?;
    for resource in resources {
        let resource = resource
            .as_object_mut()
            .ok_or("a `Resources` entry is not a mapping")?;
        for (name, contents) in resource.iter_mut() {
            let properties = contents
                .as_object_mut()
                .and_then(|m| field(m, "Properties"))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| format!("resource `{name}` has no `Properties`"))?;
            let slot = field(properties, "TaskDefinition")
                .ok_or_else(|| format!("resource `{name}` has no `Properties.TaskDefinition`"))?;
            *slot = json!(arn);
        }
    }
    Ok(())
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

impl Rollout<'_> {
    /// Starts the CodeDeploy deployment of the revision and, when asked, watches it.
    pub(super) async fn code_deploy(
        &self,
        prepared: &Prepared,
        seen_events: std::collections::HashSet<String>,
    ) -> Result<Outcome, Error> {
        let (target, revision) = (self.target, self.revision);
        if self.settings.desired_count.is_some() {
            warn!(
                "desired-count is not applied to a service on the CODE_DEPLOY controller: CodeDeploy keeps the count of the task set it replaces"
            );
        }
        let mut appspec = prepared.appspec.clone();
        set_task_definition(&mut appspec, revision).map_err(Error::Usage)?;
        let content = appspec.to_string();
        let sha256 = sha256_hex(&content);
        let new = NewDeployment {
            application: &prepared.application,
            group: &prepared.group,
            appspec: &content,
            sha256: &sha256,
            config: prepared.config.as_deref(),
            description: prepared.description.as_deref(),
        };
        let id = codedeploy::create(&prepared.client, &new)
            .await
            .map_err(|f| {
                Error::Aws(target.error(&format!(
                    "CodeDeploy CreateDeployment (application `{}`, group `{}`) failed: {f}; the service was not updated; the new revision is {revision}",
                    prepared.application, prepared.group
                )))
            })?;
        output::err(&format!(
            "rollout: service `{}` in cluster `{}` now deploys {revision} through CodeDeploy (deployment {id}, application `{}`, group `{}`)",
            target.service, target.cluster, prepared.application, prepared.group
        ));
        if !self.settings.wait {
            return Ok(Outcome::Started { deployment: id });
        }
        let title = format!("Waiting for CodeDeploy deployment {id}");
        let watched = self
            .ci
            .group(
                &title,
                Box::pin(self.watch_code_deploy(prepared, &id, seen_events)),
            )
            .await?;
        Ok(watched.outcome(id))
    }

    /// Polls the deployment until it succeeds, fails or is stopped, or time runs out
    /// (`wait-for-minutes` plus the group's ready and termination waits, at most six hours).
    pub(super) async fn watch_code_deploy(
        &self,
        prepared: &Prepared,
        id: &str,
        mut seen_events: std::collections::HashSet<String>,
    ) -> Result<Watched, Error> {
        let started = Instant::now();
        let timeout = (self.settings.timeout + prepared.extra_wait).min(MAX_WAIT);
        let live = std::io::stderr().is_terminal();
        let clear = if live { "\x1b[K" } else { "" };
        let mut last_state = String::new();
        let mut events = Vec::new();
        let mut targets_readable = true;
        loop {
            let (deployment, target, service) = tokio::join!(
                codedeploy::get(&prepared.client, id),
                async {
                    if targets_readable {
                        Some(codedeploy::target(&prepared.client, id).await)
                    } else {
                        None
                    }
                },
                describe(self.client, self.target)
            );
            let deployment = deployment.map_err(|f| self.unwatched(id, &f))?;
            let target = match target {
                Some(Ok(target)) => target,
                Some(Err(failure)) => {
                    warn!(
                        "the deployment's lifecycle events cannot be read ({failure}); following its status only"
                    );
                    targets_readable = false;
                    None
                }
                None => None,
            };
            if let Ok(service) = &service {
                events.extend(new_events(service, &mut seen_events, clear));
            }
            let progress = progress(id, &deployment, target.as_ref());
            if progress != last_state {
                show_state(live, &progress);
                last_state = progress;
            }
            let failure = match deployment.status.as_str() {
                "Succeeded" => {
                    output::err(&format!(
                        "{clear}rollout: completed in {}s",
                        started.elapsed().as_secs()
                    ));
                    return Ok(Watched::Completed);
                }
                "Failed" => ended(
                    "the CodeDeploy deployment failed",
                    &deployment,
                    target.as_ref(),
                ),
                "Stopped" => ended(
                    "the CodeDeploy deployment was stopped",
                    &deployment,
                    target.as_ref(),
                ),
                status if started.elapsed() >= timeout => {
                    match self.code_deploy_out_of_time(status, timeout, clear) {
                        Ok(watched) => return Ok(watched),
                        Err(why) => why,
                    }
                }
                _ => {
                    tokio::time::sleep(self.settings.poll_interval.max(Duration::from_millis(10)))
                        .await;
                    continue;
                }
            };
            return Err(self.failed(&failure, "", &events, live).await);
        }
    }

    /// Time ran out: `Baking` (all traffic on the new task set) may succeed with
    /// `succeed-while-baking`; anything else fails, saying where the deployment stood.
    fn code_deploy_out_of_time(
        &self,
        status: &str,
        timeout: Duration,
        clear: &str,
    ) -> Result<Watched, String> {
        let minutes = timeout.as_secs_f64() / 60.0;
        match status {
            "Baking" if self.settings.succeed_while_baking => {
                output::err(&format!(
                    "{clear}rollout: still baking after {minutes} minutes; all traffic is on the new task set, and CodeDeploy can still roll it back (succeeding: `succeed-while-baking`)"
                ));
                Ok(Watched::Baking)
            }
            "Baking" => Err(format!(
                "the CodeDeploy deployment was still baking after {minutes} minutes: all traffic is on the new task set, and CodeDeploy can still roll it back; raise `wait-for-minutes`, or set `succeed-while-baking` to succeed at this point"
            )),
            "Ready" => Err(format!(
                "the CodeDeploy deployment waited for its traffic to be rerouted for {minutes} minutes: the deployment group reroutes by hand; continue it in the CodeDeploy console (ContinueDeployment), or stop it"
            )),
            other => Err(format!(
                "the CodeDeploy deployment did not complete within {minutes} minutes (status {other}); it goes on unwatched"
            )),
        }
    }

    fn unwatched(&self, id: &str, failure: &Failure) -> Error {
        Error::Aws(format!(
            "roll-out of {} to service `{}`: CodeDeploy GetDeployment of {id} failed: {failure}; the deployment goes on without being watched",
            self.revision, self.target.service
        ))
    }
}

impl Prepared {
    /// `rollback`: stops the group's deployment under way with rollback and, when `wait`, follows
    /// the rollback deployment CodeDeploy starts until it succeeds. Returns the outcome word.
    pub async fn roll_back(
        &self,
        target: &Target,
        settings: &super::Settings,
    ) -> Result<&'static str, Error> {
        let named = format!(
            "CodeDeploy deployment group `{}` (application `{}`)",
            self.group, self.application
        );
        let unfinished = codedeploy::unfinished(&self.client, &self.application, &self.group)
            .await
            .map_err(|f| {
                Error::Aws(format!(
                    "cannot list the deployments of {named} (ListDeployments): {f}"
                ))
            })?;
        let Some(id) = unfinished.first() else {
            return Err(Error::Rollout(target.error(&format!(
                "no deployment of its {named} is under way, and CodeDeploy rolls back only a deployment under way; deploy the revision you want with `deploy --task-definition FAMILY:REVISION`"
            ))));
        };
        codedeploy::stop_with_rollback(&self.client, id)
            .await
            .map_err(|f| {
                Error::Aws(format!(
                    "CodeDeploy StopDeployment of {id} failed: {f}; the deployment goes on"
                ))
            })?;
        output::err(&format!(
            "rollback: CodeDeploy deployment {id} of service `{}` stopped with rollback",
            target.service
        ));
        if !settings.wait {
            return Ok("rolling-back");
        }
        self.follow_rollback(target, settings, id).await
    }

    /// Follows the stopped deployment `id` to the rollback deployment it names, and that one
    /// until it ends.
    async fn follow_rollback(
        &self,
        target: &Target,
        settings: &super::Settings,
        id: &String,
    ) -> Result<&'static str, Error> {
        let started = Instant::now();
        let timeout = (settings.timeout + self.extra_wait).min(MAX_WAIT);
        let mut watched = id.clone();
        let mut last = String::new();
        loop {
            let d = codedeploy::get(&self.client, &watched).await.map_err(|f| {
                Error::Aws(format!("CodeDeploy GetDeployment of {watched} failed: {f}"))
            })?;
            let line = format!("  deployment {watched}: {}", d.status);
            if line != last {
                output::err(&line);
                last = line;
            }
            match (d.status.as_str(), watched == *id) {
                // The stopped deployment names the rollback that replaces it.
                (_, true) if d.rolled_back_by.is_some() => {
                    watched = d.rolled_back_by.clone().unwrap_or_default();
                }
                ("Stopped" | "Failed" | "Succeeded", true) => {
                    return Err(Error::Rollout(format!(
                        "CodeDeploy deployment {id} ended {} without a rollback deployment; the service runs what that deployment left{}",
                        d.status,
                        d.error.map(|e| format!(" ({e})")).unwrap_or_default()
                    )));
                }
                ("Succeeded", false) => {
                    output::err("rollback: completed");
                    return Ok("rolled-back");
                }
                ("Stopped" | "Failed", false) => {
                    return Err(Error::Rollout(format!(
                        "the rollback of service `{}` failed: {}",
                        target.service,
                        ended(
                            &format!(
                                "CodeDeploy rollback deployment {watched} ended {}",
                                d.status
                            ),
                            &d,
                            None
                        )
                    )));
                }
                _ if started.elapsed() >= timeout => {
                    return Err(Error::Rollout(format!(
                        "the rollback of service `{}` did not finish within {} minutes ({last})",
                        target.service,
                        timeout.as_secs_f64() / 60.0
                    )));
                }
                _ => {
                    tokio::time::sleep(settings.poll_interval.max(Duration::from_millis(10))).await;
                }
            }
        }
    }
}

/// Why a deployment ended badly: CodeDeploy's error, the lifecycle events that failed (with
/// their diagnosis) and the rollback.
fn ended(what: &str, d: &codedeploy::Deployment, target: Option<&codedeploy::Target>) -> String {
    let mut why = what.to_owned();
    if let Some(error) = &d.error {
        let _ = write!(why, ": {error}");
    }
    for event in target
        .into_iter()
        .flat_map(|t| &t.events)
        .filter(|e| e.status == "Failed")
    {
        let _ = write!(why, "\n  lifecycle event {} failed", event.name);
        if let Some(diagnosis) = &event.diagnosis {
            let _ = write!(why, ": {diagnosis}");
        }
    }
    if let Some(rollback) = &d.rollback {
        let _ = write!(why, "\n  rollback: {rollback}");
    }
    why
}

/// The line that shows the deployment's progress: its status, the lifecycle event under way (or
/// the last one done), and each task set's share of traffic and tasks.
fn progress(id: &str, d: &codedeploy::Deployment, target: Option<&codedeploy::Target>) -> String {
    let mut line = format!("  deployment {id}: {}", d.status);
    let Some(target) = target else {
        return line;
    };
    let current = target
        .events
        .iter()
        .find(|e| e.status == "InProgress" || e.status == "Failed")
        .or_else(|| target.events.iter().rfind(|e| e.status == "Succeeded"));
    if let Some(event) = current {
        let _ = write!(line, " · {} {}", event.name, event.status);
    }
    for set in &target.task_sets {
        let _ = write!(
            line,
            " · {} {}% traffic, {}/{} tasks",
            set.label, set.traffic, set.running, set.desired
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_gets_the_revision_whatever_the_case_of_its_keys() {
        let mut appspec: Value = serde_yaml_ng::from_str(
            "version: 0.0\nresources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      properties:\n        taskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo: {ContainerName: web, ContainerPort: 80}\nHooks:\n  - BeforeAllowTraffic: check\n",
        )
        .unwrap();
        set_task_definition(&mut appspec, "arn:td:7").unwrap();
        assert_eq!(
            appspec["resources"][0]["TargetService"]["properties"]["taskDefinition"],
            "arn:td:7"
        );
        assert_eq!(appspec["Hooks"][0]["BeforeAllowTraffic"], "check");
    }

    #[test]
    fn an_appspec_without_a_task_definition_is_refused_saying_where() {
        for (text, why) in [
            ("version: 0.0\n", "it has no `Resources` list"),
            (
                "Resources:\n  - TargetService:\n      Type: AWS::ECS::Service\n",
                "resource `TargetService` has no `Properties`",
            ),
            (
                "Resources:\n  - TargetService:\n      Properties: {LoadBalancerInfo: {}}\n",
                "resource `TargetService` has no `Properties.TaskDefinition`",
            ),
        ] {
            let mut appspec: Value = serde_yaml_ng::from_str(text).unwrap();
            assert_eq!(set_task_definition(&mut appspec, "x").unwrap_err(), why);
        }
    }

    #[test]
    fn the_progress_line_names_the_event_under_way_and_the_traffic() {
        let d = codedeploy::Deployment {
            status: "InProgress".into(),
            ..Default::default()
        };
        let target = codedeploy::Target {
            events: vec![
                codedeploy::LifecycleEvent {
                    name: "Install".into(),
                    status: "Succeeded".into(),
                    diagnosis: None,
                },
                codedeploy::LifecycleEvent {
                    name: "AllowTraffic".into(),
                    status: "InProgress".into(),
                    diagnosis: None,
                },
            ],
            task_sets: vec![codedeploy::TaskSet {
                label: "GREEN".into(),
                traffic: 100.0,
                running: 2,
                desired: 2,
            }],
        };
        assert_eq!(
            progress("d-1", &d, Some(&target)),
            "  deployment d-1: InProgress · AllowTraffic InProgress · GREEN 100% traffic, 2/2 tasks"
        );
        assert_eq!(sha256_hex("abc").len(), 64);
        assert!(sha256_hex("abc").starts_with("ba7816bf"));
    }
}
