//! CodePipeline: the tool as a pipeline action of its own. One job handler ([`handle`], then
//! [`report`]) behind two front doors: a Lambda function's runtime loop ([`lambda`], the binary
//! as the `bootstrap` of a `provided.al2023` function) and a custom action's job worker
//! ([`worker`], `ecs-secrets codepipeline-worker`).
//!
//! A job runs the tool itself as a child process (`deploy`, `render` or `check`, the job's
//! `UserParameters` as its inputs) in a directory holding the input artifacts: each job gets a
//! fresh run (its own redactor, rate bounds and AWS configuration), and the job's artifact
//! credentials stay in this process, never in the child's environment or arguments.

pub mod job;
pub mod lambda;
mod params;
pub mod worker;
mod zip;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::aws::call::CODEPIPELINE;
use crate::aws::{Aws, Failure};
use crate::output::{self, Stream};
pub use job::Job;
use params::Params;

/// How a job ended, as it is reported to the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        variables: BTreeMap<String, String>,
        summary: String,
        external_id: Option<String>,
        /// Call again with this: the roll-out is still under way.
        continuation: Option<String>,
    },
    Failed {
        /// `ConfigurationError` (the action's configuration is wrong) rather than `JobFailed`.
        configuration: bool,
        message: String,
        external_id: Option<String>,
    },
}

impl Outcome {
    fn failed(message: impl Into<String>) -> Self {
        Outcome::Failed {
            configuration: false,
            message: message.into(),
            external_id: None,
        }
    }

    fn misconfigured(message: impl Into<String>) -> Self {
        Outcome::Failed {
            configuration: true,
            message: message.into(),
            external_id: None,
        }
    }
}

