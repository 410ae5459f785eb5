//! Every form of the standard catalogue, exported to XLSForm and imported
//! back, is the same definition.

use beatbook_schema::catalogue::standard_forms;

#[test]
fn every_catalogue_form_exports_and_imports_back_unchanged() {
    let forms = standard_forms().expect("catalogue loads");
    assert_eq!(
        forms.len(),
        12,
        "nine forms (eight and tasks), visit, patrol and hazard in two versions"
    );
    for form in &forms {
        let bytes = beatbook_xlsform::export(form.def()).expect("export");
        let back = beatbook_xlsform::import(&bytes).unwrap_or_else(|problems| {
            panic!(
                "{} does not import back:\n{}",
                form.id(),
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(&back, form.def(), "{} changed in the round trip", form.id());
    }
}

/// What the catalogue does not use, round-tripped too.
#[test]
fn calculations_and_other_settings_export_and_import_back_unchanged() {
    let def: beatbook_schema::form::FormDef = serde_json::from_value(serde_json::json!({
        "form_id": "inspection", "version": 7,
        "title": {"zh": "检查", "en": "Inspection"},
        "description": {"zh": "说明", "en": "About it"},
        "summary": ["unit_code", "staff"],
        "roles": ["auxiliary", "officer"],
        "choice_lists": {
            "checks": [
                {"value": "exit", "label": {"zh": "出口", "en": "Exit"}},
                {"value": "wiring", "label": {"zh": "线路", "en": "Wiring"}}
            ]
        },
        "sections": [{"id": "main", "title": {"zh": "检查", "en": "Inspection"}, "relevant": "true", "fields": [
            {"name": "unit_code", "label": {"zh": "信用代码", "en": "Credit code"}, "kind": {"type": "credit_code"}, "required": true},
            {"name": "unit", "label": {"zh": "单位", "en": "Unit"}, "kind": {"type": "record_ref", "form": "unit"}},
            {"name": "staff", "label": {"zh": "员工", "en": "Staff"}, "kind": {"type": "integer", "min": 0}, "carry_forward": true},
            {"name": "visitors", "label": {"zh": "访客", "en": "Visitors"}, "kind": {"type": "integer"}},
            {"name": "people", "label": {"zh": "人数", "en": "People"}, "kind": {"type": "integer"},
             "derived": {"source": "calculate", "expr": "staff + visitors"}},
            {"name": "size", "label": {"zh": "规模", "en": "Size"}, "kind": {"type": "text"},
             "derived": {"source": "calculate", "expr": "if(people > 50, 'large', 'small')"}},
            {"name": "rate", "label": {"zh": "比例", "en": "Rate"}, "kind": {"type": "decimal"}, "default": {"value": 2.5}},
            {"name": "checks", "label": {"zh": "检查项", "en": "Checks"}, "kind": {"type": "multi_choice", "list": "checks", "min": 1, "max": 2},
             "default": {"value": ["exit", "wiring"]}},
            {"name": "code", "label": {"zh": "编号", "en": "Code"}, "kind": {"type": "text", "max_len": 8},
             "constraint": {"expr": "regex(., '^[A-Z]\\\\d{3}$') && not (. in ['A000'])", "message": {"zh": "格式不对", "en": "Wrong format"}}},
            {"name": "photos", "label": {"zh": "照片", "en": "Photos"}, "kind": {"type": "photo", "min": 1, "max": 4}},
            {"name": "rooms", "label": {"zh": "房间", "en": "Rooms"}, "kind": {"type": "repeat", "min": 1, "max": 9, "fields": [
                {"name": "room_no", "label": {"zh": "房号", "en": "Room"}, "kind": {"type": "text"}},
                {"name": "beds", "label": {"zh": "床位", "en": "Beds"}, "kind": {"type": "integer"}, "relevant": "filled(room_no)"}
            ]}},
            {"name": "done", "label": {"zh": "完成", "en": "Done"}, "kind": {"type": "note"}}
        ]}]
    }))
    .expect("a form definition");
    beatbook_schema::form::Form::compile(def.clone()).expect("a valid form");
    let bytes = beatbook_xlsform::export(&def).expect("export");
    let back = beatbook_xlsform::import(&bytes).unwrap_or_else(|p| {
        panic!(
            "{}",
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(back, def);
}
