//! Each supported XLSForm construct, in one workbook the test writes itself,
//! read into the Beatbook form it stands for; the form then validates records
//! the way the workbook meant.

mod common;

use beatbook_schema::form::{
    Constraint, DefaultValue, Derivation, DeviceFact, FieldKind, Form, FormDef, IdPart,
    ValidationContext, Values,
};
use beatbook_schema::problem::ProblemCode;
use beatbook_schema::text::Text;
use chrono::NaiveDate;
use common::{located, workbook};
use serde_json::json;

const HEADER: &[&str] = &[
    "type",
    "name",
    "label::Chinese (zh)",
    "label::English (en)",
    "hint::Chinese (zh)",
    "hint::English (en)",
    "required",
    "relevant",
    "constraint",
    "constraint_message::Chinese (zh)",
    "constraint_message::English (en)",
    "default",
    "read_only",
    "calculation",
    "appearance",
    "parameters",
];

/// One survey row: type, name, zh, en, then (column, value) pairs.
fn row(cells: &[(&str, &'static str)]) -> Vec<&'static str> {
    HEADER
        .iter()
        .map(|h| cells.iter().find(|(c, _)| c == h).map_or("", |(_, v)| *v))
        .collect()
}

fn q(
    kind: &'static str,
    name: &'static str,
    zh: &'static str,
    en: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("type", kind),
        ("name", name),
        ("label::Chinese (zh)", zh),
        ("label::English (en)", en),
    ]
}

fn with(
    mut base: Vec<(&'static str, &'static str)>,
    more: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    base.extend_from_slice(more);
    base
}

fn household_workbook() -> Vec<u8> {
    let rows: Vec<Vec<(&str, &str)>> = vec![
        vec![("type", "start"), ("name", "started")],
        q("begin group", "household", "住户", "Household"),
        with(
            q("text", "headName", "户主姓名", "Head's name"),
            &[
                ("hint::Chinese (zh)", "填写全名"),
                ("hint::English (en)", "Full name"),
                ("required", "yes"),
            ],
        ),
        with(
            q("text", "head_id", "身份证号", "ID number"),
            &[
                ("appearance", "citizen-id"),
                ("parameters", "allow_legacy=yes"),
            ],
        ),
        with(
            q("integer", "head_age", "年龄", "Age"),
            &[
                ("calculation", "id-part(${head_id}, 'age')"),
                ("read_only", "yes"),
            ],
        ),
        with(
            q("text", "phone", "电话", "Phone"),
            &[
                ("appearance", "phone"),
                ("parameters", "allow_landline=yes"),
            ],
        ),
        with(
            q("text", "credit", "信用代码", "Credit code"),
            &[("appearance", "credit-code")],
        ),
        with(
            q("text", "address", "地址", "Address"),
            &[("appearance", "address")],
        ),
        with(
            q("text", "house", "房屋", "House"),
            &[("appearance", "record"), ("parameters", "form=house")],
        ),
        with(
            q("integer", "members", "人数", "Members"),
            &[
                ("required", "yes"),
                ("constraint", ". >= 1 and . <= 20"),
                ("constraint_message::Chinese (zh)", "1 到 20 人"),
                ("constraint_message::English (en)", "1 to 20 people"),
                ("default", "1"),
            ],
        ),
        with(
            q("decimal", "area", "面积", "Area"),
            &[("parameters", "min=1 max=1000.5")],
        ),
        with(
            q("date", "visit_date", "走访日期", "Visit date"),
            &[
                ("default", "today()"),
                ("constraint", ". <= today()"),
                ("parameters", "not_future=yes"),
            ],
        ),
        q("datetime", "seen_at", "时间", "Seen at"),
        with(
            q("select_one yes_no", "rented", "是否出租", "Rented"),
            &[("default", "no")],
        ),
        with(
            q("date", "rent_start", "起租日期", "Rent start"),
            &[("relevant", "${rented} = 'yes'")],
        ),
        with(
            q(
                "select_multiple issues or_other",
                "issues",
                "问题",
                "Issues",
            ),
            &[("constraint", "count-selected(.) <= 2")],
        ),
        with(
            q("note", "fire_note", "请拍照", "Take a photo of it"),
            &[("relevant", "selected(${issues}, 'fire')")],
        ),
        with(
            q("text", "plate", "车牌", "Plate"),
            &[(
                "constraint",
                "regex(., '^[A-Z]\\d{5}$') and string-length(.) = 6",
            )],
        ),
        q("geopoint", "location", "位置", "Location"),
        with(
            q("image", "photos", "照片", "Photos"),
            &[("parameters", "max=3")],
        ),
        vec![
            ("type", "calculate"),
            ("name", "household_size"),
            ("calculation", "${members} + 1"),
        ],
        vec![("type", "end group")],
        with(
            q("begin repeat", "residents", "居民", "Residents"),
            &[("parameters", "max=5")],
        ),
        with(
            q("text", "resident_name", "姓名", "Name"),
            &[("required", "yes")],
        ),
        with(
            q("integer", "rent_paid", "租金", "Rent"),
            &[("relevant", "${rented} = 'yes' and ${resident_name} != ''")],
        ),
        vec![("type", "end repeat")],
        with(
            q("text", "remark", "备注", "Remark"),
            &[("appearance", "multiline"), ("parameters", "max_len=200")],
        ),
    ];
    let survey: Vec<Vec<&str>> = std::iter::once(HEADER.to_vec())
        .chain(rows.iter().map(|r| row(r)))
        .collect();
    let survey: Vec<&[&str]> = survey.iter().map(Vec::as_slice).collect();
    workbook(&[
        ("survey", &survey),
        (
            "choices",
            &[
                &[
                    "list_name",
                    "name",
                    "label::Chinese (zh)",
                    "label::English (en)",
                ],
                &["yes_no", "yes", "是", "Yes"],
                &["yes_no", "no", "否", "No"],
                &["issues", "fire", "消防", "Fire"],
                &["issues", "exit", "出口", "Exit"],
            ],
        ),
        (
            "settings",
            &[
                &[
                    "form_id",
                    "version",
                    "form_title::Chinese (zh)",
                    "form_title::English (en)",
                    "summary",
                ],
                &[
                    "household_check",
                    "2026113001",
                    "住户核查",
                    "Household check",
                    "headName members",
                ],
            ],
        ),
    ])
}

fn imported() -> (FormDef, Vec<String>) {
    let i = beatbook_xlsform::import_named(&household_workbook(), None)
        .unwrap_or_else(|p| panic!("imports:\n{}", located(&p).join("\n")));
    (i.form, located(&i.notes))
}

fn field<'a>(def: &'a FormDef, name: &str) -> &'a beatbook_schema::form::Field {
    def.sections
        .iter()
        .flat_map(|s| s.fields.iter())
        .flat_map(|f| match &f.kind {
            FieldKind::Repeat { fields, .. } => {
                std::iter::once(f).chain(fields.iter()).collect::<Vec<_>>()
            }
            _ => vec![f],
        })
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

#[test]
fn settings_give_id_version_title_and_summary() {
    let (def, notes) = imported();
    assert_eq!(def.form_id.as_str(), "household_check");
    assert_eq!(def.version, 2026113001);
    assert_eq!(def.title, Text::new("住户核查", "Household check"));
    assert_eq!(def.summary, ["head_name", "members"], "names in snake_case");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("survey 2 -: metadata 'start' skipped")),
        "{notes:?}"
    );
}

