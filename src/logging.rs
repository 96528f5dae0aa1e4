//! Logging: `tracing` onto redacted stderr, verbosity from `-v`/`-q` or `RUST_LOG` (`target=level`
//! directives), no
//! timestamps (CI adds them). The AWS SDK and HTTP stack are capped at `debug` whatever
//! `RUST_LOG` says: at `trace` they log request and response bodies.

use tracing::Level;
use tracing_subscriber::filter::{Targets, filter_fn};
use tracing_subscriber::prelude::*;

use crate::output::StderrWriter;

/// Logging options, read before anything else so that errors in the inputs are logged the same
/// way.
#[derive(Debug, Clone)]
pub struct Logging {
    /// -1 and below: warnings only; 0: info; 1: debug; 2 and above: trace.
    pub verbosity: i8,
    /// `RUST_LOG`, which wins over the verbosity.
    pub rust_log: Option<String>,
    pub color: bool,
}

/// Targets whose `trace` output holds bodies.
const CAPPED_TARGETS: &[&str] = &["aws_", "hyper", "h2", "rustls", "tower"];

pub fn init(logging: &Logging) {
    let default = match logging.verbosity {
        i8::MIN..=-1 => "warn",
        0 => "ecs_secrets=info,warn",
        1 => "ecs_secrets=debug,info",
        _ => "ecs_secrets=trace,debug",
    };
    // `RUST_LOG` as `target=level` directives (`Targets`: no span or field filters, so no regex
    // engine in the binary); one that does not parse leaves the default.
    let filter: Targets = logging
        .rust_log
        .as_deref()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| default.parse().expect("the default directives parse"));
    let cap = filter_fn(|metadata| {
        *metadata.level() <= Level::DEBUG
            || !CAPPED_TARGETS
                .iter()
                .any(|prefix| metadata.target().starts_with(prefix))
    });
    let layer = tracing_subscriber::fmt::layer()
        .without_time()
        .with_target(false)
        .with_ansi(logging.color)
        .with_writer(|| StderrWriter);
    tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(cap))
        .init();
}
