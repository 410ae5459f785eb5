#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| beatbook_fuzz::targets::push_request(data));
