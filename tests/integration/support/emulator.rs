//! The test harness: one `moto_server` for the whole test binary (started on a free loopback
//! port, reset before each test), seeding through the real AWS SDK, moto's request recorder, and
//! a builder that runs the real `ecs-secrets` binary against it with a scrubbed environment.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

struct Server {
    port: u16,
    _child: Child,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        // The watcher ends moto_server when this test process ends, however it ends.
        let script = format!(
            "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             trap 'kill $m 2>/dev/null' EXIT INT TERM; \
             while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.3; done",
            parent = std::process::id()
        );
        let which = Command::new("sh")
            .args(["-c", "command -v moto_server"])
            .output()
            .expect("sh runs");
        assert!(
            which.status.success(),
            "moto_server is not on PATH: these tests need the local AWS emulator. \
             Install it with `pip install 'moto[server]==5.2.1'` or run `scripts/test`, which does."
        );
        // moto writes its recording into its working directory: keep it out of the checkout.
        let child = Command::new("sh")
            .args(["-c", &script])
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .spawn()
            .expect("sh starts moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_raw(port, "GET", "/moto-api/", "").is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Server {
            port,
            _child: child,
        }
    })
}

fn http_raw(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    http_with_headers(port, method, path, &[], body)
}

fn http_with_headers(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}

/// The trust policy of a task or execution role.
pub const ECS_TASKS_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// One test's hold on the emulator: reset on creation, serialised with every other test.
pub struct Env {
    _guard: MutexGuard<'static, ()>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    pub sm: aws_sdk_secretsmanager::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
}

