//! The AWS layer: every SDK call of the tool, one file per service, each returning typed
//! failures ([`Failure`]); the SDK configuration, clients per Region, and the Parameter Store
//! rate bound. Nothing above this module sees an SDK error.

mod ahead;
pub mod call;
pub mod codedeploy;
pub mod ecs;
mod failure;
pub mod iam;
pub mod kms;
pub mod logs;
mod pace;
pub mod secretsmanager;
pub mod ssm;
mod trace;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use ahead::Ahead;
pub use failure::{Failure, Kind};
pub use trace::run_started;

use crate::error::Error;

/// How hard to try with AWS, and how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_attempts: u32,
    pub timeout: Duration,
    pub concurrency: usize,
    pub requests_per_second: f64,
}

/// Where and how to reach AWS: the Region (else the SDK's) and the limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub region: Option<String>,
    pub limits: Limits,
}

/// The SDK configuration, from which clients for any Region are made, and the rate limit that
/// Parameter Store calls keep to.
pub struct Aws {
    config: SdkConfig,
    pub limits: Limits,
    /// When the Parameter Store requests of the last window went out.
    sent: tokio::sync::Mutex<VecDeque<Instant>>,
    /// When the Secrets Manager list and batch requests of the last second went out.
    sent_lists: tokio::sync::Mutex<VecDeque<Instant>>,
    /// ECS reads started with the lookups (a deploy's service and latest revision).
    pub ahead: Ahead,
    /// Calls made without a generated client ([`call`]), made when first needed.
    caller: std::sync::OnceLock<std::sync::Arc<call::Caller>>,
}

/// `ListSecrets` and `BatchGetSecretValue` requests in any one second: half the quota of each
/// (100 a second per account and Region, not adjustable), which every other client of the
/// account shares. `GetSecretValue` (10,000 a second) and `DescribeSecret` (40,000) are bounded
/// by `max-concurrency` only.
pub const SECRETS_MANAGER_LISTS_PER_SECOND: usize = 50;

/// One HTTPS client for every SDK client of the run, built as the SDK builds its default one
/// (rustls with aws-lc, the proxy from `HTTPS_PROXY` / `NO_PROXY`). Left to the SDK, each service
/// client builds its own: its own connection pool (a client made for a call would open a new
/// connection, on AWS a TCP and TLS handshake, instead of reusing one) and its own read of the
/// system's root certificates. Shared, every client made from the configuration shares one pool
/// (the client keeps one connector per timeout setting).
fn shared_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