#[test]
fn groups_become_sections_and_loose_questions_their_own() {
    let (def, _) = imported();
    let ids: Vec<_> = def.sections.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["household", "section_2"]);
    assert_eq!(def.sections[0].title, Text::new("住户", "Household"));
    assert_eq!(
        def.sections[1].title, def.title,
        "a section outside groups is titled like the form"
    );
    let names: Vec<_> = def.sections[1]
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["residents", "remark"]);
}

#[test]
fn types_appearances_and_parameters_become_kinds() {
    let (def, _) = imported();
    let kind = |n: &str| field(&def, n).kind.clone();
    assert_eq!(kind("head_id"), FieldKind::CitizenId { allow_legacy: true });
    assert_eq!(
        kind("phone"),
        FieldKind::Phone {
            allow_landline: true
        }
    );
    assert_eq!(kind("credit"), FieldKind::CreditCode);
    assert_eq!(kind("address"), FieldKind::AddressRef);
    assert_eq!(
        kind("house"),
        FieldKind::RecordRef {
            form: "house".into()
        }
    );
    assert_eq!(
        kind("area"),
        FieldKind::Decimal {
            min: Some(1.0),
            max: Some(1000.5),
            unit: None
        }
    );
    assert_eq!(kind("visit_date"), FieldKind::Date { not_future: true });
    assert_eq!(kind("seen_at"), FieldKind::Datetime);
    assert_eq!(
        kind("rented"),
        FieldKind::SingleChoice {
            list: "yes_no".into()
        }
    );
    assert_eq!(kind("location"), FieldKind::Geopoint);
    assert_eq!(kind("photos"), FieldKind::Photo { min: 0, max: 3 });
    assert_eq!(kind("fire_note"), FieldKind::Note);
    assert_eq!(
        kind("remark"),
        FieldKind::Text {
            max_len: Some(200),
            multiline: true
        }
    );
    match kind("residents") {
        FieldKind::Repeat {
            fields,
            min: 0,
            max: Some(5),
            ..
        } => {
            assert_eq!(
                fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
                ["resident_name", "rent_paid"]
            );
        }
        other => panic!("residents is {other:?}"),
    }
    let head = field(&def, "head_name");
    assert!(head.required);
    assert_eq!(head.hint, Some(Text::new("填写全名", "Full name")));
}

