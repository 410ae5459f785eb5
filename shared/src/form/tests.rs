//! Form loading and record validation, on small inline forms.

use chrono::NaiveDate;
use rstest::rstest;
use serde_json::{json, Value as Json};

use super::*;
use crate::ids::{RecordId, Sha256};
use crate::problem::ProblemCode;
use crate::validate::citizen_id;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

/// A valid ID for a Haimen man born 1985-06-15.
fn male_id() -> String {
    let first17 = "32061419850615001";
    format!("{first17}{}", citizen_id::check_char(first17).unwrap())
}

fn house_form() -> Form {
    Form::from_json(
        &json!({
            "form_id": "house", "version": 1,
            "title": {"zh": "实有房屋", "en": "House"},
            "summary": ["owner_name"],
            "choice_lists": {
                "use": [
                    {"value": "owner_occupied", "label": {"zh": "自住", "en": "Owner-occupied"}},
                    {"value": "rented", "label": {"zh": "出租", "en": "Rented"}},
                    {"value": "group_rented", "label": {"zh": "群租", "en": "Group-rented"}}
                ],
                "gender": [
                    {"value": "male", "label": {"zh": "男", "en": "Male"}},
                    {"value": "female", "label": {"zh": "女", "en": "Female"}}
                ]
            },
            "sections": [
                {"id": "basic", "title": {"zh": "基本", "en": "Basic"}, "fields": [
                    {"name": "use", "label": {"zh": "用途", "en": "Use"}, "kind": {"type": "single_choice", "list": "use"}, "required": true},
                    {"name": "owner_name", "label": {"zh": "房主姓名", "en": "Owner name"}, "kind": {"type": "text", "max_len": 10}, "required": true},
                    {"name": "owner_id", "label": {"zh": "房主身份证号", "en": "Owner ID"}, "kind": {"type": "citizen_id"}},
                    {"name": "owner_gender", "label": {"zh": "性别", "en": "Gender"}, "kind": {"type": "single_choice", "list": "gender"},
                     "derived": {"source": "citizen_id", "field": "owner_id", "part": "gender"}},
                    {"name": "owner_birth", "label": {"zh": "出生日期", "en": "Birth date"}, "kind": {"type": "date"},
                     "derived": {"source": "citizen_id", "field": "owner_id", "part": "birth_date"}},
                    {"name": "storeys", "label": {"zh": "层数", "en": "Storeys"}, "kind": {"type": "integer", "min": 1, "max": 200}},
                    {"name": "photos", "label": {"zh": "照片", "en": "Photos"}, "kind": {"type": "photo", "min": 0, "max": 2}}
                ]},
                {"id": "rental", "title": {"zh": "出租", "en": "Rental"}, "relevant": "use in ['rented', 'group_rented']", "fields": [
                    {"name": "rental_start", "label": {"zh": "起租日期", "en": "Rental start"}, "kind": {"type": "date"}},
                    {"name": "rental_end", "label": {"zh": "到期日期", "en": "Rental end"}, "kind": {"type": "date"},
                     "constraint": {"expr": ". >= rental_start", "message": {"zh": "到期日期不能早于起租日期", "en": "the end must not be before the start"}}},
                    {"name": "tenant_count", "label": {"zh": "租户人数", "en": "Tenants"}, "kind": {"type": "integer", "min": 1}, "required": true}
                ]},
                {"id": "people", "title": {"zh": "居民", "en": "Residents"}, "fields": [
                    {"name": "residents", "label": {"zh": "居民", "en": "Residents"}, "kind": {"type": "repeat", "min": 0, "max": 3, "fields": [
                        {"name": "name", "label": {"zh": "姓名", "en": "Name"}, "kind": {"type": "text"}, "required": true},
                        {"name": "id_number", "label": {"zh": "身份证号", "en": "ID number"}, "kind": {"type": "citizen_id", "allow_legacy": true}},
                        {"name": "gender", "label": {"zh": "性别", "en": "Gender"}, "kind": {"type": "single_choice", "list": "gender"},
                         "derived": {"source": "citizen_id", "field": "id_number", "part": "gender"}},
                        {"name": "permit", "label": {"zh": "居住证", "en": "Permit"}, "kind": {"type": "text"}, "relevant": "use == 'rented'"}
                    ]}}
                ]}
            ]
        })
        .to_string(),
    )
    .expect("test form loads")
}

