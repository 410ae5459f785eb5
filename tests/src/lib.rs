//! Shared harness for Beatbook's end-to-end tests.
