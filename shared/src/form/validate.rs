//! Validating a whole record against its form: every field error at once,
//! values normalized (ID numbers upper-cased and upgraded, numbers parsed) and
//! derived values recomputed, so the device and the server store the same thing.

use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::compile::{CompiledField, Form};
use super::def::{Derivation, FieldKind, IdPart, TracePart};
use crate::division::divisions;
use crate::expr::{Scope, Value};
use crate::ids::{RecordId, Sha256};
use crate::problem::{Problem, ProblemCode};
use crate::text::Text;
use crate::validate::{citizen_id, credit_code, phone, CitizenId};

/// The values of a record: a JSON object keyed by field name.
pub type Values = Map<String, Json>;

/// One problem with one field, located by path (`residents[1].id_number`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where: the field name, with `[i].` for repeat entries (0-based).
    pub path: String,
    /// Stable code.
    pub code: ProblemCode,
    /// What is wrong and what to do, in both languages.
    pub message: Text,
}

/// Resolves standard-address references for address-derived fields.
pub trait AddressBook {
    /// The values of the `address` record with this id, if known here.
    fn address(&self, id: &RecordId) -> Option<&Values>;
}

/// What validation needs from outside the record.
pub struct ValidationContext<'a> {
    /// Today's date (birth dates may not be after it; `today()` in expressions).
    pub today: NaiveDate,
    /// Digests of the attachments the record carries; photo fields must name only these.
    pub attachments: &'a [Sha256],
    /// Standard addresses, for address-derived fields; without one they are left as given.
    pub addresses: Option<&'a dyn AddressBook>,
}

struct RecordScope<'a> {
    top: &'a Values,
    item: Option<&'a Values>,
    current: Value,
    today: NaiveDate,
}

impl Scope for RecordScope<'_> {
    fn field(&self, name: &str) -> Value {
        self.item
            .and_then(|i| i.get(name))
            .or_else(|| self.top.get(name))
            .map_or(Value::Null, Value::from)
    }
    fn current(&self) -> Value {
        self.current.clone()
    }
    fn today(&self) -> Option<NaiveDate> {
        Some(self.today)
    }
}

