//! The commands, one story each, top to bottom: `render`, `deploy`, `check`, `policy`,
//! `export`, `init` and `rollback`. Each variant carries its own settings, validated once by the command line.

pub mod check;
pub mod deploy;
pub mod export;
pub mod init;
pub mod policy;
pub mod render;
pub mod rollback;

use crate::ci::Ci;
use crate::error::Error;

pub enum Command {
    Render(render::Render),
    Deploy(Box<deploy::Deploy>),
    Check(check::Check),
    Policy(policy::Policy),
    Export(export::Export),
    Init(init::Init),
    Rollback(rollback::Rollback),
}

impl Command {
    /// Runs the command; its output (report, policies, variables) is printed on the way.
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        match self {
            Command::Render(render) => render.run(ci).await,
            Command::Deploy(deploy) => Box::pin(deploy.run(ci)).await,
            Command::Check(check) => check.run(ci).await,
            Command::Policy(policy) => policy.run(ci).await,
            Command::Export(export) => export.run(ci).await,
            Command::Init(init) => init.run(ci).await,
            Command::Rollback(rollback) => Box::pin(rollback.run(ci)).await,
        }
    }
}
