//! The settings sheet: the form's id, version, title, description, summary
//! and roles.

use beatbook_schema::role::Role;
use beatbook_schema::text::Text;

use super::{beatbook_name, stem_id, Head, Importer};
use crate::problem::Problem;
use crate::sheet::{Row, Table};

impl Importer<'_> {
    pub(super) fn settings_default(&mut self, file_name: Option<&str>) -> Head {
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
            roles: None,
        }
    }

    pub(super) fn settings(&mut self, s: &Table, file_name: Option<&str>) -> Head {
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
        let roles = self.roles(s, row);
        Head {
            form_id,
            version,
            title,
            description: s.text(row, "description"),
            summary,
            roles,
        }
    }

    /// Beatbook's own `roles` column: who may enter the form, space-separated
    /// (officer auxiliary supervisor admin); empty, the standard rule
    /// ([`beatbook_schema::audience::may_enter`]).
    fn roles(&mut self, s: &Table, row: &Row) -> Option<Vec<Role>> {
        let (raw, column) = s.get(row, "roles");
        if raw.trim().is_empty() {
            return None;
        }
        let mut roles = Vec::new();
        for name in raw.split(|c: char| c.is_whitespace() || c == ',') {
            if name.is_empty() {
                continue;
            }
            match Role::named(name) {
                Some(role) if !roles.contains(&role) => roles.push(role),
                Some(_) => {}
                None => {
                    let (zh, en) = (
                        format!("roles 中的“{name}”不是角色：请填写 officer、auxiliary、supervisor 或 admin，以空格分隔"),
                        format!("roles names '{name}', which is not a role: write officer, auxiliary, supervisor or admin, separated by spaces"),
                    );
                    self.problems.push(match &column {
                        Some(c) => Problem::cell("settings", row.number, c.clone(), zh, en),
                        None => Problem::row("settings", row.number, zh, en),
                    });
                }
            }
        }
        Some(roles)
    }

    pub(super) fn summary(&mut self, head: &Head) -> Vec<String> {
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
}
