//! The redactor's figures for BENCHMARKS.md: how long registering values takes, and how fast
//! output passes through, in one write and in the 4 KiB writes of a stream.
//! Run with `cargo run --release --example redactor`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use ecs_secrets::mask::{Pending, Redactor, Secret};

/// 16 MiB of log lines, one value in every hundredth line.
fn log(values: &[Secret]) -> Vec<u8> {
    let mut text = Vec::with_capacity(17 << 20);
    let mut line = 0;
    while text.len() < 16 << 20 {
        if line % 100 == 0 {
            text.extend_from_slice(values[(line / 100) % values.len()].expose().as_bytes());
        }
        text.extend_from_slice(
            b" 2026-11-29T08:00:00Z INFO ecs_secrets::rollout: web: 2 of 3 tasks running\n",
        );
        line += 1;
    }
    text
}

fn mib_per_s(bytes: usize, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / f64::from(1 << 20);
    mib / elapsed.as_secs_f64()
}

fn main() {
    println!("| values | forms | register all, build once | one 16 MiB write | 4 KiB writes |");
    println!("|---|---|---|---|---|");
    for count in [10, 200, 1000] {
        let values: Vec<Secret> = (0..count)
            .map(|i| Secret::new(format!("canary-{i:05}-Zm9vYmFyYmF6cXV4LXNlY3JldA")))
            .collect();
        let mut redactor = Redactor::default();
        let start = Instant::now();
        let forms: usize = values.iter().map(|v| redactor.add(v).forms.len()).sum();
        redactor.redact(b"built at the first use");
        let register = start.elapsed();

        let text = log(&values);
        let start = Instant::now();
        let whole = redactor.redact(&text);
        let one_write = start.elapsed();

        let start = Instant::now();
        let mut pending = Pending::default();
        let mut streamed = Vec::with_capacity(text.len());
        for chunk in text.chunks(4096) {
            streamed.extend(pending.push(&redactor, chunk));
        }
        streamed.extend(pending.finish(&redactor));
        let chunked = start.elapsed();

        assert_eq!(whole, streamed, "a stream masks what one write masks");
        assert!(
            !whole.windows(7).any(|w| w == b"canary-"),
            "every value is masked"
        );
        println!(
            "| {count} | {forms} | {:.1} ms | {:.0} MiB/s | {:.0} MiB/s |",
            register.as_secs_f64() * 1000.0,
            mib_per_s(text.len(), one_write),
            mib_per_s(text.len(), chunked),
        );
    }
}
