//! Failures of AWS calls, typed at the edge: callers decide by [`Kind`], never by the text.

use std::fmt;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;

/// What kind of failure, for the decisions callers make (retry, say "not found", name the
/// permission this run lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Access denied: a permission is missing.
    Denied,
    /// The thing asked for does not exist.
    NotFound,
    /// Throttled before it was processed: safe to try again.
    Throttled,
    /// The request was refused as malformed or not applicable.
    Invalid,
    /// No answer, a timeout, or a server error: it may or may not have happened.
    Unavailable,
    /// Anything else AWS answered.
    Other,
}

/// A failed AWS call: the service, the error code AWS sent (if any), and a message that names
/// both (`AccessDeniedException: User … is not authorized …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub service: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub kind: Kind,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Failure {
    /// A failure AWS reported inside a successful answer (`BatchGetSecretValue`'s `Errors`).
    pub fn reported(service: &'static str, code: Option<&str>, message: Option<&str>) -> Self {
        let text = match (code, message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            (None, Some(message)) => message.to_owned(),
            (None, None) => "failed without a reason".to_owned(),
        };
        Self {
            service,
            code: code.map(str::to_owned),
            kind: code.map_or(Kind::Other, |c| classify(c, None)),
            message: text,
        }
    }

    /// A failure of the tool's own reading of an answer (a field missing from it).
    pub fn answer(service: &'static str, message: impl Into<String>) -> Self {
        Self {
            service,
            code: None,
            message: message.into(),
            kind: Kind::Other,
        }
    }

    /// An SDK error, rendered as `Code: message` for service errors and with its whole cause
    /// chain for everything else (no credentials, no connection, timeouts).
    pub fn of<E>(service: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message, kind) = match err {
            SdkError::ServiceError(service_error) => {
                let e = service_error.err();
                let code = e.code().map(str::to_owned);
                let message = match (e.code(), e.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    // An answer that is no AWS error at all (an empty 500 from a proxy).
                    (None, None) => format!(
                        "HTTP {} without an AWS error in the answer",
                        service_error.raw().status().as_u16()
                    ),
                    _ => DisplayErrorContext(e).to_string(),
                };
                let kind = classify(code.as_deref().unwrap_or_default(), status);
                (code, message, kind)
            }
            SdkError::TimeoutError(_) => {
                (None, "the request timed out".to_owned(), Kind::Unavailable)
            }
            SdkError::DispatchFailure(_) => (
                None,
                format!("could not reach AWS: {}", DisplayErrorContext(err)),
                Kind::Unavailable,
            ),
            SdkError::ResponseError(_) => (
                None,
                DisplayErrorContext(err).to_string(),
                Kind::Unavailable,
            ),
            _ => (None, DisplayErrorContext(err).to_string(), Kind::Other),
        };
        Self {
            service,
            code,
            message,
            kind,
        }
    }

    pub fn is(&self, kind: Kind) -> bool {
        self.kind == kind
    }
}

/// The kind of an error code (and HTTP status, where there is one).
pub(super) fn classify(code: &str, status: Option<u16>) -> Kind {
    if code.contains("AccessDenied")
        || code.starts_with("UnauthorizedOperation")
        || code == "AuthorizationError"
    {
        Kind::Denied
    } else if code.contains("NotFound")
        // IAM's `NoSuchEntity`, S3's `NoSuchKey` and `NoSuchBucket`.
        || code.starts_with("NoSuch")
        // CodeDeploy: `ApplicationDoesNotExistException`, `DeploymentGroupDoesNotExistException`.
        || code.contains("DoesNotExist")
    {
        Kind::NotFound
    } else if code.contains("Throttl") || code == "TooManyRequestsException" || status == Some(429)
    {
        Kind::Throttled
    } else if status.is_some_and(|s| s >= 500) {
        Kind::Unavailable
    } else if code.contains("Invalid") || code.contains("Validation") || code == "ClientException" {
        Kind::Invalid
    } else {
        Kind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(classify("AccessDeniedException", Some(400)), Kind::Denied);
        assert_eq!(
            classify("ResourceNotFoundException", Some(400)),
            Kind::NotFound
        );
        assert_eq!(classify("ParameterNotFound", Some(400)), Kind::NotFound);
        assert_eq!(classify("NoSuchEntity", Some(404)), Kind::NotFound);
        assert_eq!(
            classify("DeploymentGroupDoesNotExistException", Some(400)),
            Kind::NotFound
        );
        assert_eq!(classify("ThrottlingException", Some(400)), Kind::Throttled);
        assert_eq!(classify("", Some(429)), Kind::Throttled);
        assert_eq!(classify("InternalFailure", Some(500)), Kind::Unavailable);
        assert_eq!(classify("ValidationException", Some(400)), Kind::Invalid);
        assert_eq!(classify("Weird", Some(400)), Kind::Other);
    }

    #[test]
    fn reported_failures_read_like_service_errors() {
        let f = Failure::reported(
            "Secrets Manager",
            Some("ResourceNotFoundException"),
            Some("gone"),
        );
        assert_eq!(f.to_string(), "ResourceNotFoundException: gone");
        assert!(f.is(Kind::NotFound));
    }
}