fn ctx(attachments: &[Sha256]) -> ValidationContext<'_> {
    ValidationContext {
        today: today(),
        attachments,
        addresses: None,
    }
}

fn values(v: Json) -> Values {
    v.as_object().cloned().unwrap()
}

fn codes(errors: &[FieldError]) -> Vec<(&str, ProblemCode)> {
    errors.iter().map(|e| (e.path.as_str(), e.code)).collect()
}

#[test]
fn valid_record_is_normalized_and_derived() {
    let id_typed = male_id().replace("3206", "３２０６"); // full-width, as an IME types it
    let out = house_form()
        .validate(
            &values(json!({
                "use": "rented", "owner_name": " 张三 ", "owner_id": id_typed, "storeys": "6",
                "rental_start": "2026-01-01", "rental_end": "2026-12-31", "tenant_count": 4,
                "residents": [{"name": "李四", "id_number": male_id()}]
            })),
            &ctx(&[]),
        )
        .expect("valid");
    assert_eq!(out["owner_name"], "张三");
    assert_eq!(out["owner_id"], json!(male_id()));
    assert_eq!(out["owner_gender"], "male");
    assert_eq!(out["owner_birth"], "1985-06-15");
    assert_eq!(out["storeys"], 6);
    assert_eq!(out["residents"][0]["gender"], "male");
    // `permit` was not given, and is relevant (use == rented) but optional.
    assert!(out["residents"][0].get("permit").is_none());
}

#[test]
fn every_error_is_reported_at_once() {
    let errors = house_form()
        .validate(
            &values(json!({
                "owner_id": "32061419850615001X", "storeys": 0, "colour": "red",
                "use": "rented", "rental_start": "2026-05-01", "rental_end": "2026-04-01",
                "residents": [{"id_number": "320614850615001"}, {"name": "x"}, {"name": "y"}, {"name": "z"}]
            })),
            &ctx(&[]),
        )
        .expect_err("invalid");
    let mut got = codes(&errors);
    got.sort_by_key(|(p, c)| (p.to_string(), format!("{c:?}")));
    let mut want = vec![
        ("colour", ProblemCode::UnknownField),
        ("owner_id", ProblemCode::IdCheckChar),
        ("storeys", ProblemCode::TooSmall),
        ("owner_name", ProblemCode::Required),
        ("rental_end", ProblemCode::ConstraintFailed),
        ("tenant_count", ProblemCode::Required),
        ("residents", ProblemCode::TooMany),
        ("residents[0].name", ProblemCode::Required),
    ];
    want.sort_by_key(|(p, c)| (p.to_string(), format!("{c:?}")));
    assert_eq!(got, want, "{errors:#?}");
    let rental = errors.iter().find(|e| e.path == "rental_end").unwrap();
    assert_eq!(rental.message.zh, "到期日期不能早于起租日期");
}

#[test]
fn irrelevant_values_are_dropped_not_rejected() {
    let out = house_form()
        .validate(
            &values(json!({
                "use": "owner_occupied", "owner_name": "王五",
                "rental_end": "not even a date", "residents": [{"name": "a", "permit": "x"}]
            })),
            &ctx(&[]),
        )
        .expect("rental fields are irrelevant for an owner-occupied house");
    assert!(out.get("rental_end").is_none());
    assert!(out.get("tenant_count").is_none());
    assert!(out["residents"][0].get("permit").is_none());
}

#[test]
fn derived_values_are_recomputed_never_taken_as_typed() {
    let out = house_form()
        .validate(
            &values(json!({"use": "owner_occupied", "owner_name": "a", "owner_id": male_id(), "owner_gender": "female"})),
            &ctx(&[]),
        )
        .unwrap();
    assert_eq!(out["owner_gender"], "male");
}