impl Form {
    /// Validates `values` for finalizing: returns the normalized values with
    /// derived fields filled in, or every field error at once. Values of
    /// fields that are not relevant are dropped, not rejected.
    pub fn validate(
        &self,
        values: &Values,
        ctx: &ValidationContext<'_>,
    ) -> Result<Values, Vec<FieldError>> {
        let mut errors = Vec::new();
        let out = validate_scope(&self.fields, values, None, "", ctx, &mut errors);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Fills in every derived value that can be computed from `values` as
    /// they stand (e.g. gender and birth date as soon as an ID number is
    /// complete), without judging anything else: for showing derived values
    /// read-only while the officer types.
    pub fn derive(&self, values: &mut Values, ctx: &ValidationContext<'_>) {
        derive_scope(&self.fields, values, None, ctx);
    }

    /// Whether a top-level field is relevant given the current values.
    pub fn is_relevant(&self, field: &CompiledField, values: &Values, today: NaiveDate) -> bool {
        let scope = RecordScope {
            top: values,
            item: None,
            current: Value::Null,
            today,
        };
        field.relevant.iter().all(|r| r.test(&scope))
    }
}

fn error(path: &str, problem: Problem) -> FieldError {
    FieldError {
        path: path.to_owned(),
        code: problem.code,
        message: problem.message,
    }
}

fn is_blank(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::String(s) => s.trim().is_empty(),
        Json::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Validates one scope: the record's top level (`item == None`) or one repeat entry.
fn validate_scope(
    fields: &[CompiledField],
    given: &Values,
    top: Option<&Values>,
    prefix: &str,
    ctx: &ValidationContext<'_>,
    errors: &mut Vec<FieldError>,
) -> Values {
    // 1. Normalize every value that is present (type and format checks).
    //    Errors wait until relevance is known: a hidden field's value is dropped, not judged.
    let mut out = Values::with_capacity(given.len());
    let mut pending: Vec<(&str, Vec<FieldError>)> = Vec::new();
    let mut repeats = Vec::new();
    // A field's path is spelled out only where it is needed (an error, a
    // repeat): this runs for every field of every record pushed.
    let path_of = |f: &CompiledField| format!("{prefix}{}", f.name());
    // Given values a field takes (names are unique in a scope): fewer than
    // given means some name no field has, looked for only then.
    let mut taken = 0;
    for f in fields {
        let Some(v) = given.get(f.name()) else {
            continue;
        };
        if !matches!(f.def.kind, FieldKind::Note) {
            taken += 1;
        }
        if is_blank(v) {
            continue;
        }
        if f.def.derived.is_some() {
            continue; // recomputed below, never taken as typed
        }
        if matches!(f.def.kind, FieldKind::Repeat { .. }) {
            repeats.push((f, v, path_of(f)));
            continue; // after the derived values, which the entries may read
        }
        match normalize(f, v, ctx) {
            Ok(n) if !n.is_null() => {
                out.insert(f.name().to_owned(), n);
            }
            Ok(_) => {}
            Err(p) => pending.push((f.name(), vec![error(&path_of(f), p)])),
        }
    }

    if taken < given.len() {
        for key in given.keys() {
            let known = fields
                .iter()
                .any(|f| f.name() == key && !matches!(f.def.kind, FieldKind::Note));
            if !known {
                errors.push(error(
                    &format!("{prefix}{key}"),
                    Problem::new(
                        ProblemCode::UnknownField,
                        format!("表单没有字段「{key}」，请更新应用后重试"),
                        format!("the form has no field '{key}': update the app and try again"),
                    ),
                ));
            }
        }
    }

    // 2. Derived values, from the normalized sources.
    for f in fields {
        if let Some(d) = &f.def.derived {
            if let Some(v) = derive(f, d, &out, top, ctx) {
                out.insert(f.name().to_owned(), v);
            } else if let Some(given) = given
                .get(f.name())
                .filter(|_| matches!(d, Derivation::Address { .. }))
            {
                // Address not known here (e.g. the server has not seen it yet): keep what the device derived.
                if ctx.addresses.is_none() && !is_blank(given) {
                    out.insert(f.name().to_owned(), given.clone());
                }
            }
        }
    }

    // Repeat entries (top level only: repeats do not nest) see the top level
    // as normalized and derived so far.
    // None sees another's entries: all are normalized before any is kept.
    let normalized: Vec<_> = repeats
        .into_iter()
        .map(|(f, v, path)| {
            let mut field_errors = Vec::new();
            let n = normalize_repeat(f, v, &out, &path, ctx, &mut field_errors);
            (f, n, field_errors)
        })
        .collect();
    for (f, n, field_errors) in normalized {
        if !n.is_null() {
            out.insert(f.name().to_owned(), n);
        }
        if !field_errors.is_empty() {
            pending.push((f.name(), field_errors));
        }
    }

    // 3. Relevance (in order, so hiding a field hides what depends on it),
    //    then required and constraints on what stays.
    for f in fields {
        let reported = |errors: &[FieldError]| {
            errors
                .iter()
                .any(|e| e.path.strip_prefix(prefix) == Some(f.name()))
        };
        let (scope_top, item) = match top {
            Some(t) => (t, Some(&out)),
            None => (&out, None),
        };
        let relevant = {
            let scope = RecordScope {
                top: scope_top,
                item,
                current: Value::Null,
                today: ctx.today,
            };
            f.relevant.iter().all(|r| r.test(&scope))
        };
        if !relevant {
            out.remove(f.name());
            continue;
        }
        if let Some(i) = pending.iter().position(|(name, _)| *name == f.name()) {
            errors.append(&mut pending.swap_remove(i).1);
        }
        let value = out.get(f.name());
        let present = value.is_some();
        if f.def.required && !present && f.def.derived.is_none() {
            // Don't repeat an error already reported for a malformed value.
            if !reported(errors) {
                errors.push(error(
                    &path_of(f),
                    Problem::new(
                        ProblemCode::Required,
                        format!("请填写「{}」", f.def.label.zh),
                        format!("fill in “{}”", f.def.label.en),
                    ),
                ));
            }
            continue;
        }
        if let (FieldKind::Photo { min, .. } | FieldKind::Repeat { min, .. }, false) =
            (&f.def.kind, present)
        {
            if *min > 0 && !reported(errors) {
                errors.push(error(&path_of(f), too_few(&f.def.label, *min)));
            }
        }
        if let (Some(c), Some(v)) = (&f.constraint, value) {
            let scope = RecordScope {
                top: scope_top,
                item,
                current: Value::from(v),
                today: ctx.today,
            };
            if !c.test(&scope) {
                let msg = f.def.constraint.as_ref().map(|c| c.message.clone());
                errors.push(FieldError {
                    path: path_of(f),
                    code: ProblemCode::ConstraintFailed,
                    message: msg
                        .unwrap_or_else(|| Text::new("取值不符合要求", "value not allowed")),
                });
            }
        }
    }
    out
}

fn too_few(label: &Text, min: u32) -> Problem {
    Problem::new(
        ProblemCode::TooFew,
        format!("「{}」至少需要 {min} 项", label.zh),
        format!("“{}” needs at least {min}", label.en),
    )
}

fn too_many(label: &Text, max: u32) -> Problem {
    Problem::new(
        ProblemCode::TooMany,
        format!("「{}」最多 {max} 项", label.zh),
        format!("“{}” allows at most {max}", label.en),
    )
}

fn normalize_repeat(
    f: &CompiledField,
    v: &Json,
    top_values: &Values,
    path: &str,
    ctx: &ValidationContext<'_>,
    errors: &mut Vec<FieldError>,
) -> Json {
    let FieldKind::Repeat { min, max, .. } = &f.def.kind else {
        return Json::Null;
    };
    let Json::Array(items) = v else {
        errors.push(error(path, wrong_type(&f.def.label, "a list of entries")));
        return Json::Null;
    };
    if (items.len() as u64) < u64::from(*min) {
        errors.push(error(path, too_few(&f.def.label, *min)));
    }
    if let Some(max) = max {
        if items.len() as u64 > u64::from(*max) {
            errors.push(error(path, too_many(&f.def.label, *max)));
        }
    }
    let out = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let item_path = format!("{path}[{i}].");
            match item {
                Json::Object(obj) => Json::Object(validate_scope(
                    &f.children,
                    obj,
                    Some(top_values),
                    &item_path,
                    ctx,
                    errors,
                )),
                _ => {
                    errors.push(error(
                        &format!("{path}[{i}]"),
                        wrong_type(&f.def.label, "an entry (object)"),
                    ));
                    Json::Null
                }
            }
        })
        .collect();
    Json::Array(out)
}