impl Aws {
    /// Loads credentials, Region and endpoint the way the AWS CLI does (environment, profile,
    /// container and instance credentials), the `region` setting first. Every call retries
    /// throttling, 5xx answers and lost connections (standard mode: capped exponential backoff
    /// with jitter) up to `max_attempts`, and ends after `timeout`, retries included.
    ///
    /// No Region anywhere is a usage error, before any call (each call would fail on its own).
    pub async fn load(settings: &Settings) -> Result<Self, Error> {
        let limits = settings.limits;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(shared_https_client())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(limits.max_attempts)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(10)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5).min(limits.timeout))
                    .operation_attempt_timeout(Duration::from_secs(30).min(limits.timeout))
                    .operation_timeout(limits.timeout)
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let config = loader.load().await;
        valid_region(config.region().map(Region::as_ref))?;
        Ok(Self {
            config,
            limits,
            sent: tokio::sync::Mutex::new(VecDeque::new()),
            sent_lists: tokio::sync::Mutex::new(VecDeque::new()),
            ahead: Ahead::new(limits.concurrency),
            caller: std::sync::OnceLock::new(),
        })
    }

    /// Waits until a request fits under `max-requests-per-second`: at most that many requests in
    /// any one-second window (a sliding window, so a batch that fits goes out at once).
    pub async fn pace(&self) {
        let rate = self.limits.requests_per_second;
        let (count, window) = if rate >= 1.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let count = rate.floor() as usize;
            (count, Duration::from_secs(1))
        } else {
            (1, Duration::from_secs_f64(1.0 / rate))
        };
        pace::slot(&self.sent, count, window).await;
    }

    /// Waits until a Secrets Manager `ListSecrets` or `BatchGetSecretValue` request fits under
    /// [`SECRETS_MANAGER_LISTS_PER_SECOND`] in any one-second window.
    pub async fn pace_secret_lists(&self) {
        pace::slot(
            &self.sent_lists,
            SECRETS_MANAGER_LISTS_PER_SECOND,
            Duration::from_secs(1),
        )
        .await;
    }

    /// The default Region (always set: [`Aws::load`] refuses to go on without one).
    pub fn region(&self) -> &str {
        self.config.region().map_or("us-east-1", Region::as_ref)
    }

    /// Calls made by hand: CodePipeline, S3 objects, and the clients below made from it.
    pub fn caller(&self) -> &std::sync::Arc<call::Caller> {
        self.caller.get_or_init(|| {
            std::sync::Arc::new(call::Caller::new(&self.config, self.region(), self.limits))
        })
    }

    /// An ECS client for `region` (the default Region when `None`).
    pub fn ecs_in(&self, region: Option<&str>) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&self.in_region(region))
                .interceptor(trace::Trace)
                .build(),
        )
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&self.config)
                .interceptor(trace::Trace)
                .build(),
        )
    }

    pub fn codedeploy(&self) -> call::Client {
        self.codedeploy_in(None)
    }

    /// A CodeDeploy client for `region` (the default Region when `None`).
    pub fn codedeploy_in(&self, region: Option<&str>) -> call::Client {
        call::Client::new(self.caller().clone(), call::CODEDEPLOY, region)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&self.config)
                .interceptor(trace::Trace)
                .build(),
        )
    }

    /// A KMS client for `region` (the default Region when `None`).
    pub fn kms(&self, region: Option<&str>) -> call::Client {
        call::Client::new(self.caller().clone(), call::KMS, region)
    }

    /// A CloudWatch Logs client for `region` (the default Region when `None`).
    pub fn logs(&self, region: Option<&str>) -> call::Client {
        call::Client::new(self.caller().clone(), call::LOGS, region)
    }

    /// A Parameter Store client for `region` (the default Region when `None`).
    pub fn ssm(&self, region: Option<&str>) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&self.in_region(region))
                .interceptor(trace::Trace)
                .build(),
        )
    }

    /// A Secrets Manager client for `region` (the default Region when `None`).
    pub fn secretsmanager(&self, region: Option<&str>) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&self.in_region(region))
                .interceptor(trace::Trace)
                .build(),
        )
    }

    fn in_region(&self, region: Option<&str>) -> SdkConfig {
        match region {
            Some(region) => self
                .config
                .to_builder()
                .region(Region::new(region.to_owned()))
                .build(),
            None => self.config.clone(),
        }
    }
}

/// The Region must be set, and look like one (an empty `AWS_REGION` is not a Region).
fn valid_region(region: Option<&str>) -> Result<(), Error> {
    match region.map(str::trim) {
        None | Some("") => Err(Error::Usage(
            "no AWS Region is configured: set the `region` input (`--region`), `AWS_REGION` (or `AWS_DEFAULT_REGION`), or a profile's `region`"
                .to_owned(),
        )),
        Some(region)
            if !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Err(Error::Usage(format!(
                "`{}` is not an AWS Region name (like `us-east-1`)",
                crate::error::visible(region)
            )))
        }
        Some(_) => Ok(()),
    }
}

/// SDK clients that answer from a script (the SDK's replay client), for unit tests of what the
/// tool makes of an answer.
#[cfg(test)]
pub mod replay {
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;

    /// A configuration whose client answers each request, in order, with `answers` (status and
    /// JSON body), whatever was asked.
    pub fn config(answers: &[(u16, &str)]) -> SdkConfig {
        let events = answers
            .iter()
            .map(|(status, body)| {
                ReplayEvent::new(
                    http::Request::builder()
                        .uri("https://aws.test/")
                        .body(SdkBody::empty())
                        .expect("a request"),
                    http::Response::builder()
                        .status(*status)
                        .body(SdkBody::from(body.to_string()))
                        .expect("a response"),
                )
            })
            .collect();
        SdkConfig::builder()
            .http_client(StaticReplayClient::new(events))
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ecs::config::SharedCredentialsProvider::new(
                aws_sdk_ecs::config::Credentials::new("test", "test", None, None, "test"),
            ))
            .behavior_version(BehaviorVersion::latest())
            .build()
    }

    /// Runs a future to its end on a runtime of its own.
    pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_must_be_set_and_look_like_one() {
        assert!(valid_region(Some("eu-west-1")).is_ok());
        for bad in [None, Some(""), Some("  ")] {
            let err = valid_region(bad).unwrap_err();
            assert!(err.to_string().starts_with("no AWS Region"), "{err}");
        }
        let err = valid_region(Some("us east")).unwrap_err();
        assert!(
            err.to_string().contains("is not an AWS Region name"),
            "{err}"
        );
    }
}