#[test]
fn photos_must_be_attached() {
    let form = house_form();
    let h = Sha256::digest(b"photo");
    let base = json!({"use": "owner_occupied", "owner_name": "a"});
    let mut with_photo = values(base);
    with_photo.insert("photos".into(), json!([h.to_hex()]));
    assert!(form.validate(&with_photo, &ctx(&[h])).is_ok());
    let errors = form.validate(&with_photo, &ctx(&[])).unwrap_err();
    assert_eq!(codes(&errors), vec![("photos", ProblemCode::BadReference)]);
}

#[rstest]
#[case("storeys", json!("six"), ProblemCode::WrongType)]
#[case("storeys", json!(2.5), ProblemCode::WrongType)]
#[case("storeys", json!(201), ProblemCode::TooLarge)]
#[case("owner_name", json!("一二三四五六七八九十一"), ProblemCode::TooLong)]
#[case("owner_name", json!(12), ProblemCode::WrongType)]
#[case("rental_start", json!("2026-02-29"), ProblemCode::BadDate)]
#[case("owner_id", json!("32061419850615001"), ProblemCode::IdLength)]
#[case("photos", json!("abc"), ProblemCode::WrongType)]
#[case("residents", json!({"name": "a"}), ProblemCode::WrongType)]
fn bad_values_are_named(#[case] field: &str, #[case] value: Json, #[case] code: ProblemCode) {
    let mut v = values(json!({"use": "rented", "owner_name": "a", "tenant_count": 1}));
    v.insert(field.into(), value);
    let errors = house_form().validate(&v, &ctx(&[])).unwrap_err();
    assert_eq!(codes(&errors), vec![(field, code)]);
}

#[test]
fn a_choice_outside_the_list_is_refused() {
    // Checked by the compiled field list, not just the type.
    let v = values(json!({"use": "palace", "owner_name": "a"}));
    let errors = house_form().validate(&v, &ctx(&[])).unwrap_err();
    assert_eq!(codes(&errors), vec![("use", ProblemCode::NotAChoice)]);
}

#[rstest]
#[case(
    r#""relevant": "use = 'x'""#,
    "field 'owner_name': relevant expression 'use = 'x'' at position 4: use '==' to compare"
)]
#[case(r#""relevant": "colour == 'red'""#, "field 'owner_name': relevant expression 'colour == 'red'' at position 0: unknown field 'colour'")]
#[case(
    r#""derived": {"source": "citizen_id", "field": "use", "part": "gender"}"#,
    "field 'owner_name': derived from 'use', which is a single_choice field, not citizen_id"
)]
#[case(
    r#""derived": {"source": "citizen_id", "field": "nope", "part": "age"}"#,
    "derived from unknown field 'nope'"
)]
#[case(
    r#""derived": {"source": "calculate", "expr": "count(nope) + 1"}"#,
    "calculation expression 'count(nope) + 1' at position 6: unknown field 'nope'"
)]
#[case(
    r#""derived": {"source": "calculate", "expr": "if(use == 'x', 1)"}"#,
    "'if' takes 3 argument(s), got 2"
)]
fn load_errors_name_form_field_and_position(#[case] extra: &str, #[case] want: &str) {
    let json = format!(
        r#"{{"form_id": "t", "version": 1, "title": {{"zh": "t", "en": "t"}},
            "choice_lists": {{"l": [{{"value": "x", "label": {{"zh": "x", "en": "x"}}}}]}},
            "sections": [{{"id": "s", "title": {{"zh": "s", "en": "s"}}, "fields": [
                {{"name": "use", "label": {{"zh": "u", "en": "u"}}, "kind": {{"type": "single_choice", "list": "l"}}}},
                {{"name": "owner_name", "label": {{"zh": "n", "en": "n"}}, "kind": {{"type": "text"}}, {extra}}}
            ]}}]}}"#
    );
    let e = Form::from_json(&json).unwrap_err().to_string();
    assert!(e.contains("form t v1"), "{e}");
    assert!(e.contains(want), "{e}\n  wanted: {want}");
}

