//! AWS calls made by hand, for services of which the tool needs only a few operations: a
//! SigV4-signed JSON request (the `awsJson1_1` protocol: CodePipeline) and S3 object reads and
//! writes (CodePipeline's artifacts). A generated SDK client costs the release binary about
//! 0.6 MB whatever few operations it serves (its endpoint rules, configuration and error
//! types); these cost a few kilobytes. Credentials, Region and endpoint settings come from the
//! SDK configuration (or the credentials given, like a job's artifact credentials); attempts,
//! timeouts and the `-v` trace behave as the SDK clients' do.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::{Connector, proxy::ProxyConfig, tls};
use aws_smithy_runtime_api::client::http::{HttpConnector as _, HttpConnectorSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use bytes::Bytes;
use serde_json::Value;

use super::failure::classify;
use super::{Failure, Kind, Limits, pace, trace};

/// A JSON-protocol service as the tool calls it.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// For messages and the trace: `CodePipeline`.
    pub name: &'static str,
    /// The SigV4 signing name and the endpoint's host prefix: `codepipeline`.
    pub signing_name: &'static str,
    /// The `X-Amz-Target` prefix: `CodePipeline_20150709`.
    pub target: &'static str,
    /// The suffix of its endpoint variable: `AWS_ENDPOINT_URL_CODEPIPELINE`.
    pub env: &'static str,
}

pub const CODEPIPELINE: Service = Service {
    name: "CodePipeline",
    signing_name: "codepipeline",
    target: "CodePipeline_20150709",
    env: "CODEPIPELINE",
};

pub const CODEDEPLOY: Service = Service {
    name: "CodeDeploy",
    signing_name: "codedeploy",
    target: "CodeDeploy_20141006",
    env: "CODEDEPLOY",
};

pub const LOGS: Service = Service {
    name: "CloudWatch Logs",
    signing_name: "logs",
    target: "Logs_20140328",
    env: "CLOUDWATCH_LOGS",
};

pub const KMS: Service = Service {
    name: "KMS",
    signing_name: "kms",
    target: "TrentService",
    env: "KMS",
};

const S3: &str = "S3";

/// The largest answer read (an artifact is read whole into memory): 256 MiB.
pub const BODY_MAX: u64 = 256 * 1024 * 1024;

/// A JSON-protocol service in a Region, as a client: what the service modules call.
#[derive(Clone)]
pub struct Client {
    caller: std::sync::Arc<Caller>,
    service: Service,
    region: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} client", self.service.name)
    }
}

impl Client {
    pub fn new(caller: std::sync::Arc<Caller>, service: Service, region: Option<&str>) -> Self {
        Self {
            caller,
            service,
            region: region.map(str::to_owned),
        }
    }

    /// Calls `operation` with `input`; its answer.
    pub async fn call(&self, operation: &str, input: &Value) -> Result<Value, Failure> {
        self.caller
            .json_in(&self.service, self.region.as_deref(), operation, input)
            .await
    }
}

/// Where the SDK configuration says to send calls, and with which credentials.
pub struct Caller {
    connector: Connector,
    credentials: Option<SharedCredentialsProvider>,
    /// The configuration's credentials, kept until five minutes before they expire.
    cached: tokio::sync::Mutex<Option<Credentials>>,
    region: String,
    /// `AWS_ENDPOINT_URL` (or a profile's `endpoint_url`), as the SDK configuration read it.
    endpoint: Option<String>,
    limits: Limits,
}

/// An answer: status, the headers the tool reads, the body.
struct Answer {
    status: u16,
    error_type: Option<String>,
    body: Bytes,
}

impl Caller {
    pub fn new(config: &aws_config::SdkConfig, region: &str, limits: Limits) -> Self {
        let mut connector = Connector::builder().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(Some(
            HttpConnectorSettings::builder()
                .connect_timeout(Duration::from_secs(5).min(limits.timeout))
                .read_timeout(Duration::from_secs(30).min(limits.timeout))
                .build(),
        ));
        connector.set_sleep_impl(config.sleep_impl());
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        Self {
            connector: connector.build(),
            credentials: config.credentials_provider(),
            cached: tokio::sync::Mutex::new(None),
            region: region.to_owned(),
            endpoint: config.endpoint_url().map(str::to_owned),
            limits,
        }
    }

