//! `ecs-secrets`: parse inputs, start logging, run the pipeline, map the outcome to an exit code.

use std::process::ExitCode;

use ecs_secrets::inputs::{self, Parsed};
use ecs_secrets::{app, ci, error, logging, output, report};

fn main() -> ExitCode {
    output::install_panic_hook();
    let code = match inputs::parse(std::env::args_os(), std::env::vars_os()) {
        Ok(Parsed::Print(text)) => {
            output::write(output::Stream::Stdout, text.as_bytes());
            0
        }
        Ok(Parsed::Run(inputs, logging)) => {
            logging::init(&logging);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a single-threaded runtime starts");
            match runtime.block_on(app::run(&inputs)) {
                Ok(done) => {
                    match done {
                        app::Done::One(report) => report::print(&report, &inputs),
                        app::Done::Many(reports) => report::print_many(&reports, &inputs),
                        app::Done::Own => {}
                    }
                    0
                }
                Err(error) => {
                    if let Some(github) = &inputs.ci.github {
                        ci::github::annotate(github, &error);
                    }
                    fail(&error)
                }
            }
        }
        Err(error) => fail(&error),
    };
    output::flush();
    ExitCode::from(code)
}

fn fail(error: &error::Error) -> u8 {
    output::err(&format!("error: {error}"));
    error.exit_code()
}
