//! Front door 2: the job worker of a custom action type. `ecs-secrets codepipeline-worker
//! --provider NAME` polls CodePipeline for the type's jobs (`PollForJobs`), claims each with
//! `AcknowledgeJob` and the job's nonce (a job another worker claimed first is left to it),
//! handles it and reports, and runs until SIGTERM or Ctrl-C: then it finishes the job in hand,
//! reports it, and exits 0, so no job is lost or handled twice. It runs well as an ECS service.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tracing::{error, info, warn};

use super::{Job, handle, report};
use crate::aws::call::CODEPIPELINE;
use crate::aws::{Aws, Kind};

/// Which action type's jobs to take, and how often to ask.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub provider: String,
    pub category: String,
    pub version: String,
    pub poll: Duration,
}

/// The worker's command line: `codepipeline-worker --provider NAME [--category Deploy]
/// [--version 1] [--poll-interval SECONDS]`.
pub fn command() -> clap::Command {
    use clap::Arg;
    clap::Command::new("codepipeline-worker")
        .about("Run as the job worker of a CodePipeline custom action type until stopped")
        .disable_version_flag(true)
        .arg(
            Arg::new("provider")
                .long("provider")
                .required(true)
                .help("The custom action type's provider name"),
        )
        .arg(
            Arg::new("category")
                .long("category")
                .default_value("Deploy")
                .help("The action type's category"),
        )
        .arg(
            Arg::new("version")
                .long("version")
                .default_value("1")
                .help("The action type's version"),
        )
        .arg(
            Arg::new("poll-interval")
                .long("poll-interval")
                .default_value("10")
                .value_parser(clap::value_parser!(f64))
                .help("Seconds between polls when no job is waiting"),
        )
}

impl Settings {
    pub fn of(matches: &clap::ArgMatches) -> Result<Settings, String> {
        let text = |name: &str| matches.get_one::<String>(name).cloned().unwrap_or_default();
        let poll = *matches.get_one::<f64>("poll-interval").expect("a default");
        if !(0.05..=3600.0).contains(&poll) {
            return Err("`poll-interval` is between 0.05 and 3600 seconds".to_owned());
        }
        Ok(Settings {
            provider: text("provider"),
            category: text("category"),
            version: text("version"),
            poll: Duration::from_secs_f64(poll),
        })
    }

    fn action_type(&self) -> Value {
        json!({
            "category": self.category,
            "owner": "Custom",
            "provider": self.provider,
            "version": self.version,
        })
    }
}

/// Set once SIGTERM or Ctrl-C arrives; wakes a worker that waits between polls.
struct Stop {
    asked: AtomicBool,
    wake: tokio::sync::Notify,
}

fn listen_for_stop() -> Arc<Stop> {
    let stop = Arc::new(Stop {
        asked: AtomicBool::new(false),
        wake: tokio::sync::Notify::new(),
    });
    let listener = Arc::clone(&stop);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        info!("stopping: the job in hand, if any, is finished first");
        listener.asked.store(true, Ordering::SeqCst);
        listener.wake.notify_one();
    });
    stop
}

/// Polls and handles jobs until stopped.
pub async fn run(aws: &Aws, settings: &Settings) -> u8 {
    let stop = listen_for_stop();
    info!(
        provider = %settings.provider,
        category = %settings.category,
        version = %settings.version,
        "CodePipeline job worker started"
    );
    while !stop.asked.load(Ordering::SeqCst) {
        let polled = aws
            .caller()
            .json(
                &CODEPIPELINE,
                "PollForJobs",
                &json!({ "actionTypeId": settings.action_type(), "maxBatchSize": 1 }),
            )
            .await;
        let jobs = match polled {
            Ok(answer) => answer["jobs"].as_array().cloned().unwrap_or_default(),
            // No permission, or no such action type: polling again will not help.
            Err(failure)
                if failure.is(Kind::Denied)
                    || failure.code.as_deref() == Some("ActionTypeNotFoundException") =>
            {
                error!("PollForJobs failed: {failure}; the worker stops");
                return 1;
            }
            Err(failure) => {
                warn!("PollForJobs failed: {failure}");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(settings.poll) => {}
                () = stop.wake.notified() => {}
            }
            continue;
        }
        for raw in &jobs {
            take(aws, raw).await;
        }
    }
    info!("CodePipeline job worker stopped");
    0
}

/// One polled job: claimed, then handled and reported; left alone when another worker has it.
async fn take(aws: &Aws, raw: &Value) {
    let job = match Job::parse(raw) {
        Ok(job) => job,
        Err(message) => {
            warn!("a polled job cannot be read: {message}");
            return;
        }
    };
    let Some(nonce) = job.nonce.clone() else {
        warn!(job = %job.id, "a polled job has no nonce; not claimed");
        return;
    };
    let claimed = aws
        .caller()
        .json(
            &CODEPIPELINE,
            "AcknowledgeJob",
            &json!({ "jobId": job.id, "nonce": nonce }),
        )
        .await;
    match claimed {
        Ok(answer) if answer["status"] == "InProgress" => {}
        Ok(answer) => {
            info!(job = %job.id, status = %answer["status"], "job not claimed");
            return;
        }
        Err(failure)
            if failure.is(Kind::NotFound)
                || failure.code.as_deref() == Some("InvalidNonceException") =>
        {
            info!(job = %job.id, "job claimed by another worker: {failure}");
            return;
        }
        Err(failure) => {
            warn!(job = %job.id, "AcknowledgeJob failed: {failure}");
            return;
        }
    }
    let outcome = handle(aws, &job, None).await;
    if let Err(failure) = report(aws, &job, &outcome).await {
        warn!(job = %job.id, "cannot report the job to CodePipeline: {failure}");
    }
}
