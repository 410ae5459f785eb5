//! Evaluation. Total: every input yields a value, nothing panics.

use chrono::NaiveDate;

use super::parse::{BinOp, Expr, Func};

/// A runtime value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent, or the result of an operation that does not apply.
    Null,
    /// A truth value.
    Bool(bool),
    /// A number (integers and decimals alike).
    Num(f64),
    /// Text, including dates (`YYYY-MM-DD`, comparable as text).
    Str(String),
    /// A list: multi-choice answers, photos, repeat entries, list literals.
    List(Vec<Value>),
    /// A present value with no operations of its own (a geopoint, a repeat entry).
    Opaque,
}

impl Value {
    /// Truthiness: `null`, `false`, `0`, `""` and `[]` are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0 && !n.is_nan(),
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Opaque => true,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Str(s) => s.trim().is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Num),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(_) => Value::Opaque,
        }
    }
}

/// Where an expression finds its inputs.
pub trait Scope {
    /// The value of a field by name (resolved as the form's scoping rules say).
    fn field(&self, name: &str) -> Value;
    /// The value of the field being constrained (`.`).
    fn current(&self) -> Value;
    /// Today's date, for `today()` and date arithmetic.
    fn today(&self) -> Option<NaiveDate>;
}

pub(crate) fn eval(e: &Expr, s: &dyn Scope) -> Value {
    match e {
        Expr::Null => Value::Null,
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Num(n) => Value::Num(*n),
        Expr::Str(t) => Value::Str(t.clone()),
        Expr::List(items) => Value::List(items.iter().map(|i| eval(i, s)).collect()),
        Expr::Current => s.current(),
        Expr::Field(name, _) => s.field(name),
        Expr::Not(inner) => Value::Bool(!eval(inner, s).truthy()),
        Expr::Neg(inner) => match eval(inner, s) {
            Value::Num(n) => Value::Num(-n),
            _ => Value::Null,
        },
        Expr::Bin(BinOp::And, a, b) => Value::Bool(eval(a, s).truthy() && eval(b, s).truthy()),
        Expr::Bin(BinOp::Or, a, b) => Value::Bool(eval(a, s).truthy() || eval(b, s).truthy()),
        Expr::Bin(op, a, b) => binary(*op, eval(a, s), eval(b, s)),
        Expr::Call(f, args) => call(*f, args, s),
        Expr::Regex(text, pattern) => match eval(text, s) {
            Value::Str(t) => Value::Bool(pattern.is_match(&t)),
            Value::Num(n) => Value::Bool(pattern.is_match(&n.to_string())),
            _ => Value::Bool(false),
        },
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Str(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Num(_), Value::Str(_)) | (Value::Str(_), Value::Num(_)) => {
            matches!((number(a), number(b)), (Some(x), Some(y)) if x == y)
        }
        _ => a == b,
    }
}

