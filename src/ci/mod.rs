//! Where the tool runs, as far as output is concerned: GitHub Actions, CodeBuild, or anything
//! else. One [`Ci`] value carries masks, groups, annotations, step outputs and the step summary;
//! nothing else in the crate knows a workflow command.

pub mod github;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

pub use github::Level;

use crate::error::{Error, Location};
use crate::mask::{Learnt, MIN_MASKED_LEN, Secret};
use crate::output;

#[derive(Debug, Clone)]
pub enum Ci {
    GitHub(github::GitHub),
    CodeBuild,
    Plain,
}

/// An annotation of a place in the template: a failure or a warning.
#[derive(Debug, Clone)]
pub struct Annotation {
    pub level: Level,
    pub location: Location,
    pub title: &'static str,
    pub message: String,
}

impl Ci {
    /// The CI of this environment.
    pub fn detect(environment: &BTreeMap<String, String>) -> Ci {
        if environment.get("GITHUB_ACTIONS").map(String::as_str) == Some("true") {
            let path = |name: &str| {
                environment
                    .get(name)
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
            };
            return Ci::GitHub(github::GitHub {
                output: path("GITHUB_OUTPUT"),
                env: path("GITHUB_ENV"),
                step_summary: path("GITHUB_STEP_SUMMARY"),
                workspace: path("GITHUB_WORKSPACE"),
            });
        }
        if environment.contains_key("CODEBUILD_BUILD_ID") {
            Ci::CodeBuild
        } else {
            Ci::Plain
        }
    }

    pub fn is_github(&self) -> bool {
        matches!(self, Ci::GitHub(_))
    }

    /// What a user of this CI should know before anything else.
    pub fn announce(&self) {
        if matches!(self, Ci::CodeBuild) {
            info!(
                "on CodeBuild: CodeBuild masks only the secrets it injects itself; values this tool fetches are protected by its own redaction"
            );
        }
    }

    /// Registers a fetched secret value with the redactor and the CI's own masking (GitHub's
    /// `::add-mask::`); warns, naming the reference and the JSON key (never the value), about
    /// parts too short to mask and parts so common that masking them masks ordinary text too.
    pub fn protect(&self, secret: &Secret, label: &str) {
        let learnt = output::protect(secret);
        if let Ci::GitHub(_) = self {
            github::add_mask(&learnt.forms);
        }
        self.warn_about(&learnt, label);
    }

    fn warn_about(&self, learnt: &Learnt, label: &str) {
        let part = |place: &str| {
            if place.is_empty() {
                format!("`{label}`")
            } else {
                format!("JSON key `{place}` of `{label}`")
            }
        };
        for place in &learnt.short {
            warn!(
                "the value of {} is shorter than {MIN_MASKED_LEN} characters and cannot be masked in logs; ecs-secrets never prints it, but other steps might",
                part(place)
            );
        }
        let runner = if self.is_github() {
            "this run's log and, on GitHub, every later step's"
        } else {
            "this run's log"
        };
        for (place, why) in &learnt.common {
            warn!(
                "the value of {} is {why}: it is masked wherever that text appears in {runner}, so ordinary text shows as `***` too; the outputs are written exactly",
                part(place)
            );
        }
    }

    /// Runs `work` inside a folded log group (GitHub); elsewhere just runs it.
    pub async fn group<T>(&self, title: &str, work: impl Future<Output = T>) -> T {
        if !self.is_github() {
            return work.await;
        }
        github::group(title);
        let result = work.await;
        github::end_group();
        result
    }

    /// One annotation per problem of the error that has a place in a file.
    pub fn annotate_error(&self, error: &Error) {
        let annotations: Vec<Annotation> = error
            .problems()
            .iter()
            .map(|problem| Annotation {
                level: Level::Error,
                location: problem.location.clone(),
                title: "ecs-secrets",
                message: match &problem.reference {
                    Some(reference) => format!("{reference}: {}", problem.reason),
                    None => problem.reason.clone(),
                },
            })
            .collect();
        self.annotate(&annotations);
    }

    /// Writes annotations (GitHub); places in inputs rather than files get none.
    pub fn annotate(&self, annotations: &[Annotation]) {
        if let Ci::GitHub(github) = self {
            for annotation in annotations {
                github.annotate(annotation);
            }
        }
    }

    /// Sets step outputs (GitHub), exactly as given.
    pub fn set_outputs(&self, outputs: &[(&str, String)]) {
        if let Ci::GitHub(github::GitHub {
            output: Some(path), ..
        }) = self
            && let Err(e) = github::set_outputs(path, outputs)
        {
            warn!(file = %path.display(), "cannot write step outputs: {e}");
        }
    }

    /// Appends Markdown to the step summary (GitHub).
    pub fn summarise(&self, markdown: &str) {
        if let Ci::GitHub(github::GitHub {
            step_summary: Some(path),
            ..
        }) = self
            && let Err(e) = github::append_summary(path, markdown)
        {
            warn!(file = %path.display(), "cannot write the step summary: {e}");
        }
    }

    /// The file that sets step outputs (`GITHUB_OUTPUT`), on GitHub.
    pub fn output_file(&self) -> Option<&Path> {
        match self {
            Ci::GitHub(github) => github.output.as_deref(),
            _ => None,
        }
    }

    /// The file that sets variables for later steps (`GITHUB_ENV`), on GitHub.
    pub fn env_file(&self) -> Option<&Path> {
        match self {
            Ci::GitHub(github) => github.env.as_deref(),
            _ => None,
        }
    }
}
