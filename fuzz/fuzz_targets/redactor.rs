//! The redactor on a stream: a secret written in any pieces, among any other bytes, never comes
//! out whole, and no input panics.
#![no_main]

use ecs_secrets::mask::{MIN_MASKED_LEN, Pending, Redactor, Secret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte: the secret's length; then the secret, then the text, split at the bytes
    // that follow as cut points.
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len % 48);
    if rest.len() < len || len < MIN_MASKED_LEN {
        return;
    }
    let (secret, text) = rest.split_at(len);
    let Ok(secret) = std::str::from_utf8(secret) else {
        return;
    };
    if secret.contains('*') {
        return; // a mask next to the value could spell it again
    }
    let mut redactor = Redactor::default();
    redactor.add(&Secret::new(secret));
    let mut whole = text.to_vec();
    whole.extend_from_slice(secret.as_bytes());
    whole.extend_from_slice(text);
    let mut pending = Pending::default();
    let mut out = Vec::new();
    for chunk in whole.chunks(usize::from(text.first().copied().unwrap_or(7)).max(1)) {
        out.extend(pending.push(&redactor, chunk));
    }
    out.extend(pending.finish(&redactor));
    // Bytes, not a lossy string: decoding could spell U+FFFD out of other bytes.
    let found = out.windows(secret.len()).any(|w| w == secret.as_bytes());
    assert!(!found, "the secret came out");
});
