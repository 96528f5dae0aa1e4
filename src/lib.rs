//! ecs-secrets as a library: the modules of the binary, public so that the binary, the fuzz
//! targets and the tests can reach the parts they drive. The run is `app::main`.
//!
//! In the order data flows: `cli` (inputs) → `command` (one story per command) → `prepare`
//! (`template`, `placeholder`, `reference`, `resolve`) → `check`, `plan`, `policy`,
//! `artifacts`, `rollout`, `report` → `aws` (every SDK call); `ci`, `output` and `mask` carry
//! every byte written. `codepipeline` runs the tool as a pipeline action (a Lambda function
//! or a custom action's worker).

pub mod app;
mod artifacts;
mod aws;
mod check;
pub mod ci;
pub mod cli;
mod codepipeline;
mod command;
mod diagnose;
pub mod document;
pub mod error;
mod iam;
pub mod logging;
mod manifest;
pub mod mask;
mod oneoff;
pub mod output;
pub mod placeholder;
mod plan;
mod policy;
mod prepare;
pub mod reference;
mod report;
mod resolve;
mod rollout;
pub mod template;
mod variables;
