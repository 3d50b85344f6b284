//! Every request body lineup parses, fed arbitrary bytes: each must be parsed or
//! refused with a 4xx, never panic or answer 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

fuzz_target!(|bytes: &[u8]| {
    RUNTIME.block_on(lineup::http::fuzzing::parse_every_body(bytes));
});