fn binary(op: BinOp, a: Value, b: Value) -> Value {
    use std::cmp::Ordering;
    let ordering = || -> Option<Ordering> {
        match (&a, &b) {
            (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
            _ => number(&a)?.partial_cmp(&number(&b)?),
        }
    };
    let arith = |f: fn(f64, f64) -> Option<f64>| match (number(&a), number(&b)) {
        (Some(x), Some(y)) => f(x, y)
            .filter(|r| r.is_finite())
            .map_or(Value::Null, Value::Num),
        _ => Value::Null,
    };
    match op {
        BinOp::Eq => Value::Bool(loose_eq(&a, &b)),
        BinOp::Ne => Value::Bool(!loose_eq(&a, &b)),
        BinOp::Lt => Value::Bool(ordering() == Some(Ordering::Less)),
        BinOp::Le => Value::Bool(matches!(ordering(), Some(Ordering::Less | Ordering::Equal))),
        BinOp::Gt => Value::Bool(ordering() == Some(Ordering::Greater)),
        BinOp::Ge => Value::Bool(matches!(
            ordering(),
            Some(Ordering::Greater | Ordering::Equal)
        )),
        BinOp::In => Value::Bool(match (&a, &b) {
            (Value::Null, _) => false,
            (_, Value::List(items)) => items.iter().any(|i| loose_eq(&a, i)),
            (Value::Str(needle), Value::Str(hay)) => hay.contains(needle.as_str()),
            _ => false,
        }),
        BinOp::Add => match (&a, &b) {
            (Value::Str(x), Value::Str(y)) => Value::Str(format!("{x}{y}")),
            _ => arith(|x, y| Some(x + y)),
        },
        BinOp::Sub => arith(|x, y| Some(x - y)),
        BinOp::Mul => arith(|x, y| Some(x * y)),
        BinOp::Div => arith(|x, y| (y != 0.0).then(|| x / y)),
        BinOp::And | BinOp::Or => Value::Null, // handled with short-circuit above
    }
}

fn date(v: &Value) -> Option<NaiveDate> {
    match v {
        // Accept a datetime too: its first ten characters are its date.
        Value::Str(t) => NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn call(f: Func, args: &[Expr], s: &dyn Scope) -> Value {
    let arg = |i: usize| args.get(i).map_or(Value::Null, |e| eval(e, s));
    match f {
        Func::Selected => {
            let needle = arg(1);
            Value::Bool(match arg(0) {
                Value::List(items) => items.iter().any(|i| loose_eq(i, &needle)),
                Value::Null => false,
                single => loose_eq(&single, &needle),
            })
        }
        Func::Count => match arg(0) {
            Value::List(items) => Value::Num(items.len() as f64),
            Value::Null => Value::Num(0.0),
            _ => Value::Num(1.0),
        },
        Func::Len => match arg(0) {
            Value::Str(t) => Value::Num(t.chars().count() as f64),
            _ => Value::Num(0.0),
        },
        Func::Filled => Value::Bool(!arg(0).is_empty()),
        Func::Empty => Value::Bool(arg(0).is_empty()),
        Func::Today => s.today().map_or(Value::Null, |d| {
            Value::Str(d.format("%Y-%m-%d").to_string())
        }),
        Func::DaysBetween => match (date(&arg(0)), date(&arg(1))) {
            (Some(a), Some(b)) => Value::Num((b - a).num_days() as f64),
            _ => Value::Null,
        },
        // Only the branch taken is evaluated.
        Func::If => {
            if arg(0).truthy() {
                arg(1)
            } else {
                arg(2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::json;

    use super::super::Compiled;
    use super::*;

    struct Map(HashMap<&'static str, serde_json::Value>, serde_json::Value);

    impl Scope for Map {
        fn field(&self, name: &str) -> Value {
            self.0.get(name).map_or(Value::Null, Value::from)
        }
        fn current(&self) -> Value {
            Value::from(&self.1)
        }
        fn today(&self) -> Option<NaiveDate> {
            NaiveDate::from_ymd_opt(2026, 11, 28)
        }
    }

    fn scope() -> Map {
        Map(
            HashMap::from([
                ("use", json!("rented")),
                ("storeys", json!(6)),
                ("checks", json!(["no_extinguisher", "blocked_exit"])),
                (
                    "residents",
                    json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]),
                ),
                ("phone", json!("")),
                ("deadline", json!("2026-12-10")),
                ("name", json!("张三")),
            ]),
            json!(42),
        )
    }

    #[rstest]
    #[case("use in ['rented', 'group_rented']", true)]
    #[case("use in ['owner_occupied']", false)]
    #[case("use == 'rented' && storeys > 5", true)]
    #[case("use == 'rented' and storeys >= 7", false)]
    #[case("not (storeys < 3) or false", true)]
    #[case(". >= 1 && . <= 200", true)]
    #[case(". > 100", false)]
    #[case("selected(checks, 'blocked_exit')", true)]
    #[case("selected(checks, 'no_smoke_detector')", false)]
    #[case("count(residents) == 3", true)]
    #[case("count(missing) == 0", true)]
    #[case("filled(phone)", false)]
    #[case("empty(phone) && empty(missing)", true)]
    #[case("len(name) == 2", true)]
    #[case("deadline >= today()", true)]
    #[case("days_between(today(), deadline) == 12", true)]
    #[case("storeys / 0 == null", true)]
    #[case("missing > 3", false)]
    #[case("missing < 3", false)]
    #[case("-storeys + 10 == 4", true)]
    #[case("storeys == '6'", true)]
    #[case("'ab' + 'cd' == \"abcd\"", true)]
    #[case("regex(name, '^张')", true)]
    #[case("regex(use, '^[a-z]+$') && regex(storeys, '^[0-9]$')", true)]
    #[case("regex(use, 'rent')", true)]
    #[case("regex(use, '^rent$')", false)]
    #[case("regex(missing, '.*')", false)]
    #[case("regex(deadline, '^\\\\d{4}-\\\\d{2}-\\\\d{2}$')", true)]
    #[case("if(storeys > 5, 'high', 'low') == 'high'", true)]
    #[case("if(missing, 1, 2) == 2", true)]
    fn evaluates(#[case] src: &str, #[case] expected: bool) {
        let c = Compiled::parse(src).expect(src);
        assert_eq!(c.test(&scope()), expected, "{src}");
    }

    #[rstest]
    #[case("use = 'rented'", 4, "'=='")]
    #[case("use in ['a',", 12, "ends too early")]
    #[case("frobnicate(use)", 0, "unknown function 'frobnicate'")]
    #[case("count(a, b)", 0, "takes 1 argument")]
    #[case("a < b < c", 6, "do not chain")]
    #[case("(a", 2, "')'")]
    #[case("'open", 0, "unterminated")]
    #[case("a # b", 2, "unexpected character '#'")]
    #[case("", 0, "empty")]
    #[case("a b", 2, "after a complete expression")]
    #[case("a & b", 2, "'&&'")]
    #[case("regex(name, '[a-')", 0, "does not compile")]
    #[case("regex(name, pattern)", 0, "string literal")]
    #[case("regex(name)", 0, "takes 2 argument")]
    #[case("if(a, b)", 0, "takes 3 argument")]
    fn reports_errors_with_positions(#[case] src: &str, #[case] pos: usize, #[case] needle: &str) {
        let e = Compiled::parse(src).expect_err(src);
        assert_eq!(e.pos, pos, "{src}: {e}");
        assert!(e.message.contains(needle), "{src}: {e}");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let src = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Compiled::parse(&src).is_err());
        let src = format!("{}true", "!".repeat(10_000));
        assert!(Compiled::parse(&src).is_err());
    }

    #[test]
    fn field_refs_lists_each_name_once_with_its_first_position() {
        let c = Compiled::parse("use == 'x' || (use == 'y' && count(residents) > 0)").unwrap();
        assert_eq!(
            c.field_refs(),
            vec![("use".to_owned(), 0), ("residents".to_owned(), 35)]
        );
    }

    proptest! {
        #[test]
        fn parse_and_eval_never_panic(src in "[a-z0-9 .'()\\[\\],=!<>&|+*/-]{0,40}") {
            if let Ok(c) = Compiled::parse(&src) {
                let _ = c.eval(&scope());
            }
        }
    }
}