#[rstest]
#[case(
    r#"{"type": "single_choice", "list": "nope"}"#,
    "unknown choice list 'nope'"
)]
#[case(r#"{"type": "photo", "min": 3, "max": 1}"#, "make no sense")]
#[case(r#"{"type": "txt"}"#, "unknown variant `txt`")]
#[case(r#"{"type": "text", "maxlen": 3}"#, "unknown field `maxlen`")]
fn bad_kinds_are_load_errors(#[case] kind: &str, #[case] want: &str) {
    let json = format!(
        r#"{{"form_id": "t", "version": 1, "title": {{"zh": "t", "en": "t"}},
            "sections": [{{"id": "s", "title": {{"zh": "s", "en": "s"}}, "fields": [
                {{"name": "f", "label": {{"zh": "f", "en": "f"}}, "kind": {kind}}}
            ]}}]}}"#
    );
    let e = Form::from_json(&json).unwrap_err().to_string();
    assert!(e.contains(want), "{e}");
}

#[test]
fn definitions_round_trip_through_json() {
    let form = house_form();
    let json = serde_json::to_string(form.def()).unwrap();
    let again = Form::from_json(&json).unwrap();
    assert_eq!(again.def(), form.def());
}

#[test]
fn references_must_be_record_ids() {
    let form = Form::from_json(
        r#"{"form_id": "p", "version": 1, "title": {"zh": "p", "en": "p"},
            "sections": [{"id": "s", "title": {"zh": "s", "en": "s"}, "fields": [
                {"name": "house", "label": {"zh": "房屋", "en": "House"}, "kind": {"type": "record_ref", "form": "house"}}
            ]}]}"#,
    )
    .unwrap();
    let ok = values(json!({"house": RecordId::new_v7().to_string()}));
    assert!(form.validate(&ok, &ctx(&[])).is_ok());
    let bad = values(json!({"house": "house-12"}));
    assert_eq!(
        codes(&form.validate(&bad, &ctx(&[])).unwrap_err()),
        vec![("house", ProblemCode::BadReference)]
    );
}

#[test]
fn derived_values_appear_as_soon_as_the_id_number_is_complete() {
    let form = house_form();
    let mut v = values(json!({"owner_id": male_id()[..17].to_owned()}));
    form.derive(&mut v, &ctx(&[]));
    assert!(
        v.get("owner_gender").is_none(),
        "17 characters derive nothing"
    );
    v.insert(
        "owner_id".into(),
        json!(male_id().to_lowercase().replace("3206", "３２０６")),
    );
    v.insert(
        "residents".into(),
        json!([{"name": "a", "id_number": male_id()}]),
    );
    form.derive(&mut v, &ctx(&[]));
    assert_eq!(v["owner_gender"], "male");
    assert_eq!(v["owner_birth"], "1985-06-15");
    assert_eq!(v["residents"][0]["gender"], "male");
}

#[test]
fn a_geopoint_keeps_its_accuracy_and_time_and_refuses_a_bad_time() {
    let form = Form::from_json(
        &json!({
            "form_id": "spot", "version": 1,
            "title": {"zh": "位置", "en": "Spot"},
            "sections": [{"id": "s", "title": {"zh": "位置", "en": "Spot"}, "fields": [
                {"name": "where", "label": {"zh": "位置", "en": "Where"}, "kind": {"type": "geopoint"}}
            ]}]
        })
        .to_string(),
    )
    .expect("form");
    let point = json!({"lat": 31.87, "lon": 121.17, "accuracy_m": 12.5, "at": "2026-11-30T02:15:04Z", "extra": 1});
    let out = form
        .validate(&values(json!({ "where": point })), &ctx(&[]))
        .expect("valid");
    assert_eq!(
        out["where"],
        json!({"lat": 31.87, "lon": 121.17, "accuracy_m": 12.5, "at": "2026-11-30T02:15:04Z"}),
        "position, accuracy and time kept; nothing else"
    );
    let bad = json!({"lat": 31.87, "lon": 121.17, "at": "yesterday"});
    let errors = form
        .validate(&values(json!({ "where": bad })), &ctx(&[]))
        .expect_err("a time that is not RFC 3339");
    assert_eq!(errors[0].code, ProblemCode::BadGeopoint);
}

