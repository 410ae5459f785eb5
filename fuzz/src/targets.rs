//! One entry point per thing an attacker or a broken device can hand the
//! server or the app: the push and pull bodies, the national-standard
//! validators, form definitions and the expression language. Each must
//! refuse bad input with an error, never panic, and whatever it accepts must
//! survive a round trip unchanged.
//!
//! Used by the cargo-fuzz targets in `fuzz/fuzz_targets/` and, through
//! `#[path]`, by the stable smoke test `tests/tests/fuzz_smoke.rs`.

use std::sync::OnceLock;

use beatbook_schema::expr::{Compiled, Scope, Value};
use beatbook_schema::form::{Form, ValidationContext, Values};
use beatbook_schema::protocol::{ChangeOp, PullPage, PushRequest};
use beatbook_schema::validate::{citizen_id, credit_code, phone};
use chrono::NaiveDate;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date")
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn standard_forms() -> &'static [Form] {
    static FORMS: OnceLock<Vec<Form>> = OnceLock::new();
    FORMS.get_or_init(|| beatbook_schema::catalogue::standard_forms().expect("standard forms"))
}

/// `POST /v1/push` as the server decodes it, then each change's fields
/// validated against its form as the server would.
pub fn push_request(data: &[u8]) {
    let Ok(req) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    let again: PushRequest =
        serde_json::from_str(&serde_json::to_string(&req).expect("serializes")).expect("reparses");
    assert_eq!(again, req, "a push request survives a round trip");
    for change in &req.changes {
        let ChangeOp::Upsert {
            fields,
            attachments,
        } = &change.op
        else {
            continue;
        };
        let Some(form) = standard_forms().iter().find(|f| f.id() == &change.form_id) else {
            continue;
        };
        let hashes: Vec<_> = attachments.iter().map(|a| a.sha256).collect();
        let ctx = ValidationContext {
            today: today(),
            attachments: &hashes,
            addresses: None,
        };
        if let Ok(normalized) = form.validate(fields, &ctx) {
            // What validation normalized validates again, to the same values.
            assert_eq!(
                form.validate(&normalized, &ctx).as_ref(),
                Ok(&normalized),
                "normalizing is idempotent"
            );
        }
        let mut derived = fields.clone();
        form.derive(&mut derived, &ctx);
    }
}

/// `GET /v1/pull` as the app decodes it.
pub fn pull_page(data: &[u8]) {
    let Ok(page) = serde_json::from_slice::<PullPage>(data) else {
        return;
    };
    let again: PullPage =
        serde_json::from_str(&serde_json::to_string(&page).expect("serializes")).expect("reparses");
    assert_eq!(again, page, "a pull page survives a round trip");
}

/// GB 11643 citizen ID numbers.
pub fn citizen_id(data: &[u8]) {
    let s = text(data);
    for legacy in [false, true] {
        if let Ok(id) = citizen_id::parse(&s, today(), legacy) {
            let again =
                citizen_id::parse(id.as_str(), today(), false).expect("normalized reparses");
            assert_eq!(again.as_str(), id.as_str());
            assert_eq!(id.as_str().len(), 18);
            let _ = (
                id.birth_date(),
                id.gender(),
                id.age_on(today()),
                id.division_code(),
            );
        }
    }
    let _ = citizen_id::check_char(&s);
}

/// GB 32100 unified social credit codes.
pub fn credit_code(data: &[u8]) {
    let s = text(data);
    if let Ok(code) = credit_code::parse(&s) {
        let again = credit_code::parse(code.as_str()).expect("normalized reparses");
        assert_eq!(again.as_str(), code.as_str());
    }
}

/// Phone numbers, mobile and landline.
pub fn phone(data: &[u8]) {
    let s = text(data);
    for landline in [false, true] {
        if let Ok(p) = phone::parse(&s, landline) {
            let again = phone::parse(p.as_str(), landline).expect("normalized reparses");
            assert_eq!(again.as_str(), p.as_str());
        }
    }
}

/// A form definition as published to the server, then a record of it
/// validated (empty, and the definition's own JSON as values).
pub fn form_json(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(form) = Form::from_json(json) else {
        return;
    };
    let ctx = ValidationContext {
        today: today(),
        attachments: &[],
        addresses: None,
    };
    let _ = form.validate(&Values::new(), &ctx);
    if let Ok(serde_json::Value::Object(values)) = serde_json::from_str::<serde_json::Value>(json) {
        let _ = form.validate(&values, &ctx);
        let mut v = values;
        form.derive(&mut v, &ctx);
    }
}

struct Anything<'a>(&'a str);

impl Scope for Anything<'_> {
    fn field(&self, name: &str) -> Value {
        match name.len() % 4 {
            0 => Value::Null,
            1 => Value::Num(name.len() as f64),
            2 => Value::Str(self.0.to_owned()),
            _ => Value::Bool(true),
        }
    }
    fn current(&self) -> Value {
        Value::Str(self.0.to_owned())
    }
    fn today(&self) -> Option<NaiveDate> {
        Some(today())
    }
}

/// The expression language: parsing and evaluating what parses.
pub fn expr(data: &[u8]) {
    let s = text(data);
    if let Ok(e) = Compiled::parse(&s) {
        let _ = e.field_refs();
        let _ = e.eval(&Anything(&s));
        let _ = e.test(&Anything(""));
    }
}