    /// The configuration's credentials, from the cache while they last.
    async fn credentials(&self, service: &'static str) -> Result<Credentials, Failure> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|at| at > SystemTime::now() + Duration::from_mins(5))
        };
        if let Some(credentials) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let provider = self.credentials.as_ref().ok_or_else(|| Failure {
            kind: Kind::Denied,
            ..Failure::answer(service, "no AWS credentials are configured")
        })?;
        let credentials = provider.provide_credentials().await.map_err(|e| Failure {
            kind: Kind::Denied,
            ..Failure::answer(
                service,
                format!(
                    "no AWS credentials: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
            )
        })?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    /// A configured endpoint for a service: its own variable (`AWS_ENDPOINT_URL_<SERVICE>`),
    /// else the configuration's (`AWS_ENDPOINT_URL`, a profile's `endpoint_url`).
    fn configured_url(&self, env: &str) -> Option<String> {
        let ignore = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        let own = (!ignore)
            .then(|| std::env::var(format!("AWS_ENDPOINT_URL_{env}")).ok())
            .flatten()
            .filter(|v| !v.is_empty());
        own.or_else(|| self.endpoint.clone())
            .map(|url| url.trim_end_matches('/').to_owned())
    }

    /// The base URL of a service in `region`: a configured endpoint, else AWS's regional one.
    fn base_url(&self, env: &str, host: &str, region: &str) -> String {
        self.configured_url(env).unwrap_or_else(|| {
            // The partitions' DNS suffixes (FIPS and dual-stack endpoints are not chosen here:
            // set `AWS_ENDPOINT_URL_<SERVICE>` for them).
            let suffix = match region {
                r if r.starts_with("cn-") => "amazonaws.com.cn",
                r if r.starts_with("us-isob-") => "sc2s.sgov.gov",
                r if r.starts_with("us-isof-") => "csp.hci.ic.gov",
                r if r.starts_with("us-iso-") => "c2s.ic.gov",
                r if r.starts_with("eu-isoe-") => "cloud.adc-e.uk",
                _ => "amazonaws.com",
            };
            format!("https://{host}.{region}.{suffix}")
        })
    }

    /// Calls `operation` of a JSON-protocol service with `input`; its answer, parsed.
    pub async fn json(
        &self,
        service: &Service,
        operation: &str,
        input: &Value,
    ) -> Result<Value, Failure> {
        self.json_in(service, None, operation, input).await
    }

    /// [`Caller::json`] in `region` (the configuration's when `None`).
    pub async fn json_in(
        &self,
        service: &Service,
        region: Option<&str>,
        operation: &str,
        input: &Value,
    ) -> Result<Value, Failure> {
        let region = region.unwrap_or(&self.region);
        let url = format!(
            "{}/",
            self.base_url(service.env, service.signing_name, region)
        );
        let headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            (
                "x-amz-target".to_owned(),
                format!("{}.{operation}", service.target),
            ),
        ];
        let body = Bytes::from(serde_json::to_vec(input).expect("a JSON value serialises"));
        let credentials = self.credentials(service.name).await?;
        let request = Request {
            service: service.name,
            operation,
            signing_name: service.signing_name,
            region,
            method: "POST",
            url,
            headers,
            body,
        };
        let answer = self.send(&request, &credentials).await?;
        if answer.body.is_empty() {
            return Ok(Value::Object(serde_json::Map::new()));
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            Failure::answer(
                service.name,
                format!("the {operation} answer is not JSON: {e}"),
            )
        })
    }

    /// The S3 URL of an object: path style at a configured endpoint (the emulator, a proxy) or
    /// for a bucket with dots, virtual-hosted at AWS.
    fn object_url(&self, bucket: &str, key: &str) -> String {
        let key: String = key
            .split('/')
            .map(|part| percent_encoding::utf8_percent_encode(part, KEY_SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/");
        let base = self.base_url("S3", "s3", &self.region);
        // Path style where a virtual host cannot carry the bucket: a configured endpoint, a
        // name with dots, or a legacy name with capitals or underscores.
        let path_style = self.configured_url("S3").is_some()
            || bucket
                .bytes()
                .any(|b| b == b'.' || b == b'_' || b.is_ascii_uppercase());
        if path_style {
            format!("{base}/{bucket}/{key}")
        } else {
            let host = base.trim_start_matches("https://");
            format!("https://{bucket}.{host}/{key}")
        }
    }

    /// Reads an object with the given credentials (a job's artifact credentials).
    pub async fn get_object(
        &self,
        credentials: &Credentials,
        bucket: &str,
        key: &str,
    ) -> Result<Bytes, Failure> {
        let request = Request {
            service: S3,
            operation: "GetObject",
            signing_name: "s3",
            region: &self.region,
            method: "GET",
            url: self.object_url(bucket, key),
            headers: Vec::new(),
            body: Bytes::new(),
        };
        Ok(self.send(&request, credentials).await?.body)
    }

    /// Writes an object with the given credentials, encrypted with the KMS key when one is
    /// given (`aws:kms`), else as the bucket's default encryption says.
    pub async fn put_object(
        &self,
        credentials: &Credentials,
        bucket: &str,
        key: &str,
        body: Bytes,
        kms_key: Option<&str>,
    ) -> Result<(), Failure> {
        let mut headers = vec![("content-type".to_owned(), "application/zip".to_owned())];
        if let Some(kms_key) = kms_key {
            headers.push((
                "x-amz-server-side-encryption".to_owned(),
                "aws:kms".to_owned(),
            ));
            headers.push((
                "x-amz-server-side-encryption-aws-kms-key-id".to_owned(),
                kms_key.to_owned(),
            ));
        }
        let request = Request {
            service: S3,
            operation: "PutObject",
            signing_name: "s3",
            region: &self.region,
            method: "PUT",
            url: self.object_url(bucket, key),
            headers,
            body,
        };
        self.send(&request, credentials).await.map(drop)
    }

    /// Sends a request, signed, attempt after attempt while it is throttled or unanswered
    /// (capped exponential backoff with jitter), all within the run's timeout.
    async fn send(
        &self,
        request: &Request<'_>,
        credentials: &Credentials,
    ) -> Result<Answer, Failure> {
        let name = format!("{}.{}", request.service, request.operation);
        let attempts = async {
            let mut backoff = Duration::from_millis(200);
            let mut attempt = 1;
            loop {
                let started = trace::started(&name);
                let result = self.attempt(request, credentials).await;
                let outcome = if result.is_ok() { "ok" } else { "failed" };
                trace::ended(&name, started, outcome);
                match result {
                    Err(failure)
                        if matches!(failure.kind, Kind::Throttled | Kind::Unavailable)
                            && attempt < self.limits.max_attempts =>
                    {
                        tokio::time::sleep(pace::jitter(backoff)).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        };
        tokio::time::timeout(self.limits.timeout, attempts)
            .await
            .unwrap_or_else(|_| {
                Err(Failure {
                    kind: Kind::Unavailable,
                    ..Failure::answer(request.service, "the request timed out")
                })
            })
    }

    async fn attempt(
        &self,
        request: &Request<'_>,
        credentials: &Credentials,
    ) -> Result<Answer, Failure> {
        let service = request.service;
        let unreachable = |e: &dyn std::fmt::Display| Failure {
            kind: Kind::Unavailable,
            ..Failure::answer(service, format!("could not reach AWS: {e}"))
        };
        let mut http = http::Request::builder()
            .method(request.method)
            .uri(&request.url);
        for (name, value) in &request.headers {
            http = http.header(name, value);
        }
        let s3 = request.signing_name == "s3";
        if s3 {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(&request.body);
            http = http.header("x-amz-content-sha256", hex(&digest));
        }
        let mut http = http
            .body(SdkBody::from(request.body.clone()))
            .map_err(|e| Failure::answer(service, format!("the request cannot be made: {e}")))?;
        Self::sign(&mut http, request, credentials)?;
        let http = aws_smithy_runtime_api::http::Request::try_from(http)
            .map_err(|e| Failure::answer(service, format!("the request cannot be made: {e}")))?;
        let response =
            self.connector.call(http).await.map_err(|e| {
                unreachable(&aws_smithy_types::error::display::DisplayErrorContext(&e))
            })?;
        let status = response.status().as_u16();
        let length: Option<u64> = response
            .headers()
            .get("content-length")
            .and_then(|v| v.parse().ok());
        if length.is_some_and(|l| l > BODY_MAX) {
            return Err(Failure::answer(
                service,
                format!("the answer is larger than the {BODY_MAX} bytes this tool reads"),
            ));
        }
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .map(str::to_owned);
        let body = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| unreachable(&e))?
            .into_bytes();
        let answer = Answer {
            status,
            error_type,
            body,
        };
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else if s3 {
            Err(s3_failure(&answer))
        } else {
            Err(json_failure(service, &answer))
        }
    }

    fn sign(
        http: &mut http::Request<SdkBody>,
        request: &Request<'_>,
        credentials: &Credentials,
    ) -> Result<(), Failure> {
        let failed = |e: &dyn std::fmt::Display| {
            Failure::answer(
                request.service,
                format!("the request cannot be signed: {e}"),
            )
        };
        let mut settings = SigningSettings::default();
        if request.signing_name == "s3" {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let identity = Identity::from(credentials.clone());
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(request.region)
            .name(request.signing_name)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let headers: Vec<(&str, &str)> = http
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            request.method,
            request.url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(&request.body),
        )
        .map_err(|e| failed(&e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| failed(&e))?
            .into_parts();
        instructions.apply_to_request_http1x(http);
        Ok(())
    }
}

/// One request, before signing.
struct Request<'a> {
    service: &'static str,
    operation: &'a str,
    signing_name: &'static str,
    /// The signing Region.
    region: &'a str,
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// What a key's path segments keep unencoded: S3's unreserved characters.
const KEY_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A JSON-protocol error: the code from `x-amzn-ErrorType` or the body's `__type`
/// (`namespace#Code`), the message from the body.
fn json_failure(service: &'static str, answer: &Answer) -> Failure {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let raw = answer
        .error_type
        .clone()
        .or_else(|| body["__type"].as_str().map(str::to_owned))
        .or_else(|| body["code"].as_str().map(str::to_owned));
    let code = raw.map(|raw| {
        let raw = raw.split(':').next().unwrap_or_default();
        raw.rsplit('#').next().unwrap_or(raw).to_owned()
    });
    let message = body["message"]
        .as_str()
        .or_else(|| body["Message"].as_str());
    failure(service, answer.status, code, message)
}

/// An S3 error: `<Error><Code>…</Code><Message>…</Message></Error>`.
fn s3_failure(answer: &Answer) -> Failure {
    let text = String::from_utf8_lossy(&answer.body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_owned())
    };
    let code = element("Code").or_else(|| (answer.status == 404).then(|| "NoSuchKey".to_owned()));
    failure(S3, answer.status, code, element("Message").as_deref())
}

fn failure(
    service: &'static str,
    status: u16,
    code: Option<String>,
    message: Option<&str>,
) -> Failure {
    let kind = classify(code.as_deref().unwrap_or_default(), Some(status));
    let message = match (&code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        (None, _) => format!("HTTP {status} without an AWS error in the answer"),
    };
    Failure {
        service,
        code,
        message,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, error_type: Option<&str>, body: &str) -> Answer {
        Answer {
            status,
            error_type: error_type.map(str::to_owned),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn json_errors_are_read_from_the_header_or_the_body() {
        let f = json_failure(
            "CodePipeline",
            &answer(
                400,
                None,
                r#"{"__type":"com.amazonaws#JobNotFoundException","message":"no job"}"#,
            ),
        );
        assert_eq!(f.to_string(), "JobNotFoundException: no job");
        assert!(f.is(Kind::NotFound));
        let f = json_failure(
            "CodePipeline",
            &answer(400, Some("ThrottlingException:http://internal"), "{}"),
        );
        assert!(f.is(Kind::Throttled));
        let f = json_failure("CodePipeline", &answer(502, None, "<html>"));
        assert!(f.is(Kind::Unavailable));
        assert_eq!(f.to_string(), "HTTP 502 without an AWS error in the answer");
    }

    #[test]
    fn s3_errors_name_their_code() {
        let f = s3_failure(&answer(
            403,
            None,
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        ));
        assert_eq!(f.to_string(), "AccessDenied: Access Denied");
        assert!(f.is(Kind::Denied));
        assert!(s3_failure(&answer(404, None, "")).is(Kind::NotFound));
    }
}
