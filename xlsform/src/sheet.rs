//! A workbook's sheets as tables of text: a header row naming the columns
//! (`label::English (en)` split into a column name and a language), then one
//! row per line, each cell as text and located as Excel shows it.

use std::io::Cursor;

use beatbook_schema::text::Text;
use calamine::{open_workbook_auto_from_rs, Data, Reader};

use crate::problem::{Column, Problem};

/// One header cell.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// 0-based column index in the sheet.
    pub index: u32,
    /// As written.
    pub raw: String,
    /// The column's name, lower-cased, aliases resolved (`list name` → `list_name`).
    pub name: String,
    /// The language after `::`, if any.
    pub lang: Option<String>,
}

/// A sheet: its headers and rows.
#[derive(Debug)]
pub(crate) struct Table {
    pub headers: Vec<Header>,
    pub rows: Vec<Row>,
}

/// One non-empty row.
#[derive(Debug)]
pub(crate) struct Row {
    /// As Excel numbers it (the header is row 1 when it starts the sheet).
    pub number: u32,
    /// Cells in header order, trimmed; "" when empty.
    pub cells: Vec<String>,
}

/// Which of the two languages a `::language` suffix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
    Other,
}

fn classify(lang: &str) -> Lang {
    let l = lang.trim().to_lowercase();
    let code = l
        .rsplit_once('(')
        .map_or(l.as_str(), |(_, c)| c.trim_end_matches(')').trim());
    if code == "zh" || code.starts_with("zh-") || code.starts_with("zh_") {
        Lang::Zh
    } else if code == "en" || code.starts_with("en-") || code.starts_with("en_") {
        Lang::En
    } else if l.contains("chinese") || l.contains("中文") || l.contains("汉语") {
        Lang::Zh
    } else if l.contains("english") || l.contains("英文") || l.contains("英语") {
        Lang::En
    } else {
        Lang::Other
    }
}

/// Reads the workbook's sheets that the importer knows, by name (case ignored).
pub(crate) struct Workbook {
    sheets: Vec<(String, calamine::Range<Data>)>,
}

impl Workbook {
    /// Opens the workbook, or says (as the one problem) why it cannot be read.
    pub fn open(bytes: &[u8]) -> Result<Self, Vec<Problem>> {
        let unreadable = |e: &dyn std::fmt::Display| {
            vec![Problem::sheet(
                "",
                format!("无法读取该文件（{e}）：请在 Excel 中另存为 .xlsx 后重新导入"),
                format!("the file is not a workbook that can be read ({e}): save it from Excel as .xlsx and import it again"),
            )]
        };
        let mut book =
            open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).map_err(|e| unreadable(&e))?;
        let mut sheets = Vec::new();
        for name in book.sheet_names() {
            let range = book.worksheet_range(&name).map_err(|e| unreadable(&e))?;
            sheets.push((name, range));
        }
        Ok(Self { sheets })
    }

    /// The sheet called `name` (any case), as a table; `None` if there is none.
    pub fn table(&self, name: &'static str) -> Option<Table> {
        let (_, range) = self
            .sheets
            .iter()
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))?;
        let (row0, col0) = range.start().unwrap_or((0, 0));
        let mut rows = range.rows();
        let headers: Vec<Header> = rows
            .next()
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter_map(|(i, cell)| {
                let raw = cell_text(cell);
                if raw.is_empty() {
                    return None;
                }
                // `bind::jr:constraintMsg` is the column `jr:constraintMsg`.
                let unprefixed = raw.strip_prefix("bind::").unwrap_or(&raw);
                let (base, lang) = match unprefixed
                    .split_once("::")
                    .or_else(|| old_language(unprefixed))
                {
                    Some((b, l)) => (b, Some(l.trim().to_owned())),
                    None => (unprefixed, None),
                };
                Some(Header {
                    index: col0 + i as u32,
                    name: alias(name, &base.trim().to_lowercase()),
                    lang,
                    raw: raw.clone(),
                })
            })
            .collect();
        let rows = rows
            .enumerate()
            .filter_map(|(i, cells)| {
                let texts: Vec<String> = headers
                    .iter()
                    .map(|h| {
                        cells
                            .get((h.index - col0) as usize)
                            .map(cell_text)
                            .unwrap_or_default()
                    })
                    .collect();
                texts.iter().any(|t| !t.is_empty()).then(|| Row {
                    number: row0 + i as u32 + 2,
                    cells: texts,
                })
            })
            .collect();
        Some(Table { headers, rows })
    }
}

