//! Cells with a language of their own: expressions (relevant, constraint,
//! calculation), parameters and defaults.

use std::collections::HashMap;

use beatbook_schema::form::{DefaultValue, Derivation, DeviceFact, FieldKind, IdPart, TracePart};
use beatbook_schema::text::Text;
use serde_json::Value as Json;

use super::{Importer, ODK_PARAMETERS};
use crate::sheet::Row;
use crate::xpath;

impl Importer<'_> {
    /// Translates an expression cell read from `scope` (a repeat's name, or
    /// `None` at the top level); records a problem and returns `None` if it cannot.
    pub(super) fn expr(&mut self, row: &Row, column: &str, scope: Option<&str>) -> Option<String> {
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

    /// The `parameters` cell as `key=value` pairs; keys not in `allowed` are
    /// problems, except carry_forward and ODK's own display settings.
    pub(super) fn parameters(&mut self, row: &Row, allowed: &[&str]) -> HashMap<String, String> {
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

    pub(super) fn param_num(
        &mut self,
        row: &Row,
        params: &HashMap<String, String>,
        key: &str,
    ) -> Option<f64> {
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

    pub(super) fn param_u32(
        &mut self,
        row: &Row,
        params: &HashMap<String, String>,
        key: &str,
    ) -> Option<u32> {
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

    /// The `calculation` cell: Beatbook's derivations `id-part(${id}, 'gender')`,
    /// `address-part(${address}, 'road')` and `trace-part(${track},
    /// 'distance_m')`, or any expression.
    pub(super) fn calculation(
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
        for func in ["id-part(", "address-part(", "trace-part("] {
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
            if func == "address-part(" {
                return Some(Derivation::Address { field, part });
            }
            if func == "trace-part(" {
                return match serde_json::from_value::<TracePart>(Json::String(part.clone())) {
                    Ok(part) => Some(Derivation::Geotrace { field, part }),
                    Err(_) => {
                        self.cell_problem(
                            row,
                            "calculation",
                            format!("轨迹没有“{part}”这一部分；可用：distance_m、duration_min、start、end"),
                            format!("a track has no part '{part}'; use distance_m, duration_min, start or end"),
                        );
                        None
                    }
                };
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

    pub(super) fn default(&mut self, row: &Row, kind: &FieldKind) -> Option<DefaultValue> {
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
            | FieldKind::Geopoint
            | FieldKind::Geotrace => {
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