/// A geopoint value normalized: position, accuracy and time (RFC 3339, kept
/// as given), nothing else.
fn point(label: &Text, v: &Json) -> Result<Json, Problem> {
    let (lat, lon) = (
        v.get("lat").and_then(Json::as_f64),
        v.get("lon").and_then(Json::as_f64),
    );
    let acc = v.get("accuracy_m").and_then(Json::as_f64);
    let at = v.get("at").map(|t| {
        t.as_str()
            .filter(|t| DateTime::parse_from_rfc3339(t).is_ok())
    });
    match (lat, lon) {
        (Some(lat), Some(lon))
            if (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon)
                && acc.is_none_or(|a| a >= 0.0)
                && at.is_none_or(|t| t.is_some()) =>
        {
            let mut p = Map::new();
            p.insert("lat".into(), Json::from(lat));
            p.insert("lon".into(), Json::from(lon));
            if let Some(a) = acc {
                p.insert("accuracy_m".into(), Json::from(a));
            }
            if let Some(Some(t)) = at {
                p.insert("at".into(), Json::from(t));
            }
            Ok(Json::Object(p))
        }
        _ => Err(Problem::new(
            ProblemCode::BadGeopoint,
            format!("「{}」的位置无效，请重新定位", label.zh),
            format!("“{}” is not a valid location: locate again", label.en),
        )),
    }
}

fn wrong_type(label: &Text, want: &str) -> Problem {
    Problem::new(
        ProblemCode::WrongType,
        format!("「{}」的取值类型不对", label.zh),
        format!("“{}” should be {want}", label.en),
    )
}

fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn range_problem(label: &Text, code: ProblemCode, bound: impl std::fmt::Display) -> Problem {
    let (zh, en) = match code {
        ProblemCode::TooSmall => ("不能小于", "must be at least"),
        _ => ("不能大于", "must be at most"),
    };
    Problem::new(
        code,
        format!("「{}」{zh} {bound}", label.zh),
        format!("“{}” {en} {bound}", label.en),
    )
}

