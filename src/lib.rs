//! ecs-secrets as a library: the modules of the binary, public so that the binary, the fuzz
//! targets and the tests can reach the parts they drive. The pipeline is `app::run`.

pub mod app;
mod artifacts;
mod aws;
mod check;
pub mod ci;
mod diagnose;
pub mod document;
mod ecs;
pub mod error;
mod export;
mod iam;
pub mod inputs;
mod kms;
pub mod logging;
mod manifest;
pub mod mask;
pub mod output;
pub mod placeholder;
mod plan;
mod policy;
pub mod reference;
pub mod report;
mod resolve;
mod rollout;
pub mod taskdef;
