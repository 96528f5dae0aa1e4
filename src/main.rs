//! `ecs-secrets`: everything happens in `app::main`; the binary only routes panics through the
//! redactor and exits with its code. It prints nothing itself.

use std::process::ExitCode;

use ecs_secrets::{app, output};

fn main() -> ExitCode {
    output::install_panic_hook();
    ExitCode::from(app::main(std::env::args_os(), std::env::vars_os()))
}
