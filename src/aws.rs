//! AWS set-up shared by every stage: the SDK configuration, clients per Region, and error texts
//! that carry the service's code and message rather than the SDK's terse default.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::inputs::Limits;

/// The SDK configuration, from which clients for any Region are made, and the rate limit that
/// resolution keeps to.
pub struct Aws {
    config: SdkConfig,
    pub limits: Limits,
    /// When the requests of the last window went out.
    sent: tokio::sync::Mutex<VecDeque<Instant>>,
}

impl Aws {
    /// Loads credentials, Region and endpoint the way the AWS CLI does (environment, profile,
    /// container and instance credentials), with `region` overriding the Region. Every call
    /// retries throttling, 5xx answers and lost connections (standard mode: capped exponential
    /// backoff with jitter) up to `max_attempts`, and ends after `timeout`, retries included.
    ///
    /// No Region anywhere is a usage error, before any call (each call would fail on its own).
    pub async fn load(region: Option<&str>, limits: Limits) -> Result<Self, crate::error::Error> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
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
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_owned()));
        }
        let config = loader.load().await;
        match config.region().map(|r| r.as_ref().trim()) {
            None | Some("") => {
                return Err(crate::error::Error::Usage(
                    "no AWS Region is configured: set the `region` input (`--region`), `AWS_REGION` (or `AWS_DEFAULT_REGION`), or a profile's `region`"
                        .to_owned(),
                ));
            }
            Some(region)
                if !region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                return Err(crate::error::Error::Usage(format!(
                    "`{}` is not an AWS Region name (like `us-east-1`)",
                    crate::error::visible(region)
                )));
            }
            Some(_) => {}
        }
        Ok(Self {
            config,
            limits,
            sent: tokio::sync::Mutex::new(VecDeque::new()),
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
        loop {
            let wait = {
                let mut sent = self.sent.lock().await;
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    sent.pop_front();
                }
                if sent.len() < count {
                    sent.push_back(now);
                    return;
                }
                window
                    .saturating_sub(now.duration_since(*sent.front().expect("the window is full")))
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The default Region, if one is configured.
    pub fn region(&self) -> Option<&str> {
        self.config.region().map(Region::as_ref)
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.config)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    /// A KMS client for `region` (the default Region when `None`).
    pub fn kms(&self, region: Option<&str>) -> aws_sdk_kms::Client {
        let mut builder = aws_sdk_kms::config::Builder::from(&self.config);
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_owned()));
        }
        aws_sdk_kms::Client::from_conf(builder.build())
    }

    /// A Parameter Store client for `region` (the default Region when `None`).
    pub fn ssm(&self, region: Option<&str>) -> aws_sdk_ssm::Client {
        let mut builder = aws_sdk_ssm::config::Builder::from(&self.config);
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_owned()));
        }
        aws_sdk_ssm::Client::from_conf(builder.build())
    }

    /// A Secrets Manager client for `region` (the default Region when `None`).
    pub fn secretsmanager(&self, region: Option<&str>) -> aws_sdk_secretsmanager::Client {
        let mut builder = aws_sdk_secretsmanager::config::Builder::from(&self.config);
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_owned()));
        }
        aws_sdk_secretsmanager::Client::from_conf(builder.build())
    }
}

/// Renders an SDK error as `Code: message` for service errors, and with its whole cause chain
/// for everything else (no credentials, no connection, timeouts).
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                // An answer that is no AWS error at all (an empty 500 from a proxy or emulator).
                (None, None) => format!(
                    "HTTP {} without an AWS error in the answer",
                    service.raw().status().as_u16()
                ),
                _ => DisplayErrorContext(e).to_string(),
            }
        }
        SdkError::TimeoutError(_) => "the request timed out".to_owned(),
        SdkError::DispatchFailure(_) => {
            format!("could not reach AWS: {}", DisplayErrorContext(err))
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// The error code of an SDK error, if the service sent one.
pub fn code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}
