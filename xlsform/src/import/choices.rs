//! The choices sheet, and the list a select question names (with `or_other`).

use beatbook_schema::form::Choice;
use beatbook_schema::text::Text;

use super::{Importer, List};
use crate::problem::Problem;
use crate::sheet::{Row, Table};

impl Importer<'_> {
    pub(super) fn choices(&mut self, c: &Table) {
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

    pub(super) fn choice_list(
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
}