/// Older forms write one colon before the language (`label:English`).
fn old_language(raw: &str) -> Option<(&str, &str)> {
    let (base, lang) = raw.split_once(':')?;
    let translatable = [
        "label",
        "hint",
        "constraint_message",
        "constraint message",
        "required_message",
        "guidance_hint",
        "media",
        "image",
        "audio",
        "video",
    ];
    translatable
        .contains(&base.trim().to_lowercase().as_str())
        .then_some((base, lang))
}

/// Spellings of column names that older forms and other tools use.
fn alias(sheet: &str, name: &str) -> String {
    let name = name.replace(' ', "_");
    match name.as_str() {
        "constraint_message" | "jr:constraintmsg" => "constraint_message",
        "required_message" | "jr:requiredmsg" => "required_message",
        "calculate" => "calculation",
        "readonly" | "read-only" => "read_only",
        "relevance" => "relevant",
        "value" if sheet == "choices" => "name",
        other => other,
    }
    .to_owned()
}

/// A cell as text: numbers without a needless `.0`, dates as `YYYY-MM-DD`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => (*f as i64).to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => excel_date(dt.as_f64()),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// An Excel serial date (days since 1899-12-30) as `YYYY-MM-DD`, with the
/// time when there is one.
fn excel_date(serial: f64) -> String {
    let Some(epoch) = chrono::NaiveDate::from_ymd_opt(1899, 12, 30) else {
        return serial.to_string();
    };
    let days = serial.floor();
    let Some(date) =
        chrono::TimeDelta::try_days(days as i64).and_then(|d| epoch.checked_add_signed(d))
    else {
        return serial.to_string();
    };
    let seconds = ((serial - days) * 86_400.0).round() as u32;
    if seconds == 0 {
        date.format("%Y-%m-%d").to_string()
    } else {
        format!(
            "{}T{:02}:{:02}:{:02}",
            date.format("%Y-%m-%d"),
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }
}

impl Table {
    /// The first column called `name` (without a language).
    pub fn header(&self, name: &str) -> Option<&Header> {
        self.headers
            .iter()
            .find(|h| h.name == name && h.lang.is_none())
            .or_else(|| self.headers.iter().find(|h| h.name == name))
    }

    /// The value of column `name` in `row` ("" when absent), with its column.
    pub fn get<'r>(&self, row: &'r Row, name: &str) -> (&'r str, Option<Column>) {
        self.headers
            .iter()
            .position(|h| h.name == name && h.lang.is_none())
            .map_or(("", None), |i| {
                let h = &self.headers[i];
                (
                    row.cells[i].as_str(),
                    Some(Column::new(h.index, h.raw.clone())),
                )
            })
    }

    /// Just the value of column `name` in `row`.
    pub fn value<'r>(&self, row: &'r Row, name: &str) -> &'r str {
        self.get(row, name).0
    }

    /// The column to blame for `name`, even when the row leaves it empty.
    pub fn column(&self, name: &str) -> Option<Column> {
        self.header(name)
            .map(|h| Column::new(h.index, h.raw.clone()))
    }

    /// The bilingual text of column `name` (`label`, `label::Chinese (zh)`,
    /// `label::English (en)` ...): each language from its own column, falling
    /// back to the column without a language, then to the other language, then
    /// to any other language. `None` when every such cell is empty.
    pub fn text(&self, row: &Row, name: &str) -> Option<Text> {
        let (mut zh, mut en, mut plain, mut other) = (None, None, None, None);
        for (h, cell) in self.headers.iter().zip(&row.cells) {
            if h.name != name || cell.is_empty() {
                continue;
            }
            let slot = match h.lang.as_deref().map(classify) {
                None => &mut plain,
                Some(Lang::Zh) => &mut zh,
                Some(Lang::En) => &mut en,
                Some(Lang::Other) => &mut other,
            };
            slot.get_or_insert(cell.clone());
        }
        let zh_text = zh
            .clone()
            .or(plain.clone())
            .or(en.clone())
            .or(other.clone())?;
        let en_text = en.or(plain).or(zh).or(other).unwrap_or_default();
        Some(Text::new(zh_text, en_text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_recognised_by_code_or_name() {
        assert_eq!(classify("Chinese (zh)"), Lang::Zh);
        assert_eq!(classify("zh-CN"), Lang::Zh);
        assert_eq!(classify("中文"), Lang::Zh);
        assert_eq!(classify("English (en)"), Lang::En);
        assert_eq!(classify("english"), Lang::En);
        assert_eq!(classify("French (fr)"), Lang::Other);
    }

    #[test]
    fn excel_serial_dates_read_as_iso_dates() {
        assert_eq!(excel_date(45943.0), "2025-10-13");
        assert_eq!(excel_date(45943.5), "2025-10-13T12:00:00");
        // Out of range: the number as it is, not a panic.
        assert!(excel_date(1e300).starts_with("1000"));
        assert!(excel_date(-1e300).starts_with("-1000"));
    }
}
