//! XLSForm import and export: the survey / choices / settings workbook that
//! ODK, KoboToolbox and Survey123 users design forms in, read into a Beatbook
//! form definition (or every problem at once, each with its sheet, row and
//! column), and a Beatbook form written back out as such a workbook.
//!
//! The supported subset, the type and appearance names of Beatbook's own
//! kinds, and what is refused are described in `docs/xlsform.md`.

mod export;
mod import;
mod problem;
mod sheet;
mod types;
mod xpath;

pub use export::{export, ExportError};
pub use import::{import_named, Imported};
pub use problem::{Column, Problem};

use beatbook_schema::form::FormDef;

/// Reads an XLSForm workbook into a Beatbook form, checked by the schema's
/// own form validation, or returns every problem found, each located.
pub fn import(bytes: &[u8]) -> Result<FormDef, Vec<Problem>> {
    import_named(bytes, None).map(|i| i.form)
}
