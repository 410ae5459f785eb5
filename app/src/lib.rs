//! Beatbook field app: a headless core (encrypted local store, outbox, sync
//! engine, form sessions) and the Dioxus UI on top of it.

pub mod cli;
pub mod core;
pub mod ui;
