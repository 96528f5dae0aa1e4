//! The template loader, JSON and YAML: any text loads or fails with an error, and a loaded
//! template's placeholders are found without a panic.
#![no_main]

use std::path::Path;

use ecs_secrets::template::{parse, slots};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let path = if kind % 2 == 0 {
        Path::new("fuzz.json")
    } else {
        Path::new("fuzz.yaml")
    };
    if let Ok(template) = parse(path, &String::from_utf8_lossy(rest)) {
        let _ = slots(&template);
    }
});
