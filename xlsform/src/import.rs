//! Reading an XLSForm workbook into a Beatbook form definition.
//!
//! Three passes over the survey sheet: the structure (groups and repeats
//! balanced), the names (each field's Beatbook name, unique, and where it may
//! be read from), then the fields themselves. Every problem found on the way
//! is collected; the definition is returned only when there are none and
//! Beatbook's own form check accepts it.

use std::collections::{BTreeMap, HashMap};

use beatbook_schema::form::{
    Choice, Constraint, DefaultValue, Derivation, DeviceFact, Field, FieldKind, Form, FormDef,
    IdPart, Section,
};
use beatbook_schema::ids::FormId;
use beatbook_schema::text::Text;
use serde_json::Value as Json;

use crate::problem::{Column, Problem};
use crate::sheet::{Row, Table, Workbook};
use crate::types::{self, QType, RowType};
use crate::xpath;

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

    fn settings_default(&mut self, file_name: Option<&str>) -> Head {
        let form_id = file_name.map(stem_id).unwrap_or_default();
        if form_id.is_empty() {
            self.problems.push(Problem::sheet(
                "settings",
                "缺少 settings 工作表及其 form_id：请添加 settings 表，填写 form_id（小写英文字母、数字和下划线）",
                "there is no settings sheet to give the form_id: add a settings sheet with a form_id column (lowercase letters, digits, _)",
            ));
        }
        Head {
            title: Text::new(form_id.clone(), form_id.clone()),
            form_id,
            version: 1,
            description: None,
            summary: None,
        }
    }

    fn settings(&mut self, s: &Table, file_name: Option<&str>) -> Head {
        let Some(row) = s.rows.first() else {
            return self.settings_default(file_name);
        };
        let raw_id = s.value(row, "form_id");
        let form_id = if raw_id.is_empty() {
            file_name.map(stem_id).unwrap_or_default()
        } else {
            beatbook_name(raw_id)
        };
        if form_id.is_empty() {
            self.problems.push(Problem::sheet(
                "settings",
                "settings 表缺少 form_id：请填写表单编号（小写英文字母、数字和下划线）",
                "the settings sheet has no form_id: fill one in (lowercase letters, digits, _)",
            ));
        }
        let (raw_version, version_col) = s.get(row, "version");
        let version = if raw_version.is_empty() {
            1
        } else {
            match raw_version.parse::<u32>() {
                Ok(v) if v >= 1 => v,
                _ => {
                    let (zh, en) = (
                        format!("版本号“{raw_version}”不是整数，已按版本 1 导入：如需指定版本，请填写 1 到 4294967295 之间的整数（如 2026113001）"),
                        format!("version '{raw_version}' is not a whole number, so the form was imported as version 1: to choose the version write a whole number from 1 to 4294967295 (e.g. 2026113001)"),
                    );
                    self.notes.push(match version_col {
                        Some(c) => Problem::cell("settings", row.number, c, zh, en),
                        None => Problem::row("settings", row.number, zh, en),
                    });
                    1
                }
            }
        };
        let title = s
            .text(row, "form_title")
            .unwrap_or_else(|| Text::new(form_id.clone(), form_id.clone()));
        let summary = {
            let (v, c) = s.get(row, "summary");
            (!v.is_empty()).then(|| (v.to_owned(), row.number, c))
        };
        Head {
            form_id,
            version,
            title,
            description: s.text(row, "description"),
            summary,
        }
    }

    fn summary(&mut self, head: &Head) -> Vec<String> {
        let Some((raw, row, column)) = &head.summary else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in raw.split_whitespace() {
            let name = name.trim_start_matches("${").trim_end_matches('}');
            match self.names.get(name) {
                Some(n) if n.repeat.is_none() => out.push(n.beatbook.clone()),
                _ => {
                    let (zh, en) = (
                        format!("summary 中的“{name}”不是表单顶层的字段：请填写 survey 表 name 列中的名称"),
                        format!("summary names '{name}', which is not a field outside repeats: use names from the survey's name column"),
                    );
                    self.problems.push(match column {
                        Some(c) => Problem::cell("settings", *row, c.clone(), zh, en),
                        None => Problem::row("settings", *row, zh, en),
                    });
                }
            }
        }
        out
    }

    fn choices(&mut self, c: &Table) {
        for column in ["list_name", "name"] {
            if c.header(column).is_none() {
                self.problems.push(Problem::sheet(
                    "choices",
                    format!("choices 表缺少“{column}”列"),
                    format!("the choices sheet has no '{column}' column: its first row names the columns list_name, name, label"),
                ));
                return;
            }
        }
        for row in &c.rows {
            let (list, list_col) = c.get(row, "list_name");
            let (value, value_col) = c.get(row, "name");
            if list.is_empty() || value.is_empty() {
                let (col, what) = if list.is_empty() {
                    (list_col, "list_name")
                } else {
                    (value_col, "name")
                };
                if let Some(col) = col {
                    self.problems.push(Problem::cell(
                        "choices",
                        row.number,
                        col,
                        format!("该选项缺少 {what}"),
                        format!("this choice has no {what}: fill it in or delete the row"),
                    ));
                }
                continue;
            }
            let label = c
                .text(row, "label")
                .unwrap_or_else(|| Text::new(value, value));
            let entry = self.lists.entry(list.to_owned()).or_insert(List {
                row: row.number,
                choices: Vec::new(),
            });
            if entry.choices.iter().any(|ch| ch.value == value) {
                if let Some(col) = value_col {
                    self.problems.push(Problem::cell(
                        "choices",
                        row.number,
                        col,
                        format!("列表“{list}”中选项值“{value}”重复：每个值在列表内只能出现一次"),
                        format!("list '{list}' already has a choice '{value}': each value appears once per list"),
                    ));
                }
                continue;
            }
            entry.choices.push(Choice {
                value: value.to_owned(),
                label,
            });
        }
    }

    /// Pass 1: groups and repeats, balanced.
    fn structure(&mut self) -> Vec<Item> {
        let survey = self.survey;
        let mut stack: Vec<(usize, bool, Vec<Item>)> = Vec::new();
        let mut root = Vec::new();
        for (i, row) in survey.rows.iter().enumerate() {
            let raw = survey.value(row, "type");
            if raw.is_empty() {
                self.notes.push(Problem::row(
                    "survey",
                    row.number,
                    "此行没有 type，已跳过",
                    "this row has no type and was skipped",
                ));
                continue;
            }
            let item = match types::parse(raw) {
                RowType::BeginGroup | RowType::BeginRepeat => {
                    stack.push((
                        i,
                        matches!(types::parse(raw), RowType::BeginRepeat),
                        Vec::new(),
                    ));
                    continue;
                }
                end @ (RowType::EndGroup | RowType::EndRepeat) => {
                    let repeat = end == RowType::EndRepeat;
                    let what = if repeat { "repeat" } else { "group" };
                    match stack.pop() {
                        Some((begin, r, children)) if r == repeat => Item::Group {
                            begin,
                            repeat,
                            children,
                        },
                        Some((begin, r, children)) => {
                            let open = if r { "repeat" } else { "group" };
                            let begin_row = survey.rows[begin].number;
                            self.cell_problem(
                                row,
                                "type",
                                format!("end {what} 与第 {begin_row} 行的 begin {open} 不配对：请改为 end {open}"),
                                format!("end {what} closes the begin {open} of row {begin_row}: write end {open}"),
                            );
                            Item::Group {
                                begin,
                                repeat: r,
                                children,
                            }
                        }
                        None => {
                            self.cell_problem(
                                row,
                                "type",
                                format!("end {what} 之前没有对应的 begin {what}：请删除此行或补上 begin {what}"),
                                format!("end {what} has no begin {what} before it: delete this row or add the begin {what}"),
                            );
                            continue;
                        }
                    }
                }
                RowType::Question(q) => Item::Question(i, q),
                RowType::Metadata(kind) => {
                    let name = survey.value(row, "name");
                    self.skipped.insert(name.to_owned(), kind.clone());
                    self.notes.push(Problem::row(
                        "survey",
                        row.number,
                        format!("元数据“{kind}”已跳过：Beatbook 自动记录每条记录的时间、民警和设备"),
                        format!("metadata '{kind}' skipped: Beatbook records the time, officer and device of every record itself"),
                    ));
                    continue;
                }
                RowType::Unsupported { zh, en } => {
                    self.cell_problem(row, "type", zh, en);
                    continue;
                }
            };
            match stack.last_mut() {
                Some((_, _, children)) => children.push(item),
                None => root.push(item),
            }
        }
        while let Some((begin, repeat, children)) = stack.pop() {
            let what = if repeat { "repeat" } else { "group" };
            let row = &survey.rows[begin];
            self.cell_problem(
                row,
                "type",
                format!(
                    "begin {what} 没有对应的 end {what}：请在该组最后一题之后加一行 end {what}"
                ),
                format!(
                    "begin {what} is never closed: add an end {what} row after its last question"
                ),
            );
            let item = Item::Group {
                begin,
                repeat,
                children,
            };
            match stack.last_mut() {
                Some((_, _, c)) => c.push(item),
                None => root.push(item),
            }
        }
        root
    }

    /// Pass 2: every field's Beatbook name, unique across the form. A name
    /// used again in another group (ODK allows it) is prefixed with its
    /// group's name; a reference to such a name is then ambiguous.
    fn collect_names(&mut self, items: &[Item], repeat: Option<&str>, group: Option<&str>) {
        let survey = self.survey;
        for item in items {
            let index = match item {
                Item::Question(i, _) => *i,
                Item::Group {
                    begin,
                    repeat: true,
                    ..
                } => *begin,
                Item::Group {
                    begin, children, ..
                } => {
                    let row = &survey.rows[*begin];
                    let raw = survey.value(row, "name");
                    let id = beatbook_name(raw);
                    if !raw.is_empty() {
                        self.groups.insert(raw.to_owned(), id.clone());
                        self.field_rows.entry(id.clone()).or_insert(row.number);
                    }
                    let inner = if id.is_empty() {
                        group
                    } else {
                        Some(id.as_str())
                    };
                    self.collect_names(children, repeat, inner);
                    continue;
                }
            };
            let row = &survey.rows[index];
            let raw = survey.value(row, "name");
            if raw.is_empty() {
                self.cell_problem(
                    row,
                    "name",
                    "此行缺少 name：每个题目都需要唯一的名称（英文字母、数字和下划线）",
                    "this row has no name: every question needs a unique name (letters, digits, _)",
                );
                continue;
            }
            let or_other = matches!(
                item,
                Item::Question(_, QType::Select { or_other: true, .. })
            );
            let taken_by = |me: &Self, name: &str| {
                me.rows
                    .values()
                    .find(|n| {
                        n.beatbook == name || (or_other && n.beatbook == format!("{name}_other"))
                    })
                    .map(|n| n.row)
            };
            let mut beatbook = beatbook_name(raw);
            if let Some(first) = taken_by(self, &beatbook) {
                let qualified = group.map(|g| format!("{g}_{beatbook}"));
                match qualified.filter(|q| taken_by(self, q).is_none()) {
                    Some(q) => {
                        self.notes.push(Problem::row(
                            "survey",
                            row.number,
                            format!("名称“{raw}”已在第 {first} 行使用，此题按“{q}”导入"),
                            format!("the name '{raw}' is already used on row {first}, so this question was imported as '{q}'"),
                        ));
                        beatbook = q;
                    }
                    None => self.cell_problem(
                        row,
                        "name",
                        format!("名称“{raw}”（即 {beatbook}）已在第 {first} 行使用：表单内名称不能重复"),
                        format!("the name '{raw}' (as {beatbook}) is already used on row {first}: names must be unique in the form"),
                    ),
                }
            }
            let name = Name {
                beatbook: beatbook.clone(),
                row: row.number,
                repeat: repeat.map(str::to_owned),
            };
            if let Some(earlier) = self.names.get(raw) {
                self.ambiguous
                    .entry(raw.to_owned())
                    .or_insert_with(|| vec![earlier.row])
                    .push(row.number);
            } else {
                self.names.insert(raw.to_owned(), name.clone());
            }
            self.rows.insert(row.number, name);
            self.field_rows.insert(beatbook.clone(), row.number);
            if let Item::Group { children, .. } = item {
                if repeat.is_some() {
                    self.cell_problem(
                        row,
                        "type",
                        "repeat 不能嵌套在另一个 repeat 中：请把内层 repeat 移到外面",
                        "a repeat inside another repeat is not supported: move the inner repeat out",
                    );
                }
                self.collect_names(children, Some(&beatbook), Some(&beatbook));
            }
        }
    }

    /// Translates an expression cell read from `scope` (a repeat's name, or
    /// `None` at the top level); records a problem and returns `None` if it cannot.
    fn expr(&mut self, row: &Row, column: &str, scope: Option<&str>) -> Option<String> {
        let src = self.survey.value(row, column);
        if src.is_empty() {
            return None;
        }
        let names = &self.names;
        let ambiguous = &self.ambiguous;
        let groups = &self.groups;
        let skipped = &self.skipped;
        let resolve = |name: &str| -> Result<String, Text> {
            if let Some(rows) = ambiguous.get(name) {
                let rows = rows
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Text::new(
                    format!("有多个题目名为“{name}”（第 {rows} 行）：请改名，使引用指向唯一的题目"),
                    format!("several questions are named '{name}' (rows {rows}): rename them so the reference names one"),
                ));
            }
            if let Some(n) = names.get(name) {
                return match (&n.repeat, scope) {
                    (Some(r), s) if s != Some(r.as_str()) => Err(Text::new(
                        format!("“{name}”在 repeat“{r}”之内，只有同一 repeat 内的题目能引用它"),
                        format!("'{name}' is inside the repeat '{r}': only questions of the same repeat can read it"),
                    )),
                    _ => Ok(n.beatbook.clone()),
                };
            }
            if let Some(kind) = skipped.get(name) {
                return Err(Text::new(
                    format!("“{name}”是元数据（{kind}），Beatbook 不把它作为字段保存：请删除该引用"),
                    format!("'{name}' is metadata ({kind}), which Beatbook does not keep as a field: remove the reference"),
                ));
            }
            if groups.contains_key(name) {
                return Err(Text::new(
                    format!("“{name}”是分组，不是题目"),
                    format!("'{name}' is a group, not a question"),
                ));
            }
            Err(Text::new(
                format!("没有名为“{name}”的题目：请核对 name 列中的拼写"),
                format!("there is no question named '{name}': check the spelling against the name column"),
            ))
        };
        match xpath::to_beatbook(src, &resolve) {
            Ok(out) => Some(out),
            Err(e) => {
                let at = src[..e.pos.min(src.len())].chars().count() + 1;
                self.cell_problem(
                    row,
                    column,
                    format!("表达式第 {at} 个字符处：{}", e.message.zh),
                    format!("at character {at} of the expression: {}", e.message.en),
                );
                None
            }
        }
    }

    /// Pass 3: the sections. Groups at the top level are sections; questions
    /// outside any group gather in sections titled like the form.
    fn sections(&mut self, items: &[Item], title: &Text, have_choices: bool) -> Vec<Section> {
        let survey = self.survey;
        let mut sections = Vec::new();
        let mut loose = Vec::new();
        let mut used_ids: Vec<String> = self.groups.values().cloned().collect();
        let mut flush = |loose: &mut Vec<Field>, sections: &mut Vec<Section>| {
            if loose.is_empty() {
                return;
            }
            let mut n = sections.len() + 1;
            let id = loop {
                let id = format!("section_{n}");
                if !used_ids.contains(&id) {
                    break id;
                }
                n += 1;
            };
            used_ids.push(id.clone());
            sections.push(Section {
                id,
                title: title.clone(),
                relevant: None,
                fields: std::mem::take(loose),
            });
        };
        for item in items {
            match item {
                Item::Group {
                    begin,
                    repeat: false,
                    children,
                } => {
                    flush(&mut loose, &mut sections);
                    let row = &survey.rows[*begin];
                    let raw = survey.value(row, "name");
                    let id = beatbook_name(raw);
                    if id.is_empty() {
                        self.cell_problem(
                            row,
                            "name",
                            "分组缺少 name",
                            "this group has no name: give it one (letters, digits, _)",
                        );
                    }
                    let relevant = self.expr(row, "relevant", None);
                    let title = survey
                        .text(row, "label")
                        .unwrap_or_else(|| Text::new(id.clone(), id.clone()));
                    let mut fields = Vec::new();
                    for child in children {
                        fields.extend(self.fields(child, None, None, have_choices));
                    }
                    sections.push(Section {
                        id,
                        title,
                        relevant,
                        fields,
                    });
                }
                other => loose.extend(self.fields(other, None, None, have_choices)),
            }
        }
        flush(&mut loose, &mut sections);
        sections
    }

    /// The Beatbook fields of one item: a question (two with or_other), a
    /// repeat, or a nested group's questions with its relevance added to theirs.
    fn fields(
        &mut self,
        item: &Item,
        scope: Option<&str>,
        inherited: Option<String>,
        have_choices: bool,
    ) -> Vec<Field> {
        let survey = self.survey;
        match item {
            Item::Question(i, q) => {
                self.question(&survey.rows[*i], q, scope, inherited, have_choices)
            }
            Item::Group {
                begin,
                repeat: false,
                children,
            } => {
                let row = &survey.rows[*begin];
                let own = self.expr(row, "relevant", scope);
                let relevant = and(inherited, own);
                children
                    .iter()
                    .flat_map(|c| self.fields(c, scope, relevant.clone(), have_choices))
                    .collect()
            }
            Item::Group {
                begin,
                repeat: true,
                children,
            } => {
                let row = &survey.rows[*begin];
                let Some(name) = self.rows.get(&row.number).cloned() else {
                    return Vec::new();
                };
                let inner: Vec<Field> = children
                    .iter()
                    .flat_map(|c| self.fields(c, Some(&name.beatbook), None, have_choices))
                    .collect();
                let mut field = self.common(row, &name.beatbook, scope, inherited);
                let params = self.parameters(row, &["min", "max"]);
                let (mut min, mut max) = (
                    self.param_u32(row, &params, "min").unwrap_or(0),
                    self.param_u32(row, &params, "max"),
                );
                let (count, _) = survey.get(row, "repeat_count");
                if !count.is_empty() {
                    match count.parse::<u32>() {
                        Ok(n) => {
                            min = n;
                            max = Some(n);
                        }
                        Err(_) => self.cell_problem(
                            row,
                            "repeat_count",
                            "repeat_count 只能是固定数字：请填写数字，或删除后用 parameters 的 min=/max= 限定条数",
                            "repeat_count can only be a fixed number here: write a number, or remove it and limit entries with parameters min=/max=",
                        ),
                    }
                }
                field.kind = FieldKind::Repeat {
                    fields: inner,
                    min,
                    max,
                    item_label: survey.text(row, "item_label"),
                };
                vec![field]
            }
        }
    }

    /// What every field has: label, hint, required, relevant, constraint, carry_forward.
    fn common(
        &mut self,
        row: &Row,
        name: &str,
        scope: Option<&str>,
        inherited: Option<String>,
    ) -> Field {
        let survey = self.survey;
        let mut hint = survey.text(row, "hint");
        let label = match survey.text(row, "label") {
            Some(l) => l,
            // A question with only a hint shows the hint as its text (as ODK does).
            None if hint.is_some() => hint.take().unwrap_or_else(|| Text::new(name, name)),
            None => {
                // A repeat, like a group, may go without one (ODK shows its name).
                let may_go_unlabelled = !survey.value(row, "calculation").is_empty()
                    || matches!(
                        types::parse(survey.value(row, "type")),
                        RowType::BeginRepeat
                    );
                let media = ["image", "audio", "video", "media"]
                    .iter()
                    .any(|m| survey.text(row, m).is_some());
                if media {
                    self.notes.push(Problem::row(
                        "survey",
                        row.number,
                        "此题只有图片或音视频标签，Beatbook 以名称代替显示",
                        "this question is labelled by a picture or sound only; Beatbook shows its name instead",
                    ));
                } else if !may_go_unlabelled {
                    self.cell_problem(
                        row,
                        "label",
                        "此题缺少 label：请填写题目文字（如 label::Chinese (zh) 与 label::English (en)）",
                        "this question has no label: write its text (e.g. in label::Chinese (zh) and label::English (en))",
                    );
                }
                Text::new(name, name)
            }
        };
        let (required_raw, _) = survey.get(row, "required");
        let required = match yes_no(required_raw) {
            Some(b) => b,
            None => {
                self.cell_problem(
                    row,
                    "required",
                    format!("required 只能填 yes 或留空（“{required_raw}”是条件式，Beatbook 不支持）：条件必填请改用 relevant"),
                    format!("required takes yes or nothing ('{required_raw}' is a condition, which Beatbook does not support): use relevant for conditions"),
                );
                false
            }
        };
        let own = self.expr(row, "relevant", scope);
        let relevant = and(inherited, own);
        let constraint = self.expr(row, "constraint", scope).map(|expr| Constraint {
            expr,
            message: survey.text(row, "constraint_message").unwrap_or_else(|| {
                Text::new(
                    format!(
                        "「{}」的取值不符合要求",
                        survey.text(row, "label").map_or(name.to_owned(), |l| l.zh)
                    ),
                    format!(
                        "“{}” is not allowed: check the value",
                        survey.text(row, "label").map_or(name.to_owned(), |l| l.en)
                    ),
                )
            }),
        });
        Field {
            name: name.to_owned(),
            label,
            hint,
            kind: FieldKind::Note,
            required,
            relevant,
            constraint,
            default: None,
            derived: None,
            carry_forward: false,
        }
    }

    fn question(
        &mut self,
        row: &Row,
        q: &QType,
        scope: Option<&str>,
        inherited: Option<String>,
        have_choices: bool,
    ) -> Vec<Field> {
        let survey = self.survey;
        let Some(name) = self.rows.get(&row.number).cloned() else {
            return Vec::new();
        };
        let mut field = self.common(row, &name.beatbook, scope, inherited);
        let appearance: Vec<String> = survey
            .value(row, "appearance")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let has = |a: &str| appearance.iter().any(|x| x == a);
        // Beatbook's own kinds on a text question, by appearance.
        let q = match q {
            QType::Text if has("citizen-id") => QType::CitizenId,
            QType::Text if has("credit-code") => QType::CreditCode,
            QType::Text if has("phone") => QType::Phone,
            QType::Text if has("address") => QType::AddressRef,
            QType::Text if has("record") => QType::RecordRef(None),
            other => other.clone(),
        };
        let allowed: &[&str] = match &q {
            QType::Text => &["max_len"],
            QType::Integer | QType::Decimal => &["min", "max"],
            QType::Range => &["start", "end", "step"],
            QType::Select { multiple: true, .. } | QType::Image => &["min", "max"],
            QType::Date => &["not_future"],
            QType::CitizenId => &["allow_legacy"],
            QType::Phone => &["allow_landline"],
            QType::RecordRef(_) => &["form"],
            _ => &[],
        };
        let params = self.parameters(row, allowed);
        field.carry_forward = params
            .get("carry_forward")
            .is_some_and(|v| yes_no(v) == Some(true));
        let flag = |k: &str| params.get(k).is_some_and(|v| yes_no(v) == Some(true));
        let mut extra = Vec::new();
        field.kind = match &q {
            QType::Text | QType::Calculate => FieldKind::Text {
                max_len: self.param_u32(row, &params, "max_len"),
                multiline: has("multiline"),
            },
            QType::Integer => FieldKind::Integer {
                min: self.param_num(row, &params, "min").map(|n| n as i64),
                max: self.param_num(row, &params, "max").map(|n| n as i64),
                unit: survey.text(row, "unit"),
            },
            QType::Decimal => FieldKind::Decimal {
                min: self.param_num(row, &params, "min"),
                max: self.param_num(row, &params, "max"),
                unit: survey.text(row, "unit"),
            },
            QType::Range => {
                let (start, end) = (
                    self.param_num(row, &params, "start"),
                    self.param_num(row, &params, "end"),
                );
                let step = self.param_num(row, &params, "step").unwrap_or(1.0);
                let whole = [start, end, Some(step)]
                    .iter()
                    .flatten()
                    .all(|n| n.fract() == 0.0);
                if whole {
                    FieldKind::Integer {
                        min: start.map(|n| n as i64),
                        max: end.map(|n| n as i64),
                        unit: survey.text(row, "unit"),
                    }
                } else {
                    FieldKind::Decimal {
                        min: start,
                        max: end,
                        unit: survey.text(row, "unit"),
                    }
                }
            }
            QType::Date => FieldKind::Date {
                not_future: flag("not_future"),
            },
            QType::Datetime => FieldKind::Datetime,
            QType::Select {
                multiple,
                list,
                or_other,
            } => {
                let list = self.choice_list(row, list, *multiple, *or_other, have_choices);
                if *or_other {
                    extra.push(Field {
                        name: format!("{}_other", name.beatbook),
                        label: Text::new("请注明其他", "Specify other"),
                        hint: None,
                        kind: FieldKind::Text {
                            max_len: None,
                            multiline: false,
                        },
                        required: false,
                        relevant: Some(format!("selected({}, 'other')", name.beatbook)),
                        constraint: None,
                        default: None,
                        derived: None,
                        carry_forward: false,
                    });
                }
                if *multiple {
                    FieldKind::MultiChoice {
                        list,
                        min: self.param_u32(row, &params, "min"),
                        max: self.param_u32(row, &params, "max"),
                    }
                } else {
                    FieldKind::SingleChoice { list }
                }
            }
            QType::Geopoint => FieldKind::Geopoint,
            QType::Image => FieldKind::Photo {
                min: self.param_u32(row, &params, "min").unwrap_or(0),
                max: self.param_u32(row, &params, "max").unwrap_or(1),
            },
            QType::Note => FieldKind::Note,
            QType::CitizenId => FieldKind::CitizenId {
                allow_legacy: flag("allow_legacy"),
            },
            QType::CreditCode => FieldKind::CreditCode,
            QType::Phone => FieldKind::Phone {
                allow_landline: flag("allow_landline"),
            },
            QType::AddressRef => FieldKind::AddressRef,
            QType::RecordRef(form) => {
                let form = form
                    .clone()
                    .or_else(|| params.get("form").cloned())
                    .unwrap_or_default();
                if form.is_empty() {
                    self.cell_problem(
                        row,
                        "parameters",
                        "记录引用需要指明表单：在 parameters 中写 form=house（或类型写 record_ref house）",
                        "a record reference needs its form: write form=house in parameters (or the type record_ref house)",
                    );
                }
                FieldKind::RecordRef {
                    form: FormId::new(form),
                }
            }
        };
        field.derived = self.calculation(row, scope, matches!(q, QType::Calculate));
        if field.derived.is_none() && yes_no(survey.value(row, "read_only")) == Some(true) {
            self.notes.push(Problem::row(
                "survey",
                row.number,
                "没有 calculation 的 read_only 已忽略：Beatbook 中该题仍可填写",
                "read_only without a calculation was ignored: the answer stays editable in Beatbook",
            ));
        }
        if !survey.value(row, "choice_filter").is_empty() {
            self.cell_problem(
                row,
                "choice_filter",
                "不支持 choice_filter（级联选择）：请为每种情况建一个列表，用 relevant 显示对应的题目",
                "choice_filter (cascading selects) is not supported: make one list per case and show the matching question with relevant",
            );
        }
        let raw_default = survey.value(row, "default").trim();
        let last_saved = raw_default
            .strip_prefix("${last-saved#")
            .and_then(|r| r.strip_suffix('}'));
        match last_saved {
            // ODK's "the value last saved" is Beatbook's carry-forward.
            Some(own) if own == survey.value(row, "name") => field.carry_forward = true,
            Some(other) => self.cell_problem(
                row,
                "default",
                format!("Beatbook 只能沿用本题上次保存的值：请写 ${{last-saved#{}}}，而不是“{other}”", survey.value(row, "name")),
                format!("Beatbook can only carry forward this question's own last value: write ${{last-saved#{}}} rather than '{other}'", survey.value(row, "name")),
            ),
            None => field.default = self.default(row, &field.kind),
        }
        let mut out = vec![field];
        out.extend(extra);
        out
    }

    fn choice_list(
        &mut self,
        row: &Row,
        list: &str,
        multiple: bool,
        or_other: bool,
        have_choices: bool,
    ) -> String {
        let Some(found) = self.lists.get(list).map(|l| (l.row, l.choices.clone())) else {
            if have_choices {
                self.cell_problem(
                    row,
                    "type",
                    format!("choices 表中没有列表“{list}”：请核对 list_name 列的拼写"),
                    format!("the choices sheet has no list '{list}': check the spelling against its list_name column"),
                );
            } else {
                self.cell_problem(
                    row,
                    "type",
                    format!("选择题需要 choices 工作表，其中列表“{list}”列出选项"),
                    format!("a select needs a 'choices' sheet listing the choices of '{list}'"),
                );
            }
            return list.to_owned();
        };
        let (list_row, found) = found;
        if multiple {
            if let Some(bad) = found.iter().find(|c| c.value.contains(char::is_whitespace)) {
                let value = bad.value.clone();
                self.cell_problem(
                    row,
                    "type",
                    format!("多选列表“{list}”（choices 表第 {list_row} 行起）的值“{value}”含空格：请改为下划线"),
                    format!("list '{list}' (choices from row {list_row}) has the value '{value}' with a space, which a select_multiple cannot store: use _ instead"),
                );
            }
        }
        if !or_other || found.iter().any(|c| c.value == "other") {
            return list.to_owned();
        }
        let name = format!("{list}_or_other");
        if !self.lists.contains_key(&name) {
            let mut choices = found;
            choices.push(Choice {
                value: "other".into(),
                label: Text::new("其他", "Other"),
            });
            self.lists.insert(
                name.clone(),
                List {
                    row: list_row,
                    choices,
                },
            );
        }
        name
    }

    /// The `parameters` cell as `key=value` pairs; keys not in `allowed` are
    /// problems, except carry_forward and ODK's own display settings.
    fn parameters(&mut self, row: &Row, allowed: &[&str]) -> HashMap<String, String> {
        let raw = self.survey.value(row, "parameters").to_owned();
        let mut out = HashMap::new();
        for pair in raw.split(|c: char| c.is_whitespace() || c == ';' || c == ',') {
            if pair.is_empty() {
                continue;
            }
            let Some((k, v)) = pair.split_once('=') else {
                self.cell_problem(
                    row,
                    "parameters",
                    format!("参数“{pair}”应写成 名称=值"),
                    format!("the parameter '{pair}' should read name=value"),
                );
                continue;
            };
            let k = k.trim().to_lowercase();
            if allowed.contains(&k.as_str()) || k == "carry_forward" {
                out.insert(k, v.trim().to_owned());
            } else if !ODK_PARAMETERS.contains(&k.as_str()) {
                let known = if allowed.is_empty() {
                    "carry_forward".to_owned()
                } else {
                    format!("{}, carry_forward", allowed.join(", "))
                };
                self.cell_problem(
                    row,
                    "parameters",
                    format!("此类题目没有参数“{k}”；可用：{known}"),
                    format!("this kind of question has no parameter '{k}'; it takes: {known}"),
                );
            }
        }
        out
    }

    fn param_num(&mut self, row: &Row, params: &HashMap<String, String>, key: &str) -> Option<f64> {
        let v = params.get(key)?;
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                self.cell_problem(
                    row,
                    "parameters",
                    format!("参数 {key}={v} 不是数字"),
                    format!("the parameter {key}={v} is not a number: write a number"),
                );
                None
            }
        }
    }

    fn param_u32(&mut self, row: &Row, params: &HashMap<String, String>, key: &str) -> Option<u32> {
        let v = params.get(key)?;
        match v.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.cell_problem(
                    row,
                    "parameters",
                    format!("参数 {key}={v} 不是非负整数"),
                    format!("the parameter {key}={v} is not a whole number of 0 or more"),
                );
                None
            }
        }
    }

    /// The `calculation` cell: Beatbook's derivations `id-part(${id}, 'gender')`
    /// and `address-part(${address}, 'road')`, or any expression.
    fn calculation(
        &mut self,
        row: &Row,
        scope: Option<&str>,
        required: bool,
    ) -> Option<Derivation> {
        let src = self.survey.value(row, "calculation").trim().to_owned();
        if src.is_empty() {
            if required {
                self.cell_problem(
                    row,
                    "calculation",
                    "calculate 题需要 calculation 表达式",
                    "a calculate row needs an expression in the calculation column",
                );
            }
            return None;
        }
        for (func, citizen) in [("id-part(", true), ("address-part(", false)] {
            let Some(args) = src.strip_prefix(func).and_then(|r| r.strip_suffix(')')) else {
                continue;
            };
            let parsed = args.split_once(',').and_then(|(f, p)| {
                let field = f.trim().strip_prefix("${")?.strip_suffix('}')?.trim();
                let part = p.trim().trim_matches(|c| c == '\'' || c == '"');
                Some((field.to_owned(), part.to_owned()))
            });
            let Some((source, part)) = parsed else {
                self.cell_problem(
                    row,
                    "calculation",
                    format!("{func}…) 应写成 {func}${{字段}}, '部分')"),
                    format!("write {func}${{field}}, 'part')"),
                );
                return None;
            };
            let field = match self.names.get(&source) {
                Some(n) => n.beatbook.clone(),
                None => {
                    self.cell_problem(
                        row,
                        "calculation",
                        format!("没有名为“{source}”的题目"),
                        format!("there is no question named '{source}': check the spelling against the name column"),
                    );
                    return None;
                }
            };
            if !citizen {
                return Some(Derivation::Address { field, part });
            }
            let part = match serde_json::from_value::<IdPart>(Json::String(part.clone())) {
                Ok(p) => p,
                Err(_) => {
                    self.cell_problem(
                        row,
                        "calculation",
                        format!("身份证号没有“{part}”这一部分；可用：gender、birth_date、age、division_code、division_name"),
                        format!("a citizen ID number has no part '{part}'; use gender, birth_date, age, division_code or division_name"),
                    );
                    return None;
                }
            };
            return Some(Derivation::CitizenId { field, part });
        }
        self.expr(row, "calculation", scope)
            .map(|expr| Derivation::Calculate { expr })
    }

    fn default(&mut self, row: &Row, kind: &FieldKind) -> Option<DefaultValue> {
        let raw = self.survey.value(row, "default").trim().to_owned();
        if raw.is_empty() {
            return None;
        }
        let fact = match raw.to_lowercase().as_str() {
            "today()" => Some(DeviceFact::Today),
            "now()" => Some(DeviceFact::Now),
            "location()" => Some(DeviceFact::Location),
            "officer()" => Some(DeviceFact::Officer),
            "grid()" => Some(DeviceFact::Grid),
            _ => None,
        };
        if let Some(f) = fact {
            return Some(DefaultValue::Device(f));
        }
        let mut bad = |zh: String, en: String| {
            self.cell_problem(row, "default", zh, en);
            None
        };
        if raw.contains("${") || raw.contains('(') {
            return bad(
                format!("默认值“{raw}”不是固定值：只能写固定值，或 today()、now()、location()、officer()、grid()"),
                format!("the default '{raw}' is not a fixed value: write a value, or one of today(), now(), location(), officer(), grid()"),
            );
        }
        let value = match kind {
            FieldKind::Integer { .. } => match raw.parse::<i64>() {
                Ok(n) => Json::from(n),
                Err(_) => {
                    return bad(
                        format!("默认值“{raw}”不是整数"),
                        format!("the default '{raw}' is not a whole number"),
                    )
                }
            },
            FieldKind::Decimal { .. } => match (raw.parse::<i64>(), raw.parse::<f64>()) {
                (Ok(n), _) => Json::from(n),
                (_, Ok(n)) if n.is_finite() => Json::from(n),
                _ => {
                    return bad(
                        format!("默认值“{raw}”不是数字"),
                        format!("the default '{raw}' is not a number"),
                    )
                }
            },
            FieldKind::MultiChoice { .. } => Json::from(raw.split_whitespace().collect::<Vec<_>>()),
            FieldKind::Note
            | FieldKind::Photo { .. }
            | FieldKind::Repeat { .. }
            | FieldKind::Geopoint => {
                return bad(
                    format!("此类题目不能有固定默认值（“{raw}”）"),
                    format!(
                        "this kind of question cannot have a fixed default ('{raw}'): remove it"
                    ),
                )
            }
            _ => Json::String(raw),
        };
        Some(DefaultValue::Value(value))
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
