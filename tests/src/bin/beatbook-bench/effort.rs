//! The README's "Less typing, measured" table, from `docs/entry-effort.json`
//! (written by `tests/e2e/field-app.test.mjs`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::table;

/// The file: one entry per scripted task.
pub type EffortFile = BTreeMap<String, Task>;

/// One scripted task, counted.
#[derive(Debug, Deserialize)]
pub struct Task {
    /// What the officer did in Beatbook.
    pub beatbook: Actions,
    /// The same data typed into a blank form.
    pub blank_form: u64,
    /// Beatbook's actions over the blank form's.
    pub ratio: f64,
}

/// Taps and typed characters.
#[derive(Debug, Deserialize)]
pub struct Actions {
    /// Taps.
    pub taps: u64,
    /// Typed characters.
    pub chars: u64,
    /// Both.
    pub actions: u64,
}

/// What each task of the file is, in the order the README lists them.
const TASKS: [(&str, &str); 3] = [
    ("visit", "household visit: house + 3 residents, typed"),
    (
        "visit_scanned",
        "household visit: house + 3 residents, ID cards scanned",
    ),
    ("revisit_unchanged", "revisit, nothing changed"),
];

/// The table.
pub fn render(file: &EffortFile) -> String {
    let rows: Vec<Vec<String>> = TASKS
        .iter()
        .filter_map(|(key, what)| {
            let t = file.get(*key)?;
            Some(vec![
                (*what).to_owned(),
                format!(
                    "{} ({} + {})",
                    t.beatbook.actions, t.beatbook.taps, t.beatbook.chars
                ),
                t.blank_form.to_string(),
                format!("{:.2}", t.ratio),
            ])
        })
        .collect();
    table(
        &[
            "scripted task",
            "Beatbook actions (taps + characters)",
            "blank form",
            "ratio",
        ],
        &rows,
    )
}
