//! Importing many records at once (a household register handed over as a
//! file): each row goes through a form session like a record entered by
//! hand — defaults, validation, a draft kept when it does not validate — but
//! the rows of a chunk share one flush to the disk instead of one per
//! commit, so an import runs at the speed of the CPU, not of `fsync`.

use beatbook_schema::form::Values;
use beatbook_schema::ids::{GridId, RecordId};

use crate::error::CoreError;
use crate::service::Core;

/// Rows flushed to the disk together.
pub const CHUNK: usize = 500;

/// What became of one imported row.
#[derive(Debug)]
pub struct ImportedRow {
    /// The row's position in what was imported (its line, for a file).
    pub line: usize,
    /// The record queued for the server, or why the row was refused (its
    /// values are then kept as a draft when they made one).
    pub result: Result<RecordId, CoreError>,
}

impl Core {
    /// Imports `rows` (line, values) as records of `form` in `grid`. `each`
    /// hears of every row once its chunk is on the disk; an error that is
    /// not a row's own (an unknown form, the store failing) stops the
    /// import and is returned, the rows before it kept and reported.
    pub fn import(
        &self,
        form: &str,
        grid: Option<&GridId>,
        rows: impl IntoIterator<Item = (usize, Values)>,
        mut each: impl FnMut(ImportedRow),
    ) -> Result<(), CoreError> {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            self.store().begin_run()?;
            let mut chunk = Vec::with_capacity(CHUNK);
            for (line, values) in rows.by_ref().take(CHUNK) {
                match self.import_one(form, grid, values) {
                    Ok(result) => chunk.push(ImportedRow { line, result }),
                    Err(fatal) => {
                        self.store().flush_run()?;
                        chunk.into_iter().for_each(&mut each);
                        return Err(fatal);
                    }
                }
            }
            self.store().flush_run()?;
            chunk.into_iter().for_each(&mut each);
        }
        Ok(())
    }

    /// One row: the outer error stops the import (an unknown form, the store
    /// failing), the inner one refuses the row (its values do not validate).
    fn import_one(
        &self,
        form: &str,
        grid: Option<&GridId>,
        values: Values,
    ) -> Result<Result<RecordId, CoreError>, CoreError> {
        let mut session = self.new_record(form, grid, values)?;
        Ok(match session.finalize() {
            Ok(()) => {
                crate::faults::checkpoint("after-save");
                Ok(session.id())
            }
            Err(e @ CoreError::Invalid(_)) => Err(e),
            Err(fatal) => return Err(fatal),
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use beatbook_schema::catalogue::form_ids;
    use serde_json::json;

    use super::*;
    use crate::error::CoreError;
    use crate::store::{LocalState, RecordFilter};
    use crate::testing::{enrolled_core, obj};

    fn door(i: usize) -> Values {
        obj(
            json!({"division_code": "320614", "town": "海门街道", "community": "人民社区",
            "road": "人民路", "door_number": format!("{i}号")}),
        )
    }

    #[test]
    fn rows_across_chunks_are_queued_and_refused_rows_kept_as_drafts() {
        let (_dir, core) = enrolled_core();
        let n = CHUNK * 2 + 7;
        let rows = (1..=n).map(|line| {
            let mut values = door(line);
            if line % 100 == 0 {
                values.insert("division_code".into(), json!("abc")); // not 6 digits
            }
            (line, values)
        });
        let mut seen = Vec::new();
        core.import(form_ids::ADDRESS, None, rows, |row| seen.push(row))
            .expect("the import runs");

        assert_eq!(seen.len(), n, "every row is reported once");
        assert!(seen.windows(2).all(|w| w[0].line < w[1].line), "in order");
        let refused: Vec<usize> = seen
            .iter()
            .filter(|r| matches!(r.result, Err(CoreError::Invalid(_))))
            .map(|r| r.line)
            .collect();
        assert_eq!(refused, (100..=n).step_by(100).collect::<Vec<_>>());
        let count = |state| {
            core.records(&RecordFilter {
                states: vec![state],
                ..Default::default()
            })
            .expect("records")
            .len()
        };
        assert_eq!(count(LocalState::Queued), n - refused.len());
        assert_eq!(count(LocalState::Draft), refused.len());
        assert_eq!(
            core.store().outbox_len().expect("outbox"),
            (n - refused.len()) as u64
        );
    }

    #[test]
    fn an_unknown_form_stops_the_import_before_anything_is_written() {
        let (_dir, core) = enrolled_core();
        let mut seen = 0;
        let err = core
            .import("no_such_form", None, [(1, door(1))], |_| seen += 1)
            .expect_err("refused");
        assert!(matches!(err, CoreError::UnknownForm(_)), "{err}");
        assert_eq!(seen, 0);
        assert_eq!(core.store().outbox_len().expect("outbox"), 0);
    }
}