/// The directory a job works in, removed when the job ends.
struct Workspace(PathBuf);

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Handles one job: a continuation checks the roll-out it started; otherwise the input
/// artifacts are fetched, the tool runs on them, and the output artifact is written.
pub async fn handle(aws: &Aws, job: &Job, deadline: Option<Instant>) -> Outcome {
    info!(job = %job.id, action = %job.context, "handling CodePipeline job");
    let params = match Params::parse(job.user_parameters.as_deref()) {
        Ok(params) => params,
        Err(message) => return Outcome::misconfigured(message),
    };
    if let Some(token) = &job.continuation {
        return params::resume(aws, token).await;
    }
    // Readable by this user only, named by the job and this process.
    let dir = std::env::temp_dir().join(format!(
        "ecs-secrets-job-{}-{}",
        sanitized(&job.id),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    if let Err(e) = builder.create(&dir) {
        return Outcome::failed(format!("cannot make the job's directory: {e}"));
    }
    let workspace = Workspace(dir);
    let (input, out) = (workspace.0.join("in"), workspace.0.join("out"));
    for dir in [&input, &out] {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return Outcome::failed(format!("cannot make the job's directory: {e}"));
        }
    }
    if let Err(message) = fetch_inputs(aws, job, &input).await {
        return Outcome::failed(message);
    }
    let args = params.args(&input, (!job.outputs.is_empty()).then_some(out.as_path()));
    let ran = match run_tool(args, input.clone(), deadline).await {
        Ok(ran) => ran,
        Err(message) => return Outcome::failed(message),
    };
    if ran.code != 0 {
        return Outcome::Failed {
            configuration: ran.code == 2,
            message: ran.error,
            external_id: None,
        };
    }
    if let Some(artifact) = job.outputs.first()
        && let Err(message) = put_output(aws, job, artifact, &out).await
    {
        return Outcome::failed(message);
    }
    params.succeeded(&ran.report)
}

/// A job id as a directory name.
fn sanitized(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

fn artifact_credentials(job: &Job) -> Result<Credentials, String> {
    let c = job
        .credentials
        .as_ref()
        .ok_or("the job carries no artifact credentials")?;
    Ok(Credentials::new(
        &c.access_key_id,
        c.secret_access_key.expose(),
        Some(c.session_token.expose().to_owned()),
        None,
        "codepipeline-job",
    ))
}

/// Fetches and extracts the input artifacts: the first into `dir`, each other one into
/// `dir/<its name>`.
async fn fetch_inputs(aws: &Aws, job: &Job, dir: &Path) -> Result<(), String> {
    if job.inputs.is_empty() {
        return Ok(());
    }
    let credentials = artifact_credentials(job)?;
    for (i, artifact) in job.inputs.iter().enumerate() {
        let bytes = aws
            .caller()
            .get_object(&credentials, &artifact.bucket, &artifact.key)
            .await
            .map_err(|f| {
                format!(
                    "cannot read input artifact `{}` (s3://{}/{}): {f}",
                    artifact.name, artifact.bucket, artifact.key
                )
            })?;
        let into = if i == 0 {
            dir.to_path_buf()
        } else {
            dir.join(sanitized(&artifact.name))
        };
        let files = zip::extract(&bytes, &into)
            .map_err(|e| format!("input artifact `{}`: {e}", artifact.name))?;
        info!(
            artifact = %artifact.name,
            files = files.len(),
            "input artifact extracted"
        );
    }
    Ok(())
}

async fn put_output(
    aws: &Aws,
    job: &Job,
    artifact: &job::Artifact,
    out: &Path,
) -> Result<(), String> {
    let bytes = zip::create(out).map_err(|e| format!("cannot zip the output artifact: {e}"))?;
    let credentials = artifact_credentials(job)?;
    aws.caller()
        .put_object(
            &credentials,
            &artifact.bucket,
            &artifact.key,
            bytes.into(),
            job.kms_key.as_deref(),
        )
        .await
        .map_err(|f| {
            format!(
                "cannot write output artifact `{}` (s3://{}/{}): {f}",
                artifact.name, artifact.bucket, artifact.key
            )
        })?;
    info!(artifact = %artifact.name, "output artifact written");
    Ok(())
}

/// What a run of the tool left.
struct Ran {
    code: i32,
    /// Its JSON report (stdout).
    report: Value,
    /// Its error, from `error:` on (already redacted by the child, and again here).
    error: String,
}

/// Environment variables a job's child does not inherit: another front door's, GitHub's
/// (the job is not a GitHub step), and inputs meant for this process.
fn inherited(key: &str) -> bool {
    !(key.starts_with("INPUT_")
        || key.starts_with("GITHUB_")
        || key == "AWS_LAMBDA_RUNTIME_API"
        || key == "_HANDLER")
}

/// Runs the tool on the job's inputs, off the runtime's thread (a worker stays responsive to
/// SIGTERM), in its own process group (a Ctrl-C or SIGTERM to the worker's group does not cut a
/// deploy in half), killed at `deadline` (a Lambda invocation's end, less a margin to report).
/// Its log goes to this process's log.
async fn run_tool(
    args: Vec<String>,
    dir: PathBuf,
    deadline: Option<Instant>,
) -> Result<Ran, String> {
    tokio::task::spawn_blocking(move || run_tool_blocking(&args, &dir, deadline))
        .await
        .map_err(|e| format!("the tool's run ended abnormally: {e}"))?
}

fn run_tool_blocking(
    args: &[String],
    dir: &Path,
    deadline: Option<Instant>,
) -> Result<Ran, String> {
    use std::io::Read as _;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the tool's binary: {e}"))?;
    let mut command = std::process::Command::new(exe);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(inherited)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run the tool: {e}"))?;
    // Both pipes drained as the child writes, so it never blocks on a full one.
    let mut stdout_pipe = child.stdout.take().expect("piped");
    let mut stderr_pipe = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout_pipe.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        buf
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("the tool's run: {e}"))?
        {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            timed_out = true;
            break child.wait().map_err(|e| format!("the tool's run: {e}"))?;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    output::write(Stream::Stderr, &stderr);
    Ok(Ran {
        code: if timed_out {
            1
        } else {
            status.code().unwrap_or(1)
        },
        report: serde_json::from_slice(&stdout).unwrap_or(Value::Null),
        error: output::redact(&error_of(
            &String::from_utf8_lossy(&stderr),
            timed_out,
            status,
        )),
    })
}

/// The run's own error: its last line starting `error: ` and what follows (a retry warning
/// earlier in the log may hold `error: ` too); never empty.
fn error_of(stderr: &str, timed_out: bool, status: std::process::ExitStatus) -> String {
    if timed_out {
        return "the run was stopped before the invocation's deadline; with a long roll-out, set `wait-for-service-stability` (watched across invocations) rather than waiting in one".to_owned();
    }
    let at = stderr
        .rfind("\nerror: ")
        .map(|at| at + 1)
        .or_else(|| stderr.starts_with("error: ").then_some(0));
    let error = match at {
        Some(at) => stderr[at + 7..].trim(),
        None => stderr.trim(),
    };
    if error.is_empty() {
        format!("the tool failed without a message ({status})")
    } else {
        error.to_owned()
    }
}

/// The longest failure message CodePipeline takes.
const MESSAGE_MAX: usize = 5000;
/// The longest execution summary CodePipeline takes.
const SUMMARY_MAX: usize = 2048;

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Tells the pipeline how the job ended. A result CodePipeline refuses (a success it finds
/// malformed) is followed by a failure that says so, so the job never waits for its timeout.
pub async fn report(aws: &Aws, job: &Job, outcome: &Outcome) -> Result<(), Failure> {
    match report_once(aws, job, outcome).await {
        Err(refused)
            if matches!(outcome, Outcome::Succeeded { .. })
                && !refused.is(crate::aws::Kind::Throttled) =>
        {
            warn!(job = %job.id, "CodePipeline refused the job's result: {refused}");
            let fallback = Outcome::failed(format!(
                "the job's result could not be reported ({refused}); the deploy itself may have happened: look at the service"
            ));
            report_once(aws, job, &fallback).await
        }
        other => other,
    }
}

/// `PutJobSuccessResult` or `PutJobFailureResult`, once.
async fn report_once(aws: &Aws, job: &Job, outcome: &Outcome) -> Result<(), Failure> {
    let (operation, input) = match outcome {
        Outcome::Succeeded {
            variables,
            summary,
            external_id,
            continuation,
        } => {
            let mut details = json!({ "summary": clip(&output::redact(summary), SUMMARY_MAX) });
            if let Some(id) = external_id {
                details["externalExecutionId"] = json!(id);
            }
            let mut input = json!({ "jobId": job.id, "executionDetails": details });
            match continuation {
                // Output variables only go with the last call.
                Some(token) => input["continuationToken"] = json!(token),
                None if !variables.is_empty() => input["outputVariables"] = json!(variables),
                None => {}
            }
            ("PutJobSuccessResult", input)
        }
        Outcome::Failed {
            configuration,
            message,
            external_id,
        } => {
            let mut details = json!({
                "type": if *configuration { "ConfigurationError" } else { "JobFailed" },
                "message": clip(&output::redact(message), MESSAGE_MAX),
            });
            if let Some(id) = external_id {
                details["externalExecutionId"] = json!(id);
            }
            warn!(job = %job.id, "CodePipeline job failed: {}", output::redact(message));
            (
                "PutJobFailureResult",
                json!({ "jobId": job.id, "failureDetails": details }),
            )
        }
    };
    aws.caller().json(&CODEPIPELINE, operation, &input).await?;
    Ok(())
}
