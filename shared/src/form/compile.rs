//! Loading a form: every expression is parsed and every name resolved once, so a
//! broken definition is refused with a message naming the form, the field and
//! the position, and evaluation later never meets an unknown name.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use super::def::{DefaultValue, Field};
use super::def::{Derivation, FieldKind, FormDef};
use crate::expr::Compiled;

/// A form definition that loaded: its expressions parsed, its names resolved.
#[derive(Debug, Clone)]
pub struct Form {
    pub(crate) def: FormDef,
    pub(crate) fields: Vec<CompiledField>,
}

/// A field with its expressions compiled; repeat groups carry their entry's fields.
#[derive(Debug, Clone)]
pub struct CompiledField {
    /// The definition.
    pub def: Field,
    /// Index of the section it appears in.
    pub section: usize,
    /// Section relevance (inherited) and the field's own, both must hold.
    pub(crate) relevant: Vec<Compiled>,
    pub(crate) constraint: Option<Compiled>,
    /// The expression of a [`Derivation::Calculate`].
    pub(crate) calculation: Option<Compiled>,
    /// Allowed values, for choice fields.
    pub(crate) choices: Vec<String>,
    /// Entry fields, for a repeat group.
    pub children: Vec<CompiledField>,
}

impl CompiledField {
    /// The field's name.
    pub fn name(&self) -> &str {
        &self.def.name
    }
}

/// Why a form definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FormError {
    /// `form_id` and version of the form.
    pub form: String,
    /// The field (path within repeat groups) or section concerned, if any.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "form {}, field '{}': {}", self.form, field, self.message),
            None => write!(f, "form {}: {}", self.form, self.message),
        }
    }
}

impl Form {
    /// Parses a form definition from JSON and compiles it.
    pub fn from_json(json: &str) -> Result<Self, FormError> {
        let def: FormDef = serde_json::from_str(json).map_err(|e| FormError {
            form: "(unparsed)".into(),
            field: None,
            message: format!("not a valid form definition: {e}"),
        })?;
        Self::compile(def)
    }