fn calculating_form() -> Form {
    Form::from_json(
        &json!({
            "form_id": "calc", "version": 1, "title": {"zh": "计算", "en": "Calc"},
            "sections": [{"id": "s", "title": {"zh": "s", "en": "s"}, "fields": [
                {"name": "adults", "label": {"zh": "成人", "en": "Adults"}, "kind": {"type": "integer"}},
                {"name": "children", "label": {"zh": "儿童", "en": "Children"}, "kind": {"type": "integer"}},
                {"name": "total", "label": {"zh": "合计", "en": "Total"}, "kind": {"type": "integer"},
                 "derived": {"source": "calculate", "expr": "adults + children"}},
                {"name": "size", "label": {"zh": "规模", "en": "Size"}, "kind": {"type": "text"},
                 "derived": {"source": "calculate", "expr": "if(total > 5, 'large', 'small')"}},
                {"name": "people", "label": {"zh": "人员", "en": "People"}, "kind": {"type": "repeat", "fields": [
                    {"name": "name", "label": {"zh": "姓名", "en": "Name"}, "kind": {"type": "text"}},
                    {"name": "greeting", "label": {"zh": "称呼", "en": "Greeting"}, "kind": {"type": "text"},
                     "derived": {"source": "calculate", "expr": "name + ' of ' + size"}}
                ]}}
            ]}]
        })
        .to_string(),
    )
    .expect("test form loads")
}

#[test]
fn calculated_fields_are_computed_in_order_and_never_taken_as_typed() {
    let form = calculating_form();
    let out = form
        .validate(
            &values(
                json!({"adults": 4, "children": "3", "total": 99, "size": "tiny",
                "people": [{"name": "张三", "greeting": "typed"}]}),
            ),
            &ctx(&[]),
        )
        .expect("valid");
    assert_eq!(out["total"], json!(7), "a number for an integer field");
    assert_eq!(
        out["size"],
        json!("large"),
        "reads the total computed before it"
    );
    assert_eq!(out["people"][0]["greeting"], json!("张三 of large"));
}

#[test]
fn a_calculation_that_yields_nothing_leaves_the_field_absent() {
    let form = calculating_form();
    let mut v = values(json!({"adults": 2, "total": 5}));
    form.derive(&mut v, &ctx(&[]));
    assert!(v.get("total").is_none(), "children missing: no total");
    assert_eq!(v["size"], json!("small"));
}

#[test]
fn a_calculation_cannot_fill_a_photo() {
    let e = Form::from_json(
        r#"{"form_id": "t", "version": 1, "title": {"zh": "t", "en": "t"},
            "sections": [{"id": "s", "title": {"zh": "s", "en": "s"}, "fields": [
                {"name": "p", "label": {"zh": "p", "en": "p"}, "kind": {"type": "photo", "max": 1},
                 "derived": {"source": "calculate", "expr": "1"}}
            ]}]}"#,
    )
    .unwrap_err();
    assert!(e.message.contains("not photo"), "{e}");
}

#[test]
fn a_name_no_field_has_is_named_at_its_level() {
    let errors = house_form()
        .validate(
            &values(json!({
                "owner_id": male_id(), "owner_name": "张三", "storeys": 6, "use": "owner_occupied",
                "residents": [{"name": "a", "shoe_size": "42"}]
            })),
            &ctx(&[]),
        )
        .expect_err("invalid");
    assert_eq!(
        codes(&errors),
        vec![("residents[0].shoe_size", ProblemCode::UnknownField)],
        "{errors:#?}"
    );
}
