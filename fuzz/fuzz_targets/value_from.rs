//! The `valueFrom`, secret-id and parameter parsers: no input panics.
#![no_main]

use ecs_secrets::reference::{Parameter, SecretId, check_value_from, has_random_suffix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = check_value_from(&text);
    let _ = SecretId::parse(&text);
    let _ = Parameter::parse(&text);
    let _ = has_random_suffix(&text);
});