/// Type and format check of one present value; returns the normalized value.
fn normalize(f: &CompiledField, v: &Json, ctx: &ValidationContext<'_>) -> Result<Json, Problem> {
    let label = &f.def.label;
    let not_a_choice = |s: &str| {
        Problem::new(
            ProblemCode::NotAChoice,
            format!("「{}」没有选项“{s}”，请从列表中选择", label.zh),
            format!("“{}” has no option '{s}': pick one from the list", label.en),
        )
    };
    let text = || {
        v.as_str()
            .map(str::trim)
            .ok_or_else(|| wrong_type(label, "text"))
    };
    match &f.def.kind {
        FieldKind::Text { max_len, .. } => {
            let s = text()?;
            if let Some(max) = max_len {
                if s.chars().count() as u64 > u64::from(*max) {
                    return Err(Problem::new(
                        ProblemCode::TooLong,
                        format!("「{}」最多 {max} 个字", label.zh),
                        format!("“{}” allows at most {max} characters", label.en),
                    ));
                }
            }
            Ok(Json::String(s.to_owned()))
        }
        FieldKind::Integer { min, max, .. } => {
            let n = number(v)
                .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
                .ok_or_else(|| wrong_type(label, "a whole number"))?;
            let n = n as i64;
            if let Some(min) = min.filter(|m| n < *m) {
                return Err(range_problem(label, ProblemCode::TooSmall, min));
            }
            if let Some(max) = max.filter(|m| n > *m) {
                return Err(range_problem(label, ProblemCode::TooLarge, max));
            }
            Ok(Json::from(n))
        }
        FieldKind::Decimal { min, max, .. } => {
            let n = number(v).ok_or_else(|| wrong_type(label, "a number"))?;
            if let Some(min) = min.filter(|m| n < *m) {
                return Err(range_problem(label, ProblemCode::TooSmall, min));
            }
            if let Some(max) = max.filter(|m| n > *m) {
                return Err(range_problem(label, ProblemCode::TooLarge, max));
            }
            Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
        }
        FieldKind::Date { not_future } => {
            let s = text()?;
            let d = iso_date(s).map_err(|_| {
                Problem::new(
                    ProblemCode::BadDate,
                    format!("「{}」不是有效日期（格式 YYYY-MM-DD）", label.zh),
                    format!("“{}” is not a real date (YYYY-MM-DD)", label.en),
                )
            })?;
            if *not_future && d > ctx.today {
                return Err(Problem::new(
                    ProblemCode::TooLarge,
                    format!("「{}」不能晚于今天", label.zh),
                    format!("“{}” cannot be after today", label.en),
                ));
            }
            Ok(Json::String(d.to_string()))
        }
        FieldKind::Datetime => {
            let s = text()?;
            DateTime::parse_from_rfc3339(s).map_err(|_| {
                Problem::new(
                    ProblemCode::BadDate,
                    format!("「{}」不是有效时间", label.zh),
                    format!("“{}” is not a valid date and time (RFC 3339)", label.en),
                )
            })?;
            Ok(Json::String(s.to_owned()))
        }
        FieldKind::SingleChoice { .. } => {
            let s = text()?;
            if !f.choices.iter().any(|c| c == s) {
                return Err(not_a_choice(s));
            }
            Ok(Json::String(s.to_owned()))
        }
        FieldKind::MultiChoice { min, max, .. } => {
            let Json::Array(items) = v else {
                return Err(wrong_type(label, "a list of choices"));
            };
            let mut picked: Vec<&str> = Vec::new();
            for i in items {
                let s = i
                    .as_str()
                    .ok_or_else(|| wrong_type(label, "a list of choices"))?;
                if !f.choices.iter().any(|c| c == s) {
                    return Err(not_a_choice(s));
                }
                if !picked.contains(&s) {
                    picked.push(s);
                }
            }
            if let Some(min) = min.filter(|m| (picked.len() as u64) < u64::from(*m)) {
                return Err(too_few(label, min));
            }
            if let Some(max) = max.filter(|m| picked.len() as u64 > u64::from(*m)) {
                return Err(too_many(label, max));
            }
            Ok(Json::from(picked))
        }
        FieldKind::Geopoint => point(label, v),
        FieldKind::Geotrace => {
            let Json::Array(points) = v else {
                return Err(wrong_type(label, "a list of points"));
            };
            points
                .iter()
                .map(|p| point(label, p))
                .collect::<Result<Vec<_>, _>>()
                .map(Json::Array)
        }
        FieldKind::Photo { max, .. } => {
            let Json::Array(items) = v else {
                return Err(wrong_type(label, "a list of photo digests"));
            };
            if items.len() as u64 > u64::from(*max) {
                return Err(too_many(label, *max));
            }
            for i in items {
                let known = i
                    .as_str()
                    .and_then(|s| s.parse::<Sha256>().ok())
                    .is_some_and(|h| ctx.attachments.contains(&h));
                if !known {
                    return Err(Problem::new(
                        ProblemCode::BadReference,
                        format!("「{}」引用了缺失的照片，请重新拍摄", label.zh),
                        format!(
                            "“{}” names a photo the record does not carry: take it again",
                            label.en
                        ),
                    ));
                }
            }
            Ok(v.clone())
        }
        FieldKind::CitizenId { allow_legacy } => Ok(Json::String(
            citizen_id::parse(text()?, ctx.today, *allow_legacy)?
                .as_str()
                .to_owned(),
        )),
        FieldKind::CreditCode => Ok(Json::String(
            credit_code::parse(text()?)?.as_str().to_owned(),
        )),
        FieldKind::Phone { allow_landline } => Ok(Json::String(
            phone::parse(text()?, *allow_landline)?.as_str().to_owned(),
        )),
        FieldKind::AddressRef | FieldKind::RecordRef { .. } => {
            let s = text()?;
            s.parse::<RecordId>().map_err(|_| {
                Problem::new(
                    ProblemCode::BadReference,
                    format!("「{}」引用无效，请重新选择", label.zh),
                    format!("“{}” is not a valid reference: pick it again", label.en),
                )
            })?;
            Ok(Json::String(s.to_owned()))
        }
        FieldKind::Repeat { .. } | FieldKind::Note => Ok(Json::Null),
    }
}

