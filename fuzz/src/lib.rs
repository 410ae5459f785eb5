//! The fuzzed entry points (in [`targets`]), shared with the stable smoke test
//! `tests/tests/fuzz_smoke.rs`, which includes the same file.

pub mod targets;
