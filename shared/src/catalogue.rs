//! The standard form catalogue (统一基础信息采集录入清单), shipped in
//! `assets/forms/` and embedded here so every build carries the same forms.

use crate::form::{Derivation, FieldKind, Form, FormError};

/// The embedded JSON of each standard form, by file name.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "address.v1.json",
        include_str!("../../assets/forms/address.v1.json"),
    ),
    (
        "house.v1.json",
        include_str!("../../assets/forms/house.v1.json"),
    ),
    (
        "person.v1.json",
        include_str!("../../assets/forms/person.v1.json"),
    ),
    (
        "unit.v1.json",
        include_str!("../../assets/forms/unit.v1.json"),
    ),
    (
        "hazard.v1.json",
        include_str!("../../assets/forms/hazard.v1.json"),
    ),
    (
        "dispute.v1.json",
        include_str!("../../assets/forms/dispute.v1.json"),
    ),
    (
        "visit.v1.json",
        include_str!("../../assets/forms/visit.v1.json"),
    ),
    (
        "patrol.v1.json",
        include_str!("../../assets/forms/patrol.v1.json"),
    ),
];

/// Loads and cross-checks the standard forms.
pub fn standard_forms() -> Result<Vec<Form>, FormError> {
    let forms = SOURCES
        .iter()
        .map(|(file, json)| {
            Form::from_json(json).map_err(|mut e| {
                if e.form == "(unparsed)" {
                    e.form = (*file).to_owned();
                }
                e
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_catalogue(&forms)?;
    Ok(forms)
}

/// Checks what one form cannot check alone: references to other forms, and
/// address derivations that must name a field of the `address` form.
pub fn check_catalogue(forms: &[Form]) -> Result<(), FormError> {
    let address = forms.iter().find(|f| f.id().as_str() == "address");
    for form in forms {
        let fail = |field: &str, message: String| FormError {
            form: format!("{} v{}", form.id(), form.version()),
            field: Some(field.to_owned()),
            message,
        };
        let all = form
            .fields()
            .iter()
            .flat_map(|f| std::iter::once(f).chain(f.children.iter()));
        for f in all {
            if let FieldKind::RecordRef { form: target } = &f.def.kind {
                if !forms.iter().any(|g| g.id() == target) {
                    return Err(fail(f.name(), format!("refers to unknown form '{target}'")));
                }
            }
            if let Some(Derivation::Address { part, .. }) = &f.def.derived {
                let known = address.is_some_and(|a| a.field(part).is_some());
                if !known {
                    return Err(fail(f.name(), format!("derived from address part '{part}', which the address form does not have")));
                }
            }
        }
    }
    let mut ids: Vec<_> = forms
        .iter()
        .map(|f| (f.id().as_str(), f.version()))
        .collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(FormError {
            form: format!("{} v{}", w[0].0, w[0].1),
            field: None,
            message: "the same form version is defined twice".into(),
        });
    }
    Ok(())
}
