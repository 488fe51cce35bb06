//! Fuzzes the `$batch` request parser: whatever the bytes, it must return a result, never panic
//! or hang. The first input line is used as the Content-Type so boundaries get explored too.
#![no_main]

use dataverse_emulator::batch::{RequestPart, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(lf) => (String::from_utf8_lossy(&data[..lf]), &data[lf + 1..]),
        None => (String::from_utf8_lossy(&[]), data),
    };
    check(parse_request(&content_type, body));
    // A fixed, valid Content-Type keeps the fuzzer busy inside the multipart framing as well.
    check(parse_request("multipart/mixed; boundary=b", data));
});

/// Invariants any successful parse must hold, whatever the input.
fn check(parsed: Result<Vec<RequestPart>, dataverse_emulator::batch::BatchError>) {
    let Ok(parts) = parsed else { return };
    let operations: usize = parts
        .iter()
        .map(|part| match part {
            RequestPart::Request(_) => 1,
            RequestPart::ChangeSet(requests) => {
                assert!(requests.iter().all(|r| r.method.as_str() != "GET"));
                requests.len()
            }
        })
        .sum();
    assert!(operations <= dataverse_emulator::batch::MAX_OPERATIONS);
}
