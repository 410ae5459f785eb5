//! Beatbook field app: the Dioxus UI (desktop window, liveview in a browser)
//! and the command line, both over the headless core in `beatbook_core`.

#[cfg(feature = "cli")]
mod card;
#[cfg(feature = "cli")]
pub mod cli;
pub mod ui;
