//! The pipeline action's surroundings: a scripted CodePipeline job API (the emulator has none:
//! `PollForJobs`, `AcknowledgeJob`, `PutJobSuccessResult`, `PutJobFailureResult`), a scripted
//! Lambda Runtime API, and S3 artifacts in the emulator, written and read with Python's
//! `zipfile` and boto3: another zip implementation than the tool's.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::Env;
use super::stub::{Answer, Stub};

/// The artifact credentials every test job carries: canaries, never to be seen anywhere.
pub const ARTIFACT_SECRET: &str = "artifact-secret-canary-7f3a";
pub const ARTIFACT_TOKEN: &str = "artifact-token-canary-9c1e";
pub const BUCKET: &str = "pipeline-artifacts";
pub const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/pipeline-key";

/// Where every test job's input artifact lies, and where its output artifact goes.
pub const INPUT: &str = "web/BuildOutput/in.zip";
pub const OUTPUT: &str = "web/Deployed/out.zip";

/// A job as CodePipeline hands it out (`PollForJobs`'s `jobs[]`, the Lambda event's
/// `CodePipeline.job`), its artifacts at [`INPUT`] and [`OUTPUT`].
pub fn job(id: &str, user_parameters: &str, continuation: Option<&str>) -> Value {
    let (input, output) = (INPUT, OUTPUT);
    let mut data = json!({
        "actionConfiguration": {"configuration": {"FunctionName": "ecs-secrets", "UserParameters": user_parameters}},
        "inputArtifacts": [{"name": "BuildOutput", "revision": null,
            "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": input}}}],
        "outputArtifacts": [{"name": "Deployed", "revision": null,
            "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": output}}}],
        "artifactCredentials": {"accessKeyId": "ASIAPIPELINEJOB", "secretAccessKey": ARTIFACT_SECRET,
            "sessionToken": ARTIFACT_TOKEN},
        "encryptionKey": {"id": KMS_KEY, "type": "KMS"},
        "pipelineContext": {"pipelineName": "web", "stage": {"name": "Deploy"}, "action": {"name": "ecs-secrets"}}
    });
    if let Some(token) = continuation {
        data["continuationToken"] = json!(token);
    }
    json!({ "id": id, "accountId": "123456789012", "nonce": format!("nonce-{id}"), "data": data })
}

