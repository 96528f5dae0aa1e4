//! The poll loop: every `poll-interval`, the service's state, each change of our deployment's
//! progress and each new service event printed, until it completes, fails or time runs out.

use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use super::state::{self, Reading};
use super::{Rollout, describe, forensics};
use crate::aws::ecs::Service;
use crate::error::Error;
use crate::output::{self, Stream};

impl Rollout<'_> {
    /// Watches deployment `deployment_id` (or, without one, the deployment of the revision).
    pub(super) async fn watch(
        &self,
        mut seen_events: HashSet<String>,
        deployment_id: &str,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut last_state = String::new();
        // On a terminal the state is a live line; on CI, one line per change.
        let live = std::io::stderr().is_terminal();
        let clear = if live { "\x1b[K" } else { "" };
        let mut events = Vec::new();
        loop {
            let service = describe(self.client, self.target).await?;
            events.extend(new_events(&service, &mut seen_events, clear));
            if let Some(d) = state::ours(&service, self.revision, deployment_id) {
                let progress = state::progress(d);
                if progress != last_state {
                    show_state(live, &progress);
                    last_state = progress;
                }
            }
            let failure = match state::read(&service, self.revision, deployment_id) {
                Reading::Completed => {
                    output::err(&format!(
                        "{clear}rollout: completed in {}s",
                        started.elapsed().as_secs()
                    ));
                    return Ok(());
                }
                Reading::Failed(why) => Some(why),
                Reading::Going => (started.elapsed() >= self.settings.timeout).then(|| {
                    format!(
                        "the deployment did not complete within {} minutes",
                        self.settings.timeout.as_secs_f64() / 60.0
                    )
                }),
            };
            if let Some(failure) = failure {
                let forensics = forensics::gather(self, deployment_id, &events).await;
                if live {
                    output::write(Stream::Stderr, b"\n");
                }
                return Err(Error::Rollout(format!(
                    "roll-out of {} to service `{}` failed: {failure}{forensics}",
                    self.revision, self.target.service
                )));
            }
            tokio::time::sleep(self.settings.poll_interval.max(Duration::from_millis(10))).await;
        }
    }
}

/// Prints and returns the service events not seen before, oldest first.
fn new_events(service: &Service, seen: &mut HashSet<String>, clear: &str) -> Vec<String> {
    let mut fresh: Vec<String> = service
        .events
        .iter()
        .filter(|e| seen.insert(e.id.clone()))
        .map(|e| e.message.clone())
        .collect();
    fresh.reverse(); // ECS lists the newest first
    for event in &fresh {
        output::err(&format!("{clear}  event: {event}"));
    }
    fresh
}

/// On a terminal, one line that updates in place (the carriage return releases it through the
/// redactor); on CI, one line per change.
fn show_state(live: bool, state: &str) {
    if live {
        output::write(Stream::Stderr, format!("\x1b[K{state}\r").as_bytes());
    } else {
        output::err(state);
    }
}
