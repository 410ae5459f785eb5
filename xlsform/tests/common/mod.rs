//! Workbooks written by the tests themselves.

#![allow(dead_code)]

use beatbook_xlsform::Problem;
use rust_xlsxwriter::Workbook;

/// A workbook with the given sheets, each a header row then data rows.
pub fn workbook(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
    let mut book = Workbook::new();
    for (name, rows) in sheets {
        let sheet = book.add_worksheet().set_name(*name).expect("sheet name");
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    sheet.write_string(r as u32, c as u16, *cell).expect("cell");
                }
            }
        }
    }
    book.save_to_buffer().expect("workbook")
}

/// The usual settings sheet.
pub const SETTINGS: &[&[&str]] = &[
    &[
        "form_id",
        "version",
        "form_title::Chinese (zh)",
        "form_title::English (en)",
    ],
    &["test_form", "3", "测试", "Test"],
];

/// A workbook of a survey, choices and the usual settings.
pub fn form(survey: &[&[&str]], choices: &[&[&str]]) -> Vec<u8> {
    workbook(&[
        ("survey", survey),
        ("choices", choices),
        ("settings", SETTINGS),
    ])
}

/// Each problem as `sheet row column: message`, for assertions that read well.
pub fn located(problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| {
            format!(
                "{} {} {}: {}",
                p.sheet,
                p.row.map_or("-".into(), |r| r.to_string()),
                p.column.as_ref().map_or("-", |c| c.letter.as_str()),
                p.message.en
            )
        })
        .collect()
}