fn derive_scope(
    fields: &[CompiledField],
    values: &mut Values,
    top: Option<&Values>,
    ctx: &ValidationContext<'_>,
) {
    for f in fields {
        match (&f.def.derived, &f.def.kind) {
            (Some(d), _) => {
                let derived = derive_normalizing(f, d, values, top, ctx);
                match derived {
                    Some(v) => values.insert(f.name().to_owned(), v),
                    None if !matches!(d, Derivation::Address { .. }) => values.remove(f.name()),
                    None => None,
                };
            }
            (None, FieldKind::Repeat { .. }) => {
                let top_values = top.cloned().unwrap_or_else(|| values.clone());
                if let Some(Json::Array(items)) = values.get_mut(f.name()) {
                    for item in items.iter_mut() {
                        if let Json::Object(obj) = item {
                            derive_scope(&f.children, obj, Some(&top_values), ctx);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Like [`derive`], but reads an ID number as typed (full-width digits,
/// lowercase x) by normalizing it first.
fn derive_normalizing(
    f: &CompiledField,
    d: &Derivation,
    scope: &Values,
    top: Option<&Values>,
    ctx: &ValidationContext<'_>,
) -> Option<Json> {
    if let Derivation::CitizenId { field, part } = d {
        let raw = scope
            .get(field)
            .or_else(|| top.and_then(|t| t.get(field)))?
            .as_str()?;
        let id = citizen_id::parse(raw, ctx.today, true).ok()?;
        return Some(id_part(&id, *part, ctx.today));
    }
    derive(f, d, scope, top, ctx)
}

/// Computes a derived value; `None` when its source is absent or unknown here.
fn derive(
    f: &CompiledField,
    d: &Derivation,
    scope: &Values,
    top: Option<&Values>,
    ctx: &ValidationContext<'_>,
) -> Option<Json> {
    let source = |name: &str| scope.get(name).or_else(|| top.and_then(|t| t.get(name)));
    match d {
        Derivation::CitizenId { field, part } => {
            let id = CitizenId::try_from(source(field)?.as_str()?.to_owned()).ok()?;
            Some(id_part(&id, *part, ctx.today))
        }
        Derivation::Address { field, part } => {
            let id: RecordId = source(field)?.as_str()?.parse().ok()?;
            ctx.addresses?.address(&id)?.get(part).cloned()
        }
        Derivation::Geotrace { field, part } => trace_part(source(field)?.as_array()?, *part),
        Derivation::Calculate { .. } => {
            let record = RecordScope {
                top: top.unwrap_or(scope),
                item: top.map(|_| scope),
                current: Value::Null,
                today: ctx.today,
            };
            calculated(&f.def.kind, f.calculation.as_ref()?.eval(&record))
        }
    }
}

/// A calculation's result as the field's kind stores it; `None` when it yields
/// nothing the kind can hold.
fn calculated(kind: &FieldKind, v: Value) -> Option<Json> {
    let text = match v {
        Value::Str(s) => s,
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => (n as i64).to_string(),
        Value::Num(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::List(_) | Value::Opaque => return None,
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match kind {
        FieldKind::Integer { .. } => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
            .map(|n| Json::from(n as i64)),
        FieldKind::Decimal { .. } => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number),
        FieldKind::Date { .. } => iso_date(text.get(..10)?)
            .ok()
            .map(|d| Json::String(d.to_string())),
        _ => Some(Json::String(text.to_owned())),
    }
}

/// A date as `%Y-%m-%d` reads it. The common `YYYY-MM-DD` is read without
/// chrono's format parser (which parses the format string on every call);
/// anything else (`2024-1-5`) goes to the parser. `NaiveDate`'s `Display` writes the
/// same `%Y-%m-%d` back.
fn iso_date(s: &str) -> Result<NaiveDate, chrono::ParseError> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        if let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) {
            if let Some(date) = NaiveDate::from_ymd_opt(y as i32, m, d) {
                return Ok(date);
            }
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
}

/// One derived fact of an ID number, as stored in a record.
pub fn id_part(id: &CitizenId, part: IdPart, today: NaiveDate) -> Json {
    match part {
        IdPart::Gender => serde_json::to_value(id.gender()).unwrap_or(Json::Null),
        IdPart::BirthDate => Json::String(id.birth_date().to_string()),
        IdPart::Age => Json::from(id.age_on(today)),
        IdPart::DivisionCode => Json::String(id.division_code().to_owned()),
        IdPart::DivisionName => {
            let year = chrono::Datelike::year(&id.birth_date());
            divisions()
                .full_name(id.division_code(), Some(year))
                .map_or(Json::Null, Json::String)
        }
    }
}

/// A part of a track (an array of normalized points).
pub fn trace_part(points: &[Json], part: TracePart) -> Option<Json> {
    let at = |p: &Json| p.get("at").filter(|t| t.is_string()).cloned();
    match part {
        TracePart::DistanceM => {
            let metres: f64 = points
                .windows(2)
                .filter_map(|w| Some(crate::geo::distance_m(lat_lon(&w[0])?, lat_lon(&w[1])?)))
                .sum();
            Some(Json::from(metres.round() as u64))
        }
        TracePart::DurationMin => {
            let time = |p: &Json| DateTime::parse_from_rfc3339(p.get("at")?.as_str()?).ok();
            let (first, last) = (time(points.first()?)?, time(points.last()?)?);
            Some(Json::from((last - first).num_minutes().max(0)))
        }
        TracePart::Start => at(points.first()?),
        TracePart::End => at(points.last()?),
    }
}

fn lat_lon(p: &Json) -> Option<(f64, f64)> {
    Some((p.get("lat")?.as_f64()?, p.get("lon")?.as_f64()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn by_chrono(s: &str) -> Option<String> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.format("%Y-%m-%d").to_string())
    }

    #[test]
    fn a_date_reads_and_writes_back_as_chrono_does() {
        for s in [
            "2024-02-29",
            "2023-02-29",
            "2024-1-5",
            "0999-01-01",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-01-32",
            "20240101",
            "2024/01/01",
            "２０２４-01-01",
            "+2024-01-01",
            "2024-01-01T",
            " 2024-01-01",
            "",
        ] {
            assert_eq!(
                iso_date(s).ok().map(|d| d.to_string()),
                by_chrono(s),
                "{s:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_date_like_text_reads_as_chrono_reads_it(s in "[0-9+ -]{0,4}-?[0-9]{0,3}-?[0-9]{0,3}") {
            prop_assert_eq!(iso_date(&s).ok().map(|d| d.to_string()), by_chrono(&s));
        }
    }
}
