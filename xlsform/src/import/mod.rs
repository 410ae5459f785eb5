//! Reading an XLSForm workbook into a Beatbook form definition.
//!
//! Three passes over the survey sheet: the structure (groups and repeats
//! balanced), the names (each field's Beatbook name, unique, and where it may
//! be read from), then the fields themselves. Every problem found on the way
//! is collected; the definition is returned only when there are none and
//! Beatbook's own form check accepts it.

use std::collections::{BTreeMap, HashMap};

use beatbook_schema::form::{Choice, Form, FormDef};
use beatbook_schema::ids::FormId;
use beatbook_schema::role::Role;
use beatbook_schema::text::Text;

use crate::problem::{Column, Problem};
use crate::sheet::{Row, Table, Workbook};
use crate::types::QType;

mod cells;
mod choices;
mod fields;
mod settings;
mod structure;

/// A form read from a workbook, with the notes on what was left out on purpose
/// (metadata rows, presentation-only settings).
#[derive(Debug, Clone)]
pub struct Imported {
    /// The form, checked by Beatbook's own form validation.
    pub form: FormDef,
    /// What was skipped or approximated, located like problems.
    pub notes: Vec<Problem>,
}

/// Reads an XLSForm workbook (.xlsx; .xls and .ods too). The form id comes
/// from the settings sheet's `form_id`, or else from `file_name` (its stem).
pub fn import_named(bytes: &[u8], file_name: Option<&str>) -> Result<Imported, Vec<Problem>> {
    let book = Workbook::open(bytes)?;
    let Some(survey) = book.table("survey") else {
        return Err(vec![Problem::sheet(
            "survey",
            "缺少 survey 工作表：XLSForm 的题目写在名为 survey 的工作表中",
            "there is no 'survey' sheet: an XLSForm lists its questions on a sheet named survey",
        )]);
    };
    let choices = book.table("choices");
    let settings = book.table("settings");
    let mut cx = Importer {
        survey: &survey,
        problems: Vec::new(),
        notes: Vec::new(),
        lists: BTreeMap::new(),
        names: HashMap::new(),
        ambiguous: HashMap::new(),
        rows: HashMap::new(),
        groups: HashMap::new(),
        skipped: HashMap::new(),
        field_rows: HashMap::new(),
    };
    for column in ["type", "name"] {
        if survey.header(column).is_none() {
            cx.problems.push(Problem::sheet(
                "survey",
                format!("survey 表缺少“{column}”列：第一行应是列名 type、name、label 等"),
                format!("the survey sheet has no '{column}' column: its first row names the columns (type, name, label ...)"),
            ));
        }
    }
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    let head = settings
        .as_ref()
        .map(|s| cx.settings(s, file_name))
        .unwrap_or_else(|| cx.settings_default(file_name));
    if let Some(c) = &choices {
        cx.choices(c);
    }
    let tree = cx.structure();
    cx.collect_names(&tree, None, None);
    let sections = cx.sections(&tree, &head.title, choices.is_some());
    let summary = cx.summary(&head);
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    let def = FormDef {
        form_id: FormId::new(head.form_id.clone()),
        version: head.version,
        title: head.title,
        description: head.description,
        summary,
        choice_lists: cx.lists.into_iter().map(|(k, v)| (k, v.choices)).collect(),
        sections,
        roles: head.roles,
        retired: false,
    };
    match Form::compile(def.clone()) {
        Ok(_) => Ok(Imported {
            form: def,
            notes: cx.notes,
        }),
        Err(e) => {
            let field = e
                .field
                .as_deref()
                .map(|f| f.rsplit("[].").next().unwrap_or(f).to_owned());
            let row = field.as_ref().and_then(|f| cx.field_rows.get(f)).copied();
            let (zh, en) = (
                format!("Beatbook 不接受该表单：{e}"),
                format!("Beatbook refuses the form: {e}"),
            );
            Err(vec![match row {
                Some(r) => Problem::row("survey", r, zh, en),
                None => Problem::sheet("survey", zh, en),
            }])
        }
    }
}

/// A choice list with the row where it starts, for messages.
struct List {
    row: u32,
    choices: Vec<Choice>,
}

/// What a `${name}` may refer to.
#[derive(Debug, Clone)]
struct Name {
    beatbook: String,
    row: u32,
    /// The Beatbook name of the repeat the field is inside, if any.
    repeat: Option<String>,
}

/// The survey's structure: questions, and groups or repeats holding more.
#[derive(Debug)]
enum Item {
    Question(usize, QType),
    Group {
        begin: usize,
        repeat: bool,
        children: Vec<Item>,
    },
}

struct Head {
    form_id: String,
    version: u32,
    title: Text,
    description: Option<Text>,
    summary: Option<(String, u32, Option<Column>)>,
    roles: Option<Vec<Role>>,
}

struct Importer<'a> {
    survey: &'a Table,
    problems: Vec<Problem>,
    notes: Vec<Problem>,
    lists: BTreeMap<String, List>,
    names: HashMap<String, Name>,
    /// Names used by several questions (in different groups), with their rows.
    ambiguous: HashMap<String, Vec<u32>>,
    /// Each question's name, by its survey row.
    rows: HashMap<u32, Name>,
    /// Group names (sections), by name as written.
    groups: HashMap<String, String>,
    /// Metadata rows skipped, by name, with their type.
    skipped: HashMap<String, String>,
    /// The survey row of each Beatbook field name, for Beatbook's own refusals.
    field_rows: HashMap<String, u32>,
}

/// A Beatbook name for an XLSForm name: lower-case snake_case
/// (`respondentName` → `respondent_name`, `hh-size` → `hh_size`).
pub(crate) fn beatbook_name(raw: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in raw.trim().chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let trimmed = out.trim_matches('_');
    match trimmed.chars().next() {
        Some('a'..='z') => trimmed.to_owned(),
        Some(_) => format!("f_{trimmed}"),
        None => String::new(),
    }
}

fn yes_no(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "yes" | "true" | "true()" | "1" | "y" | "是" => Some(true),
        "" | "no" | "false" | "false()" | "0" | "n" | "否" => Some(false),
        _ => None,
    }
}

fn and(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("({a}) && ({b})")),
        (a, b) => a.or(b),
    }
}

/// Parameters ODK defines that change only how a question is shown or captured.
const ODK_PARAMETERS: &[&str] = &[
    "max-pixels",
    "randomize",
    "seed",
    "capture-accuracy",
    "warning-accuracy",
    "allow-mock-accuracy",
    "quality",
    "step",
    "start",
    "end",
    "tick_interval",
    "tick_labelset",
    "placeholder",
    "value",
    "label",
    "app",
];

impl Importer<'_> {
    fn cell_problem(
        &mut self,
        row: &Row,
        column: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) {
        let column = self
            .survey
            .get(row, column)
            .1
            .or_else(|| self.survey.column(column));
        self.problems.push(match column {
            Some(c) => Problem::cell("survey", row.number, c, zh, en),
            None => Problem::row("survey", row.number, zh, en),
        });
    }
}

/// A form id from a file name: its stem as a Beatbook name.
fn stem_id(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    beatbook_name(stem)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("age", "age")]
    #[case("respondentName", "respondent_name")]
    #[case("HH-size", "hh_size")]
    #[case("Q1.a", "q1_a")]
    #[case("_hidden", "hidden")]
    #[case("1st", "f_1st")]
    fn names_become_snake_case(#[case] raw: &str, #[case] want: &str) {
        assert_eq!(beatbook_name(raw), want);
    }
}
