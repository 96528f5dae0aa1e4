//! The one place that writes to stdout and stderr. Every byte passes through the redactor, held
//! back only as long as it could be the start of a secret value that the next write completes.
//! Logging (ours and the AWS SDK's) and panics are routed here too.
//!
//! Three kinds of writes:
//! - [`write`] / [`err`]: text that may carry anything (logs, errors, plans): redacted, and
//!   no line of it can pass for a CI workflow command (see [`neutralize`]);
//! - [`command`]: a workflow command the tool itself writes, whose data its caller has already
//!   redacted and escaped: written as it is, on a line of its own;
//! - [`write_exact`]: outputs the tool builds from what AWS returned (ARNs, revisions, `changed`):
//!   never secret values, so written exactly (redacting them would corrupt them when a secret
//!   value is as common as `true` or the Region), still neutralized.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Write};
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::mask::{Learnt, Pending, Redactor, Secret};

struct State {
    redactor: Redactor,
    stdout: Pending,
    stderr: Pending,
    /// Whether the last byte written to each stream ended a line (stdout, stderr).
    at_line_start: [bool; 2],
}

impl Default for State {
    fn default() -> Self {
        Self {
            redactor: Redactor::default(),
            stdout: Pending::default(),
            stderr: Pending::default(),
            at_line_start: [true, true],
        }
    }
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

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// Makes a value known to the redactor. Returns what it learnt: the forms that will be masked,
/// so a platform can register them as well, and the parts it could not mask or that are common.
pub fn protect(secret: &Secret) -> Learnt {
    state().redactor.add(secret)
}

/// Redacts text without writing it (for files and summaries that leave the process).
pub fn redact(text: &str) -> String {
    state().redactor.redact_str(text)
}

/// Writes through the redactor; no line of it can pass for a workflow command.
pub fn write(stream: Stream, bytes: &[u8]) {
    release(&[stream], |pending, redactor| pending.push(redactor, bytes));
}

/// Writes everything held back (at exit).
pub fn flush() {
    release(&[Stream::Stdout, Stream::Stderr], |pending, redactor| {
        pending.finish(redactor)
    });
}

/// Emits, for each of `streams`, what `take` releases from its held-back output, neutralized.
fn release(streams: &[Stream], take: impl Fn(&mut Pending, &Redactor) -> Vec<u8>) {
    let mut state = state();
    let State {
        redactor,
        stdout,
        stderr,
        at_line_start,
    } = &mut *state;
    for &stream in streams {
        let pending = match stream {
            Stream::Stdout => &mut *stdout,
            Stream::Stderr => &mut *stderr,
        };
        let ready = take(pending, redactor);
        let start = &mut at_line_start[stream.index()];
        emit(stream, &neutralize(&ready, *start), start);
    }
}

/// Writes a workflow command of the tool's own (`::add-mask::`, `::error …`, `::group::`), on a
/// line of its own. Its data must already be redacted (where it may hold a value) and escaped:
/// this neither redacts nor neutralizes, or the command would not work.
pub fn command(stream: Stream, line: &str) {
    let mut state = state();
    let start = &mut state.at_line_start[stream.index()];
    if !*start {
        emit(stream, b"\n", start);
    }
    // Held-back output stays held: releasing it early could cut a value in two.
    emit(stream, format!("{line}\n").as_bytes(), start);
}

/// Writes text that holds no secret value by construction (the report of ARNs, revisions and
/// names the tool built from AWS's answers) exactly, not redacted; still neutralized.
pub fn write_exact(stream: Stream, text: &str) {
    let mut state = state();
    let start = &mut state.at_line_start[stream.index()];
    if !*start {
        emit(stream, b"\n", start);
    }
    let bytes = neutralize(text.as_bytes(), *start);
    emit(stream, &bytes, start);
}

/// Writes a line that must reach the stream unredacted because it carries values the user asked
/// for in so many words (`export --export-to-stdout`).
pub fn write_unredacted_line(stream: Stream, line: &str) {
    let mut state = state();
    let start = &mut state.at_line_start[stream.index()];
    let bytes = neutralize(format!("{line}\n").as_bytes(), *start);
    emit(stream, &bytes, start);
}

fn emit(stream: Stream, bytes: &[u8], at_line_start: &mut bool) {
    let Some(&last) = bytes.last() else {
        return;
    };
    *at_line_start = matches!(last, b'\n' | b'\r');
    // A closed pipe is not worth a panic: the job result is the exit code.
    let _ = match stream {
        Stream::Stdout => io::stdout().lock().write_all(bytes),
        Stream::Stderr => io::stderr().lock().write_all(bytes),
    };
}

/// Makes sure no line of `bytes` is read as a workflow command by a CI runner: a line whose
/// first non-blank characters are `::` (GitHub's runner trims leading white space, and starts a
/// line at `\r` as well as `\n`) gets a `\` before them, and `##[` (the runner's older syntax,
/// found anywhere in a line) becomes `##\[`. `at_line_start` tells whether `bytes` begins a line.
pub fn neutralize(bytes: &[u8], at_line_start: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut line_start = at_line_start;
    let mut i = 0;
    while i < bytes.len() {
        if line_start {
            line_start = false;
            let blank = leading_blank(&bytes[i..]);
            if bytes[i + blank..].starts_with(b"::") {
                out.extend_from_slice(&bytes[i..i + blank]);
                out.push(b'\\');
                i += blank;
                continue;
            }
        }
        let byte = bytes[i];
        if bytes[i..].starts_with(b"##[") {
            out.extend_from_slice(b"##\\[");
            i += 3;
            continue;
        }
        out.push(byte);
        line_start = matches!(byte, b'\n' | b'\r');
        i += 1;
    }
    out
}

/// The length of the white space (as .NET's `TrimStart` sees it) at the start of `bytes`, line
/// breaks excluded.
fn leading_blank(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at < bytes.len() {
        let Some(c) = (1..=4)
            .filter(|n| at + n <= bytes.len())
            .find_map(|n| std::str::from_utf8(&bytes[at..at + n]).ok())
            .and_then(|s| s.chars().next())
        else {
            break;
        };
        if c == '\n' || c == '\r' || !c.is_whitespace() {
            break;
        }
        at += c.len_utf8();
    }
    at
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
            let _ = io::stderr()
                .lock()
                .write_all(b"\nerror: internal error while writing output; please report this\n");
            return;
        }
        err(&format!(
            "error: internal error{location}: {message}; please report this"
        ));
        flush();
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str, at_line_start: bool) -> String {
        String::from_utf8(neutralize(text.as_bytes(), at_line_start)).unwrap()
    }

    #[test]
    fn no_line_can_start_a_workflow_command() {
        assert_eq!(
            shown("key \"a\n::stop-commands::x\"\n", true),
            "key \"a\n\\::stop-commands::x\"\n"
        );
        assert_eq!(shown("::warning::forged", true), "\\::warning::forged");
        assert_eq!(shown("::warning::forged", false), "::warning::forged");
        assert_eq!(shown("x\r  \t::error::y", true), "x\r  \t\\::error::y");
        // The runner trims Unicode white space too.
        assert_eq!(shown("\u{a0}\u{3000}::x", true), "\u{a0}\u{3000}\\::x");
        assert_eq!(shown("a ##[add-mask]b", true), "a ##\\[add-mask]b");
        assert_eq!(shown("a :: b\n", true), "a :: b\n");
    }
}