#[test]
fn or_other_adds_the_choice_and_a_text_for_it() {
    let (def, _) = imported();
    assert_eq!(
        field(&def, "issues").kind,
        FieldKind::MultiChoice {
            list: "issues_or_other".into(),
            min: None,
            max: None
        }
    );
    let values: Vec<_> = def.choice_lists["issues_or_other"]
        .iter()
        .map(|c| c.value.as_str())
        .collect();
    assert_eq!(values, ["fire", "exit", "other"]);
    assert_eq!(
        def.choice_lists["issues"].len(),
        2,
        "the original list is left as it was"
    );
    let other = field(&def, "issues_other");
    assert_eq!(other.relevant.as_deref(), Some("selected(issues, 'other')"));
}

#[test]
fn expressions_are_translated_to_beatbooks_language() {
    let (def, _) = imported();
    assert_eq!(
        field(&def, "rent_start").relevant.as_deref(),
        Some("rented == 'yes'")
    );
    assert_eq!(
        field(&def, "rent_paid").relevant.as_deref(),
        Some("rented == 'yes' and filled(resident_name)")
    );
    assert_eq!(
        field(&def, "fire_note").relevant.as_deref(),
        Some("selected(issues, 'fire')")
    );
    assert_eq!(
        field(&def, "members").constraint,
        Some(Constraint {
            expr: ". >= 1 and . <= 20".into(),
            message: Text::new("1 到 20 人", "1 to 20 people")
        })
    );
    assert_eq!(
        field(&def, "issues")
            .constraint
            .as_ref()
            .map(|c| c.expr.as_str()),
        Some("count(.) <= 2")
    );
    assert_eq!(
        field(&def, "plate")
            .constraint
            .as_ref()
            .map(|c| c.expr.as_str()),
        Some("regex(., '^[A-Z]\\\\d{5}$') and len(.) == 6")
    );
    assert!(
        field(&def, "plate")
            .constraint
            .as_ref()
            .is_some_and(|c| c.message.en.contains("Plate")),
        "a constraint without a message gets one naming the question"
    );
}

#[test]
fn calculations_defaults_and_derivations() {
    let (def, _) = imported();
    assert_eq!(
        field(&def, "head_age").derived,
        Some(Derivation::CitizenId {
            field: "head_id".into(),
            part: IdPart::Age
        })
    );
    let size = field(&def, "household_size");
    assert_eq!(
        size.derived,
        Some(Derivation::Calculate {
            expr: "members + 1".into()
        })
    );
    assert_eq!(
        size.kind,
        FieldKind::Text {
            max_len: None,
            multiline: false
        }
    );
    assert_eq!(
        field(&def, "members").default,
        Some(DefaultValue::Value(json!(1)))
    );
    assert_eq!(
        field(&def, "rented").default,
        Some(DefaultValue::Value(json!("no")))
    );
    assert_eq!(
        field(&def, "visit_date").default,
        Some(DefaultValue::Device(DeviceFact::Today))
    );
}

