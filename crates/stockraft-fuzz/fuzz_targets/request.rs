#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stockraft_fuzz::request(data));
