//! End-to-end tests: the real binary, the real AWS SDK, over HTTP, against `moto_server`.

mod check;
mod check_verdicts;
mod codedeploy;
mod codepipeline;
mod corpus;
mod deploy;
mod ecs_semantics;
mod errors;
mod export;
mod faults;
mod hardening;
mod layout;
mod leak;
mod oneoff;
mod peers;
mod render;
mod rollout;
mod scale;
mod ship;
#[macro_use]
mod support;
