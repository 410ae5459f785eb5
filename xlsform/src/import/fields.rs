//! Pass 3: sections and fields, with their expressions translated.

use beatbook_schema::form::{Constraint, Field, FieldKind, Section};
use beatbook_schema::ids::FormId;
use beatbook_schema::text::Text;

use super::{and, beatbook_name, yes_no, Importer, Item};
use crate::problem::Problem;
use crate::sheet::Row;
use crate::types::{self, QType, RowType};

impl Importer<'_> {
    /// Pass 3: the sections. Groups at the top level are sections; questions
    /// outside any group gather in sections titled like the form.
    pub(super) fn sections(
        &mut self,
        items: &[Item],
        title: &Text,
        have_choices: bool,
    ) -> Vec<Section> {
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
    pub(super) fn fields(
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
    pub(super) fn common(
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

    pub(super) fn question(
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
            QType::Geotrace => FieldKind::Geotrace,
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
}