impl Env {
    pub fn new() -> Self {
        let guard = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let port = server().port;
        let (status, _) = http_raw(port, "POST", "/moto-api/reset", "").expect("moto reset");
        assert_eq!(status, 200, "moto reset");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(REGION))
                .endpoint_url(format!("http://127.0.0.1:{port}"))
                .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .load(),
        );
        Self {
            _guard: guard,
            port,
            dir: tempfile::tempdir().unwrap(),
            sm: aws_sdk_secretsmanager::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            runtime,
        }
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Creates a secret and returns its full ARN.
    pub fn secret(&self, name: &str, value: &str) -> String {
        let out = self
            .block_on(
                self.sm
                    .create_secret()
                    .name(name)
                    .secret_string(value)
                    .send(),
            )
            .unwrap();
        out.arn().unwrap().to_owned()
    }

    /// Puts a new current value; the old one becomes AWSPREVIOUS.
    pub fn rotate(&self, name: &str, value: &str) {
        self.block_on(
            self.sm
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send(),
        )
        .unwrap();
    }

    pub fn parameter(&self, name: &str, value: &str, secure: bool) {
        use aws_sdk_ssm::types::ParameterType;
        let kind = if secure {
            ParameterType::SecureString
        } else {
            ParameterType::String
        };
        self.block_on(
            self.ssm
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(kind)
                .overwrite(true)
                .send(),
        )
        .unwrap();
    }

    /// Creates a role that ECS tasks may assume, with no policy.
    pub fn task_role(&self, name: &str) {
        self.block_on(
            self.iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(ECS_TASKS_TRUST)
                .send(),
        )
        .unwrap();
    }

    pub fn parameter_arn(name: &str) -> String {
        format!(
            "arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{}",
            name.trim_start_matches('/')
        )
    }

    /// Writes a file into the test's directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts recording requests (after seeding, so only the binary's calls are recorded).
    pub fn record(&self) {
        for action in ["reset-recording", "start-recording"] {
            let (status, _) = http_raw(
                self.port,
                "POST",
                &format!("/moto-api/recorder/{action}"),
                "",
            )
            .unwrap();
            assert_eq!(status, 200, "{action}");
        }
    }

    /// The recorded calls, in order.
    pub fn calls(&self) -> Vec<Call> {
        let (_, text) = http_raw(
            self.port,
            "GET",
            "/moto-api/recorder/download-recording",
            "",
        )
        .unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let entry: Value = serde_json::from_str(line).expect("recorder line is JSON");
                let target = entry["headers"]["X-Amz-Target"]
                    .as_str()
                    .unwrap_or_default();
                let raw = entry["body"].as_str().unwrap_or_default();
                let body = if entry["body_encoded"].as_bool() == Some(true) {
                    String::from_utf8(
                        base64::engine::general_purpose::STANDARD
                            .decode(raw)
                            .unwrap_or_default(),
                    )
                    .unwrap_or_default()
                } else {
                    raw.to_owned()
                };
                // JSON protocols name the operation in a header; IAM's query protocol in the form.
                let operation = if target.is_empty() {
                    body.split('&')
                        .find_map(|pair| pair.strip_prefix("Action="))
                        .unwrap_or_default()
                        .to_owned()
                } else {
                    target.rsplit('.').next().unwrap_or_default().to_owned()
                };
                Call {
                    operation,
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                    raw: body,
                }
            })
            .collect()
    }

    /// Calls an ECS operation with raw JSON, as the AWS CLI would, and returns the raw answer.
    pub fn ecs_raw(&self, operation: &str, body: &Value) -> Value {
        self.json_raw("AmazonEC2ContainerServiceV20141113", "ecs", operation, body)
    }

    /// Calls an operation of a JSON-protocol service (its target prefix, its signing name) with
    /// raw JSON, and returns the raw answer.
    pub fn json_raw(&self, prefix: &str, signing: &str, operation: &str, body: &Value) -> Value {
        let target = format!("{prefix}.{operation}");
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{signing}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let (status, text) = http_with_headers(
            self.port,
            "POST",
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Authorization", &authorization),
            ],
            &body.to_string(),
        )
        .unwrap();
        assert_eq!(status, 200, "{operation}: {text}");
        // Some operations answer with no body at all.
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates a CloudWatch Logs group and stream holding `lines`, one event each.
    pub fn log_lines(&self, group: &str, stream: &str, lines: &[&str]) {
        let call = |operation: &str, body: Value| {
            self.json_raw("Logs_20140328", "logs", operation, &body);
        };
        call(
            "CreateLogGroup",
            serde_json::json!({ "logGroupName": group }),
        );
        call(
            "CreateLogStream",
            serde_json::json!({ "logGroupName": group, "logStreamName": stream }),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let events: Vec<Value> = (0u128..)
            .zip(lines)
            .map(|(i, line)| serde_json::json!({ "timestamp": now + i, "message": line }))
            .collect();
        call(
            "PutLogEvents",
            serde_json::json!({ "logGroupName": group, "logStreamName": stream, "logEvents": events }),
        );
    }

    /// A run of the binary against this emulator.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut env = BTreeMap::new();
        for key in ["PATH", "HOME", "TMPDIR"] {
            if let Ok(value) = std::env::var(key) {
                env.insert(key.to_owned(), value);
            }
        }
        for (key, value) in [
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ] {
            env.insert(key.to_owned(), value);
        }
        Run {
            program: env!("CARGO_BIN_EXE_ecs-secrets").into(),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            env,
            dir: self.dir.path().to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub body: Value,
    /// The body as sent.
    pub raw: String,
}

pub fn count(calls: &[Call], operation: &str) -> usize {
    calls.iter().filter(|c| c.operation == operation).count()
}

/// A command to run; `.env()` adds variables, `.output()` runs it.
pub struct Run {
    program: PathBuf,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    dir: PathBuf,
}

impl Run {
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    /// Leaves `key` out of the environment.
    pub fn without(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// Runs another program (a shell) with the same environment instead of the binary.
    pub fn program(mut self, program: &str) -> Self {
        self.program = program.into();
        self
    }

    /// Starts it without waiting (its output captured), for a process that runs until stopped.
    pub fn spawn(self) -> std::process::Child {
        Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts")
    }

    pub fn output(self) -> Output {
        let out = Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success\n{self}");
        self
    }

    #[track_caller]
    pub fn failure(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit code {code}\n{self}");
        self
    }

    /// The `key=value` report lines on stdout.
    pub fn report(&self, key: &str) -> Option<String> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
    }

    /// The plan on stderr: its `plan:` line and the change lines under it.
    pub fn plan(&self) -> String {
        let mut plan = String::new();
        let mut lines = self.stderr.lines().skip_while(|l| !l.starts_with("plan:"));
        if let Some(head) = lines.next() {
            plan.push_str(head);
            plan.push('\n');
        }
        for line in lines.take_while(|l| l.starts_with("  ")) {
            plan.push_str(line);
            plan.push('\n');
        }
        plan
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts that stdout holds `text`, showing the whole output when it does not.
    #[track_caller]
    pub fn stdout_has(&self, text: &str) {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
    }

    /// Asserts that stderr holds `text`, showing the whole output when it does not.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{self}");
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
