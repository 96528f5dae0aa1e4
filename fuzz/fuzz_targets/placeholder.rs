//! The placeholder parser: no input panics; every placeholder's offset points at its text.
#![no_main]

use ecs_secrets::placeholder::{Segment, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(segments) = parse(&text) {
        for segment in segments {
            if let Segment::Placeholder { offset, raw, .. } = segment {
                assert_eq!(&text[offset..offset + raw.len()], raw);
            }
        }
    }
});
