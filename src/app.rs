//! The run, start to finish: parse the inputs, start logging, run the command, print the error
//! if there is one, and map the outcome to an exit code (0 success, 1 the job failed, 2 bad
//! input or usage).

use std::ffi::OsString;

use crate::ci::Ci;
use crate::cli::{self, Invocation, Parsed};
use crate::error::Error;
use crate::logging;
use crate::output::{self, Stream};

/// The whole run; returns the exit code.
pub fn main(
    args: impl IntoIterator<Item = OsString>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> u8 {
    let code = match cli::parse(args, env) {
        Ok(Parsed::Print(text)) => {
            output::write(Stream::Stdout, text.as_bytes());
            0
        }
        Ok(Parsed::Run(invocation)) => run(*invocation),
        Err(error) => fail(&error),
    };
    output::flush();
    code
}

fn run(invocation: Invocation) -> u8 {
    crate::aws::run_started();
    let Invocation {
        command,
        logging,
        ci,
    } = invocation;
    logging::init(&logging);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a single-threaded runtime starts");
    ci.announce();
    match runtime.block_on(command.run(&ci)) {
        Ok(()) => 0,
        Err(error) => {
            annotate(&ci, &error);
            fail(&error)
        }
    }
}

fn annotate(ci: &Ci, error: &Error) {
    ci.annotate_error(error);
}

fn fail(error: &Error) -> u8 {
    output::err(&format!("error: {error}"));
    error.exit_code()
}
