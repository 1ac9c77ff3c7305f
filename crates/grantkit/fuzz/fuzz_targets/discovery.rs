//! Discovery documents: tolerant parsing, the endpoint (SSRF) policy, provider construction.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| grantkit::__fuzz::discovery(data));