/// Runs Python (boto3 against the emulator) with `args`.
fn python(env: &Env, script: &str, args: &[&str]) -> String {
    let prelude = format!(
        "import boto3, io, json, sys, zipfile\ns3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n",
        env.port
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(prelude + script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Puts a zip of `files` (name, text), deflated, at `key` of the artifact bucket.
pub fn put_artifact(env: &Env, key: &str, files: &[(&str, &str)]) {
    let files: serde_json::Map<String, Value> = files
        .iter()
        .map(|(n, t)| ((*n).to_owned(), json!(t)))
        .collect();
    python(
        env,
        "try: s3.create_bucket(Bucket=sys.argv[1])\nexcept Exception: pass\n\
buf = io.BytesIO()\nwith zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:\n    for n, t in json.loads(sys.argv[3]).items(): z.writestr(n, t)\n\
s3.put_object(Bucket=sys.argv[1], Key=sys.argv[2], Body=buf.getvalue())\n",
        &[BUCKET, key, &Value::Object(files).to_string()],
    );
}

/// The files of the zip at `key` (name → text), and its server-side encryption and KMS key.
pub fn read_artifact(env: &Env, key: &str) -> (serde_json::Map<String, Value>, Value, Value) {
    let out = python(
        env,
        "o = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])\n\
z = zipfile.ZipFile(io.BytesIO(o['Body'].read()))\nassert z.testzip() is None\n\
print(json.dumps({'files': {n: z.read(n).decode() for n in z.namelist()}, 'sse': o.get('ServerSideEncryption'), 'key': o.get('SSEKMSKeyId')}))\n",
        &[BUCKET, key],
    );
    let mut v: Value = serde_json::from_str(&out).unwrap();
    let files = v["files"].as_object().cloned().unwrap_or_default();
    (files, v["sse"].take(), v["key"].take())
}

/// Whether an object exists at `key`.
pub fn artifact_exists(env: &Env, key: &str) -> bool {
    python(
        env,
        "try:\n    s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2]); print('yes')\nexcept Exception: print('no')\n",
        &[BUCKET, key],
    )
    .trim()
        == "yes"
}

/// A scripted CodePipeline job API: the queued jobs are handed to every poller until one claims
/// it with `AcknowledgeJob` (later claims fail with `InvalidNonceException`, as a job another
/// worker took); results are recorded.
pub struct Pipeline {
    pub stub: Stub,
    queue: Arc<Mutex<Vec<(Value, bool)>>>,
}

impl Pipeline {
    pub fn start(upstream: u16) -> Self {
        let queue: Arc<Mutex<Vec<(Value, bool)>>> = Arc::new(Mutex::new(Vec::new()));
        let jobs = Arc::clone(&queue);
        let stub = Stub::start(upstream, move |request| {
            let mut jobs = jobs.lock().unwrap();
            match request.operation.as_str() {
                "PollForJobs" => {
                    let open: Vec<Value> = jobs
                        .iter()
                        .filter(|(_, claimed)| !claimed)
                        .map(|(j, _)| j.clone())
                        .collect();
                    Answer::json(200, &json!({ "jobs": open }))
                }
                "AcknowledgeJob" => {
                    let id = request.json["jobId"].as_str().unwrap_or_default();
                    let nonce = request.json["nonce"].as_str().unwrap_or_default();
                    match jobs.iter_mut().find(|(j, _)| j["id"] == id) {
                        Some((job, claimed)) if !*claimed && job["nonce"] == nonce => {
                            *claimed = true;
                            Answer::json(200, &json!({ "status": "InProgress" }))
                        }
                        Some(_) => Answer::error(
                            400,
                            "InvalidNonceException",
                            "the job was already acknowledged",
                        ),
                        None => Answer::error(400, "JobNotFoundException", "no such job"),
                    }
                }
                // CodePipeline's own rules for a result (API Reference): a token of at most
                // 2,048 characters, output variables only without one, a message of 1 to 5,000.
                "PutJobSuccessResult" => {
                    let body = &request.json;
                    let token = body["continuationToken"].as_str();
                    if token.is_some_and(|t| t.is_empty() || t.len() > 2048)
                        || (token.is_some() && body.get("outputVariables").is_some())
                        || body["executionDetails"]["summary"]
                            .as_str()
                            .is_some_and(|s| s.len() > 2048)
                    {
                        return Answer::error(
                            400,
                            "ValidationException",
                            "the result breaks CodePipeline's rules",
                        );
                    }
                    Answer::json(200, &json!({}))
                }
                "PutJobFailureResult" => {
                    let message = request.json["failureDetails"]["message"]
                        .as_str()
                        .unwrap_or_default();
                    let kind = request.json["failureDetails"]["type"]
                        .as_str()
                        .unwrap_or_default();
                    if message.is_empty()
                        || message.len() > 5000
                        || ![
                            "JobFailed",
                            "ConfigurationError",
                            "PermissionError",
                            "RevisionOutOfSync",
                            "RevisionUnavailable",
                            "SystemUnavailable",
                        ]
                        .contains(&kind)
                    {
                        return Answer::error(
                            400,
                            "ValidationException",
                            "the failure breaks CodePipeline's rules",
                        );
                    }
                    Answer::json(200, &json!({}))
                }
                _ => Answer::Forward,
            }
        });
        Self { stub, queue }
    }

    pub fn queue(&self, job: Value) {
        self.queue.lock().unwrap().push((job, false));
    }

    pub fn url(&self) -> String {
        self.stub.url()
    }

    pub fn successes(&self) -> Vec<Value> {
        self.stub.bodies("PutJobSuccessResult")
    }

    pub fn failures(&self) -> Vec<Value> {
        self.stub.bodies("PutJobFailureResult")
    }
}

type NextEvent = Box<dyn FnMut(usize) -> Option<Value> + Send>;

/// A scripted Lambda Runtime API: `next(n)` gives the n-th invocation's event (`None`: no more;
/// the next `invocation/next` is answered 500, and the runtime loop ends). Responses and errors
/// are recorded with their request ids.
pub struct RuntimeApi {
    pub port: u16,
    state: Arc<Mutex<RuntimeState>>,
}

struct RuntimeState {
    next: NextEvent,
    served: usize,
    responses: Vec<(String, Value)>,
    errors: Vec<(String, Value)>,
}

impl RuntimeApi {
    pub fn start(next: impl FnMut(usize) -> Option<Value> + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(RuntimeState {
            next: Box::new(next),
            served: 0,
            responses: Vec::new(),
            errors: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Self { port, state }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn responses(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().responses.clone()
    }

    pub fn errors(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().errors.clone()
    }
}

fn serve(mut stream: std::net::TcpStream, state: &Mutex<RuntimeState>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let reply = |status: u16, headers: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let mut state = state.lock().unwrap();
    let answer = if path.ends_with("/runtime/invocation/next") {
        let n = state.served;
        state.served += 1;
        match (state.next)(n) {
            Some(event) => reply(
                200,
                &format!(
                    "Lambda-Runtime-Aws-Request-Id: request-{n}\r\nLambda-Runtime-Deadline-Ms: 9999999999999\r\n"
                ),
                &event.to_string(),
            ),
            None => reply(
                500,
                "",
                r#"{"errorMessage":"no more invocations in this test"}"#,
            ),
        }
    } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
        let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if kind == "response" {
            state.responses.push((id.to_owned(), body));
        } else {
            state.errors.push((id.to_owned(), body));
        }
        reply(202, "", "{}")
    } else {
        reply(404, "", "{}")
    };
    let _ = stream.write_all(answer.as_bytes());
}