#[test]
fn the_imported_form_validates_records_as_the_workbook_meant() {
    let (def, _) = imported();
    let form = Form::compile(def).expect("compiles");
    let ctx = ValidationContext {
        today: NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
        attachments: &[],
        addresses: None,
    };
    let values = |v: serde_json::Value| -> Values { v.as_object().cloned().expect("object") };
    let ok = form
        .validate(
            &values(json!({
                "head_name": "张三", "members": 3, "rented": "no", "rent_start": "2026-01-01",
                "plate": "A12345", "issues": ["fire", "other"], "issues_other": "堆物",
                "residents": [{"resident_name": "李四", "rent_paid": 500}]
            })),
            &ctx,
        )
        .expect("valid");
    assert!(
        ok.get("rent_start").is_none(),
        "not rented: the rent start is dropped"
    );
    assert_eq!(ok["household_size"], json!("4"), "calculated");
    assert!(
        ok["residents"][0].get("rent_paid").is_none(),
        "the entry reads the top-level answer"
    );

    let errors = form
        .validate(
            &values(json!({"head_name": "张三", "members": 25, "plate": "a1", "issues": ["fire", "exit", "other"]})),
            &ctx,
        )
        .expect_err("invalid");
    let got: Vec<_> = errors.iter().map(|e| (e.path.as_str(), e.code)).collect();
    assert_eq!(
        got,
        [
            ("members", ProblemCode::ConstraintFailed),
            ("issues", ProblemCode::ConstraintFailed),
            ("plate", ProblemCode::ConstraintFailed),
        ]
    );
    assert_eq!(errors[0].message, Text::new("1 到 20 人", "1 to 20 people"));
}

#[test]
fn one_language_fills_both_and_unlabelled_languages_are_the_default() {
    let bytes = common::form(
        &[
            &[
                "type",
                "name",
                "label",
                "hint::English (en)",
                "hint::French (fr)",
            ],
            &["text", "a", "Name", "Full name", "Nom complet"],
        ],
        &[&["list_name", "name", "label"]],
    );
    let def = beatbook_xlsform::import(&bytes).expect("imports");
    let a = &def.sections[0].fields[0];
    assert_eq!(a.label, Text::new("Name", "Name"));
    assert_eq!(a.hint, Some(Text::new("Full name", "Full name")));
}

#[test]
fn older_column_spellings_are_understood() {
    let bytes = common::form(
        &[
            &[
                "Type",
                "Name",
                "label:English",
                "bind::jr:constraintMsg",
                "Constraint",
                "readonly",
            ],
            &["integer", "n", "Number", "at most 9", ". <= 9", "yes"],
        ],
        &[&["list name", "name", "label"]],
    );
    let imported = beatbook_xlsform::import_named(&bytes, None).expect("imports");
    let n = &imported.form.sections[0].fields[0];
    assert_eq!(n.label, Text::new("Number", "Number"));
    assert_eq!(
        n.constraint,
        Some(Constraint {
            expr: ". <= 9".into(),
            message: Text::new("at most 9", "at most 9")
        })
    );
    assert_eq!(
        located(&imported.notes),
        ["survey 2 -: read_only without a calculation was ignored: the answer stays editable in Beatbook"]
    );
}

#[test]
fn a_repeat_without_a_label_is_called_by_its_name() {
    let bytes = common::form(
        &[
            &["type", "name", "label"],
            &["begin repeat", "points", ""],
            &["geopoint", "point", "Point"],
            &["end repeat", "", ""],
        ],
        &[&["list_name", "name", "label"]],
    );
    let def = beatbook_xlsform::import(&bytes).expect("imports");
    let points = &def.sections[0].fields[0];
    assert_eq!(points.label, Text::new("points", "points"));
    assert!(
        matches!(&points.kind, FieldKind::Repeat { fields, .. } if fields[0].kind == FieldKind::Geopoint)
    );
}

#[test]
fn a_nested_group_adds_its_relevance_to_each_of_its_questions() {
    let bytes = common::form(
        &[
            &["type", "name", "label", "relevant"],
            &["begin group", "outer", "Outer", "${a} > 0"],
            &["integer", "a", "A", ""],
            &["begin group", "inner", "Inner", "${a} > 5"],
            &["text", "b", "B", "${a} < 9"],
            &["text", "c", "C", ""],
            &["end group", "", "", ""],
            &["end group", "", "", ""],
        ],
        &[&["list_name", "name", "label"]],
    );
    let def = beatbook_xlsform::import(&bytes).expect("imports");
    assert_eq!(
        def.sections.len(),
        1,
        "the inner group joins the outer section"
    );
    let s = &def.sections[0];
    assert_eq!(s.relevant.as_deref(), Some("a > 0"));
    let rel: Vec<_> = s
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.relevant.as_deref()))
        .collect();
    assert_eq!(
        rel,
        [
            ("a", None),
            ("b", Some("(a > 5) && (a < 9)")),
            ("c", Some("a > 5"))
        ]
    );
}
