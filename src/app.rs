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
    let args: Vec<OsString> = args.into_iter().collect();
    let env: Vec<(OsString, OsString)> = env.into_iter().collect();
    if let Some(code) = pipeline_action(&args, &env) {
        output::flush();
        return code;
    }
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

/// The CodePipeline front doors: the custom action's worker (`codepipeline-worker`), or the
/// Lambda function's runtime loop (no command, `AWS_LAMBDA_RUNTIME_API` set). `None`: neither.
fn pipeline_action(args: &[OsString], env: &[(OsString, OsString)]) -> Option<u8> {
    let var = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.to_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let worker = args.get(1).is_some_and(|a| a == "codepipeline-worker");
    let lambda = var("AWS_LAMBDA_RUNTIME_API").filter(|_| args.len() <= 1);
    if !worker && lambda.is_none() {
        return None;
    }
    crate::aws::run_started();
    let mut settings = None;
    let mut verbosity = 0;
    if worker {
        let command = crate::codepipeline::worker::command()
            .arg(
                clap::Arg::new("verbose")
                    .short('v')
                    .action(clap::ArgAction::Count),
            )
            .arg(
                clap::Arg::new("quiet")
                    .short('q')
                    .action(clap::ArgAction::Count),
            );
        let matches = match command.try_get_matches_from(&args[1..]) {
            Ok(matches) => matches,
            Err(err) => {
                use clap::error::ErrorKind;
                let text = err.render().to_string();
                if matches!(err.kind(), ErrorKind::DisplayHelp) {
                    output::write(Stream::Stdout, text.as_bytes());
                    return Some(0);
                }
                return Some(fail(&Error::Usage(text.trim_end().to_owned())));
            }
        };
        verbosity = i8::try_from(matches.get_count("verbose")).unwrap_or(i8::MAX)
            - i8::try_from(matches.get_count("quiet")).unwrap_or(i8::MAX);
        match crate::codepipeline::worker::Settings::of(&matches) {
            Ok(s) => settings = Some(s),
            Err(message) => return Some(fail(&Error::Usage(message))),
        }
    }
    logging::init(&crate::logging::Logging {
        verbosity,
        rust_log: var("RUST_LOG"),
        color: false,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a single-threaded runtime starts");
    Some(runtime.block_on(async {
        let aws = crate::aws::Aws::load(&cli::default_aws_settings()).await;
        match (settings, lambda) {
            (Some(settings), _) => match aws {
                Ok(aws) => crate::codepipeline::worker::run(&aws, &settings).await,
                Err(error) => fail(&error),
            },
            (None, Some(api)) => crate::codepipeline::lambda::serve(&api, aws).await,
            (None, None) => unreachable!("a front door was chosen"),
        }
    }))
}

fn annotate(ci: &Ci, error: &Error) {
    ci.annotate_error(error);
}

fn fail(error: &Error) -> u8 {
    output::err(&format!("error: {error}"));
    error.exit_code()
}
