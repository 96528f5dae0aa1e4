//! The one place that writes to stdout and stderr. Every byte passes through the redactor, held
//! back only as long as it could be the start of a secret value that the next write completes.
//! Logging (ours and the AWS SDK's) and panics are routed here too.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Write};
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::mask::{Pending, Redactor, Secret};

#[derive(Default)]
struct State {
    redactor: Redactor,
    stdout: Pending,
    stderr: Pending,
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(Mutex::default);

fn state() -> MutexGuard<'static, State> {
    // A panic while holding the lock must not turn every later write into a second panic.
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Makes a value known to the redactor. Returns the forms that will be masked (empty when the
/// value is too short to mask), so a platform can register them as well.
pub fn protect(secret: &Secret) -> Vec<String> {
    state().redactor.add(secret)
}

/// Redacts text without writing it (for files and summaries that leave the process).
pub fn redact(text: &str) -> String {
    state().redactor.redact_str(text)
}

/// Writes through the redactor.
pub fn write(stream: Stream, bytes: &[u8]) {
    let mut state = state();
    let State {
        redactor,
        stdout,
        stderr,
    } = &mut *state;
    let pending = match stream {
        Stream::Stdout => stdout,
        Stream::Stderr => stderr,
    };
    let ready = pending.push(redactor, bytes);
    emit(stream, &ready);
}

/// Writes everything held back (at exit, or before a raw line).
pub fn flush() {
    let mut state = state();
    let State {
        redactor,
        stdout,
        stderr,
    } = &mut *state;
    for (stream, pending) in [(Stream::Stdout, stdout), (Stream::Stderr, stderr)] {
        let ready = pending.finish(redactor);
        emit(stream, &ready);
    }
}

/// Writes a line that must reach the stream unredacted: GitHub's `::add-mask::`, whose whole
/// purpose is to carry the value to the runner, and `export --export-to-stdout`, which asks for
/// the values in so many words.
pub fn write_unredacted_line(stream: Stream, line: &str) {
    // Held-back output stays held: releasing it early could cut a value in two.
    emit(stream, format!("{line}\n").as_bytes());
}

fn emit(stream: Stream, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // A closed pipe is not worth a panic: the job result is the exit code.
    let _ = match stream {
        Stream::Stdout => io::stdout().lock().write_all(bytes),
        Stream::Stderr => io::stderr().lock().write_all(bytes),
    };
}

/// Prints a line to stderr (progress, notices, errors).
pub fn err(line: &str) {
    write(Stream::Stderr, format!("{line}\n").as_bytes());
}

/// An `io::Write` onto redacted stderr, for the tracing subscriber.
pub struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write(Stream::Stderr, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Routes panic messages through the redactor: a panic payload could quote a value.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        // A panic while this thread holds the output lock must not deadlock in the hook: then
        // write a fixed line that carries nothing from the panic.
        if matches!(STATE.try_lock(), Err(std::sync::TryLockError::WouldBlock)) {
            emit(
                Stream::Stderr,
                b"error: internal error while writing output; please report this\n",
            );
            return;
        }
        err(&format!(
            "error: internal error{location}: {message}; please report this"
        ));
        flush();
    }));
}
