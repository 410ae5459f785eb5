//! Passes 1 and 2 over the survey: groups and repeats balanced, then every
//! question's Beatbook name.

use super::{beatbook_name, Importer, Item, Name};
use crate::problem::Problem;
use crate::types::{self, QType, RowType};

impl Importer<'_> {
    /// Pass 1: groups and repeats, balanced.
    pub(super) fn structure(&mut self) -> Vec<Item> {
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
    pub(super) fn collect_names(
        &mut self,
        items: &[Item],
        repeat: Option<&str>,
        group: Option<&str>,
    ) {
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
}
