//! A small, safe expression language for form relevance and constraints.
//!
//! ```text
//! use in ['rented', 'group_rented']          relevance: rental fields
//! . >= 1 && . <= 200                          constraint: `.` is the field's own value
//! selected(checks, 'no_extinguisher')         multi-choice membership
//! count(residents) >= 1 and filled(phone)     repeat-group size, presence
//! regex(., '^[0-9]{6}$')                      the text contains a match (anchor it)
//! if(storeys > 6, 'high_rise', 'low_rise')    a value chosen by a condition
//! ```
//!
//! Expressions are parsed once, when a form loads; a bad expression is a load
//! error naming the position. Field names are resolved against the form then,
//! too, so evaluation only ever looks up names that exist. Evaluation never
//! panics: a type mismatch or a missing value yields `null`, which is falsy.

mod eval;
mod parse;

pub use eval::{Scope, Value};
pub use parse::{Expr, ParseError};

use std::collections::BTreeSet;

/// A parsed expression with its source text kept for messages and round trips.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    source: String,
    expr: Expr,
}

impl Compiled {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        Ok(Self {
            source: source.to_owned(),
            expr: parse::parse(source)?,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every field name the expression reads, with the byte offset of its first use.
    pub fn field_refs(&self) -> Vec<(String, usize)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        self.expr.visit_fields(&mut |name, pos| {
            if seen.insert(name.to_owned()) {
                out.push((name.to_owned(), pos));
            }
        });
        out
    }

    /// Evaluates to a value.
    pub fn eval(&self, scope: &dyn Scope) -> Value {
        eval::eval(&self.expr, scope)
    }

    /// Evaluates to a truth value (`null`, `false`, `0`, `""` and `[]` are false).
    pub fn test(&self, scope: &dyn Scope) -> bool {
        self.eval(scope).truthy()
    }
}