    /// Checks and compiles a definition.
    pub fn compile(def: FormDef) -> Result<Self, FormError> {
        let form_name = format!("{} v{}", def.form_id, def.version);
        let fail = |field: Option<&str>, message: String| FormError {
            form: form_name.clone(),
            field: field.map(str::to_owned),
            message,
        };
        if !is_name(def.form_id.as_str()) {
            return Err(fail(
                None,
                "form_id must be lowercase ASCII snake_case".into(),
            ));
        }
        if def.version == 0 {
            return Err(fail(None, "version starts at 1".into()));
        }
        for (list, choices) in &def.choice_lists {
            if choices.is_empty() {
                return Err(fail(None, format!("choice list '{list}' is empty")));
            }
            let mut seen = BTreeSet::new();
            for c in choices {
                if !seen.insert(c.value.as_str()) {
                    return Err(fail(
                        None,
                        format!("choice list '{list}' repeats value '{}'", c.value),
                    ));
                }
            }
        }

        // Names visible at top level, for resolving expressions.
        let top: HashMap<&str, &Field> = def
            .sections
            .iter()
            .flat_map(|s| s.fields.iter())
            .map(|f| (f.name.as_str(), f))
            .collect();
        let top_count: usize = def.sections.iter().map(|s| s.fields.len()).sum();
        if top.len() != top_count {
            let mut seen = BTreeSet::new();
            for f in def.sections.iter().flat_map(|s| s.fields.iter()) {
                if !seen.insert(f.name.as_str()) {
                    return Err(fail(Some(&f.name), "field name used twice".into()));
                }
            }
        }

        let mut fields = Vec::new();
        let mut section_ids = BTreeSet::new();
        for (si, section) in def.sections.iter().enumerate() {
            if !section_ids.insert(section.id.as_str()) {
                return Err(fail(
                    None,
                    format!("section id '{}' used twice", section.id),
                ));
            }
            let section_relevant = match &section.relevant {
                Some(src) => {
                    let c =
                        compile_expr(src, "relevant").map_err(|m| fail(Some(&section.id), m))?;
                    check_refs(&c, "relevant", &top, None)
                        .map_err(|m| fail(Some(&section.id), m))?;
                    vec![c]
                }
                None => Vec::new(),
            };
            for field in &section.fields {
                let compiled = compile_field(&def, field, si, &section_relevant, &top, None, "")
                    .map_err(|(path, m)| fail(Some(&path), m))?;
                fields.push(compiled);
            }
        }

        for name in &def.summary {
            if !top.contains_key(name.as_str()) {
                return Err(fail(None, format!("summary names unknown field '{name}'")));
            }
        }
        Ok(Self { def, fields })
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn compile_expr(src: &str, what: &str) -> Result<Compiled, String> {
    Compiled::parse(src).map_err(|e| format!("{what} expression '{src}' {e}"))
}

/// Every name an expression reads must be a field in scope: a sibling in the
/// same repeat entry, or a top-level field.
fn check_refs(
    c: &Compiled,
    what: &str,
    top: &HashMap<&str, &Field>,
    siblings: Option<&HashMap<&str, &Field>>,
) -> Result<(), String> {
    for (name, pos) in c.field_refs() {
        let known = siblings.is_some_and(|s| s.contains_key(name.as_str()))
            || top.contains_key(name.as_str());
        if !known {
            return Err(format!(
                "{what} expression '{}' at position {pos}: unknown field '{name}'",
                c.source()
            ));
        }
    }
    Ok(())
}

fn compile_field(
    def: &FormDef,
    field: &Field,
    section: usize,
    inherited: &[Compiled],
    top: &HashMap<&str, &Field>,
    siblings: Option<&HashMap<&str, &Field>>,
    prefix: &str,
) -> Result<CompiledField, (String, String)> {
    let path = format!("{prefix}{}", field.name);
    let fail = |m: String| (path.clone(), m);
    if !is_name(&field.name) {
        return Err(fail("field name must be lowercase ASCII snake_case".into()));
    }

    let mut relevant = inherited.to_vec();
    if let Some(src) = &field.relevant {
        let c = compile_expr(src, "relevant").map_err(fail)?;
        check_refs(&c, "relevant", top, siblings).map_err(fail)?;
        relevant.push(c);
    }
    let constraint = match &field.constraint {
        Some(con) => {
            let c = compile_expr(&con.expr, "constraint").map_err(fail)?;
            check_refs(&c, "constraint", top, siblings).map_err(fail)?;
            Some(c)
        }
        None => None,
    };

    match &field.kind {
        FieldKind::SingleChoice { list } | FieldKind::MultiChoice { list, .. }
            if !def.choice_lists.contains_key(list) =>
        {
            return Err(fail(format!("unknown choice list '{list}'")));
        }
        FieldKind::Photo { min, max } if min > max || *max == 0 => {
            return Err(fail(format!("photo min {min} / max {max} make no sense")));
        }
        FieldKind::Note if field.required || field.derived.is_some() => {
            return Err(fail(
                "a note holds no value: it cannot be required or derived".into(),
            ));
        }
        _ => {}
    }

    let calculation = match &field.derived {
        Some(Derivation::Calculate { expr }) => {
            let c = compile_expr(expr, "calculation").map_err(fail)?;
            check_refs(&c, "calculation", top, siblings).map_err(fail)?;
            if !matches!(
                field.kind,
                FieldKind::Text { .. }
                    | FieldKind::Integer { .. }
                    | FieldKind::Decimal { .. }
                    | FieldKind::Date { .. }
                    | FieldKind::Datetime
                    | FieldKind::SingleChoice { .. }
            ) {
                return Err(fail(format!(
                    "a calculation fills text, integer, decimal, date, datetime or single_choice fields, not {}",
                    field.kind.name()
                )));
            }
            Some(c)
        }
        _ => None,
    };

    let source = match &field.derived {
        Some(Derivation::CitizenId { field, .. }) => Some((field, "citizen_id")),
        Some(Derivation::Address { field, .. }) => Some((field, "address_ref")),
        Some(Derivation::Geotrace { field, .. }) => Some((field, "geotrace")),
        Some(Derivation::Calculate { .. }) | None => None,
    };
    if let Some((source, want)) = source {
        let found = siblings
            .and_then(|s| s.get(source.as_str()))
            .or_else(|| top.get(source.as_str()));
        match found {
            Some(f) if f.kind.name() == want => {}
            Some(f) => {
                return Err(fail(format!(
                    "derived from '{source}', which is a {} field, not {want}",
                    f.kind.name()
                )))
            }
            None => return Err(fail(format!("derived from unknown field '{source}'"))),
        }
    }

    if let Some(DefaultValue::Value(v)) = &field.default {
        if let FieldKind::SingleChoice { list } = &field.kind {
            let ok = v
                .as_str()
                .is_some_and(|s| def.choice_lists[list].iter().any(|c| c.value == s));
            if !ok {
                return Err(fail(format!("default {v} is not a choice of '{list}'")));
            }
        }
    }

    let children = match &field.kind {
        FieldKind::Repeat {
            fields, min, max, ..
        } => {
            if max.is_some_and(|m| m < *min) {
                return Err(fail(format!("repeat min {min} is above its max")));
            }
            if fields.is_empty() {
                return Err(fail("a repeat group needs fields".into()));
            }
            if siblings.is_some() {
                return Err(fail("repeat groups do not nest".into()));
            }
            let inner: HashMap<&str, &Field> =
                fields.iter().map(|f| (f.name.as_str(), f)).collect();
            if inner.len() != fields.len() {
                return Err(fail("a field name is used twice inside the group".into()));
            }
            let child_prefix = format!("{path}[].");
            fields
                .iter()
                .map(|f| compile_field(def, f, section, &[], top, Some(&inner), &child_prefix))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };

    let choices = match &field.kind {
        FieldKind::SingleChoice { list } | FieldKind::MultiChoice { list, .. } => def.choice_lists
            [list]
            .iter()
            .map(|c| c.value.clone())
            .collect(),
        _ => Vec::new(),
    };
    Ok(CompiledField {
        def: field.clone(),
        section,
        relevant,
        constraint,
        calculation,
        choices,
        children,
    })
}
