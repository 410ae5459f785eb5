//! What is wrong with a workbook, located by sheet, row and column.

use std::fmt;

use beatbook_schema::text::Text;

/// One problem with an XLSForm workbook: where it is and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The sheet (`survey`, `choices`, `settings`); empty when the file itself is unreadable.
    pub sheet: String,
    /// The spreadsheet row, counted from 1 as Excel shows it (the header is row 1).
    pub row: Option<u32>,
    /// The column, when one cell is at fault.
    pub column: Option<Column>,
    /// What is wrong and what to do, in both languages.
    pub message: Text,
}

/// A column: its letter as Excel shows it and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// `A`, `B`, ..., `AA`.
    pub letter: String,
    /// The header cell, e.g. `relevant` or `label::English (en)`.
    pub header: String,
}

impl Column {
    /// The column at a 0-based index with its header.
    pub fn new(index: u32, header: impl Into<String>) -> Self {
        Self {
            letter: letter(index),
            header: header.into(),
        }
    }
}

/// Excel's letters for a 0-based column index: 0 → `A`, 26 → `AA`.
pub fn letter(index: u32) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

impl Problem {
    /// A problem with the whole sheet (a missing sheet or column).
    pub fn sheet(sheet: &str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            sheet: sheet.to_owned(),
            row: None,
            column: None,
            message: Text::new(zh, en),
        }
    }

    /// A problem with one row.
    pub fn row(sheet: &str, row: u32, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            row: Some(row),
            ..Self::sheet(sheet, zh, en)
        }
    }

    /// A problem with one cell.
    pub fn cell(
        sheet: &str,
        row: u32,
        column: Column,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            column: Some(column),
            ..Self::row(sheet, row, zh, en)
        }
    }

    /// Where, as a person reads it: `survey, row 7, column C (relevant)`.
    pub fn location(&self) -> String {
        let mut out = if self.sheet.is_empty() {
            "workbook".to_owned()
        } else {
            format!("sheet '{}'", self.sheet)
        };
        if let Some(row) = self.row {
            out.push_str(&format!(", row {row}"));
        }
        if let Some(c) = &self.column {
            out.push_str(&format!(", column {} ({})", c.letter, c.header));
        }
        out
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message.en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_are_excels() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
        assert_eq!(letter(27), "AB");
        assert_eq!(letter(701), "ZZ");
        assert_eq!(letter(702), "AAA");
    }

    #[test]
    fn a_problem_reads_with_its_location() {
        let p = Problem::cell("survey", 7, Column::new(2, "relevant"), "中", "fix it");
        assert_eq!(
            p.to_string(),
            "sheet 'survey', row 7, column C (relevant): fix it"
        );
    }
}
