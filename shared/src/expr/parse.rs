//! Lexer and recursive-descent parser. Positions are byte offsets into the source.

use std::fmt;

/// A syntax error at a byte offset of the expression's source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {pos}: {message}")]
pub struct ParseError {
    /// Byte offset where the problem starts.
    pub pos: usize,
    /// What is wrong.
    pub message: String,
}

/// Built-in functions. Their arity is checked when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `selected(field, 'value')`: the multi- or single-choice field includes the value.
    Selected,
    /// `count(x)`: number of items of a list (repeat entries, choices, photos); 0 for null.
    Count,
    /// `len(s)`: number of characters of a text; 0 for null.
    Len,
    /// `filled(x)`: the value is present and not empty.
    Filled,
    /// `empty(x)`: the value is absent or empty.
    Empty,
    /// `today()`: today's date as `YYYY-MM-DD`.
    Today,
    /// `days_between(a, b)`: whole days from date `a` to date `b`.
    DaysBetween,
    /// `if(condition, then, else)`: `then` when the condition holds, else `else`.
    If,
}

impl Func {
    fn lookup(name: &str) -> Option<(Self, usize)> {
        Some(match name {
            "selected" => (Self::Selected, 2),
            "count" => (Self::Count, 1),
            "len" => (Self::Len, 1),
            "filled" => (Self::Filled, 1),
            "empty" => (Self::Empty, 1),
            "today" => (Self::Today, 0),
            "days_between" => (Self::DaysBetween, 2),
            "if" => (Self::If, 3),
            _ => return None,
        })
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `&&`, `and`
    And,
    /// `||`, `or`
    Or,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`: membership in a list.
    In,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// An expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number literal.
    Num(f64),
    /// A string literal.
    Str(String),
    /// `[a, b, ...]`
    List(Vec<Expr>),
    /// `.`: the value of the field being constrained.
    Current,
    /// A field name, with its byte offset.
    Field(String, usize),
    /// `!x`, `not x`
    Not(Box<Expr>),
    /// `-x`
    Neg(Box<Expr>),
    /// `a op b`
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `f(args)`
    Call(Func, Vec<Expr>),
    /// `regex(text, 'pattern')`: the text contains a match of the pattern
    /// (anchor it with `^…$` to match the whole text); false for null.
    Regex(Box<Expr>, Pattern),
}

/// A regular expression compiled when the expression is parsed. Equal when
/// written the same.
#[derive(Debug, Clone)]
pub struct Pattern(regex_lite::Regex);

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// Patterns larger than this once compiled are refused (a form is not the place for them).
const MAX_PATTERN_BYTES: usize = 1 << 20;

impl Expr {
    pub(crate) fn visit_fields(&self, f: &mut dyn FnMut(&str, usize)) {
        match self {
            Expr::Field(name, pos) => f(name, *pos),
            Expr::List(items) | Expr::Call(_, items) => {
                items.iter().for_each(|e| e.visit_fields(f))
            }
            Expr::Not(e) | Expr::Neg(e) | Expr::Regex(e, _) => e.visit_fields(f),
            Expr::Bin(_, a, b) => {
                a.visit_fields(f);
                b.visit_fields(f);
            }
            Expr::Null | Expr::Bool(_) | Expr::Num(_) | Expr::Str(_) | Expr::Current => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Dot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Op(&'static str),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(n) => write!(f, "number {n}"),
            Tok::Str(s) => write!(f, "string '{s}'"),
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Dot => f.write_str("'.'"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
            Tok::Comma => f.write_str("','"),
            Tok::Op(op) => write!(f, "'{op}'"),
        }
    }
}

/// Nesting deeper than this is refused, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

fn err(pos: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        pos,
        message: message.into(),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            '+' => Some(Tok::Op("+")),
            '-' => Some(Tok::Op("-")),
            '*' => Some(Tok::Op("*")),
            '/' => Some(Tok::Op("/")),
            _ => None,
        };
        if let Some(tok) = single {
            chars.next();
            out.push((tok, pos));
            continue;
        }
        match c {
            '=' | '!' | '<' | '>' | '&' | '|' => {
                chars.next();
                let next = chars.peek().map(|&(_, n)| n);
                let op = match (c, next) {
                    ('=', Some('=')) => "==",
                    ('!', Some('=')) => "!=",
                    ('<', Some('=')) => "<=",
                    ('>', Some('=')) => ">=",
                    ('&', Some('&')) => "&&",
                    ('|', Some('|')) => "||",
                    ('!', _) => "!",
                    ('<', _) => "<",
                    ('>', _) => ">",
                    ('=', _) => return Err(err(pos, "use '==' to compare, not '='")),
                    _ => {
                        return Err(err(
                            pos,
                            format!("unexpected '{c}'; did you mean '{c}{c}'?"),
                        ))
                    }
                };
                if op.len() == 2 {
                    chars.next();
                }
                out.push((Tok::Op(op), pos));
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e)) => s.push(e),
                            None => return Err(err(pos, "unterminated string")),
                        },
                        Some((_, ch)) => s.push(ch),
                        None => return Err(err(pos, "unterminated string")),
                    }
                }
                out.push((Tok::Str(s), pos));
            }
            '0'..='9' => {
                let mut end = pos;
                while let Some(&(i, d)) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' {
                        end = i + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let text = &src[pos..end];
                let n = text
                    .parse::<f64>()
                    .map_err(|_| err(pos, format!("'{text}' is not a number")))?;
                out.push((Tok::Num(n), pos));
            }
            '.' => {
                chars.next();
                out.push((Tok::Dot, pos));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = pos;
                while let Some(&(i, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        end = i + 1;
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push((Tok::Ident(src[pos..end].to_owned()), pos));
            }
            other => return Err(err(pos, format!("unexpected character '{other}'"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    end: usize,
    depth: usize,
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(err(0, "empty expression"));
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: src.len(),
        depth: 0,
    };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(tok) => Err(err(
            p.pos(),
            format!("unexpected {tok} after a complete expression"),
        )),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |&(_, p)| p)
    }

    fn eat_op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        let found = match self.peek() {
            Some(Tok::Op(op)) if ops.contains(op) => Some(*op),
            Some(Tok::Ident(w)) if w == "and" && ops.contains(&"&&") => Some("&&"),
            Some(Tok::Ident(w)) if w == "or" && ops.contains(&"||") => Some("||"),
            Some(Tok::Ident(w)) if w == "not" && ops.contains(&"!") => Some("!"),
            Some(Tok::Ident(w)) if w == "in" && ops.contains(&"in") => Some("in"),
            _ => None,
        };
        if found.is_some() {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(t) if *t == want => {
                self.at += 1;
                Ok(())
            }
            Some(t) => Err(err(self.pos(), format!("expected {what}, found {t}"))),
            None => Err(err(self.pos(), format!("expected {what} before the end"))),
        }
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(self.pos(), "expression nested too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.and()?;
        while self.eat_op(&["||"]).is_some() {
            let rhs = self.and()?;
            lhs = Expr::Bin(BinOp::Or, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.not()?;
        while self.eat_op(&["&&"]).is_some() {
            let rhs = self.not()?;
            lhs = Expr::Bin(BinOp::And, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_op(&["!"]).is_some() {
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let lhs = self.add()?;
        let Some(op) = self.eat_op(&["==", "!=", "<", "<=", ">", ">=", "in"]) else {
            return Ok(lhs);
        };
        let op = match op {
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            _ => BinOp::In,
        };
        let rhs = self.add()?;
        if let Some(Tok::Op(o @ ("==" | "!=" | "<" | "<=" | ">" | ">="))) = self.peek() {
            return Err(err(
                self.pos(),
                format!("comparisons do not chain; use '&&' before '{o}'"),
            ));
        }
        Ok(Expr::Bin(op, Box::new(lhs), Box::new(rhs)))
    }

    fn add(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.mul()?;
        while let Some(op) = self.eat_op(&["+", "-"]) {
            let rhs = self.mul()?;
            let op = if op == "+" { BinOp::Add } else { BinOp::Sub };
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn mul(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.eat_op(&["*", "/"]) {
            let rhs = self.unary()?;
            let op = if op == "*" { BinOp::Mul } else { BinOp::Div };
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_op(&["-"]).is_some() {
            self.nest()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Neg(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let pos = self.pos();
        let Some(tok) = self.peek().cloned() else {
            return Err(err(pos, "expression ends too early"));
        };
        self.at += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Dot => Ok(Expr::Current),
            Tok::LParen => {
                self.nest()?;
                let e = self.or()?;
                self.depth -= 1;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::LBracket => {
                self.nest()?;
                let items = self.list(Tok::RBracket, "']'")?;
                self.depth -= 1;
                Ok(Expr::List(items))
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                "null" => Ok(Expr::Null),
                "and" | "or" | "not" | "in" => {
                    Err(err(pos, format!("'{name}' needs an operand before it")))
                }
                "regex" if self.peek() == Some(&Tok::LParen) => {
                    self.at += 1;
                    self.nest()?;
                    let args = self.list(Tok::RParen, "')'")?;
                    self.depth -= 1;
                    regex_call(pos, args)
                }
                _ if self.peek() == Some(&Tok::LParen) => {
                    self.at += 1;
                    let (func, arity) = Func::lookup(&name)
                        .ok_or_else(|| err(pos, format!("unknown function '{name}'")))?;
                    self.nest()?;
                    let args = self.list(Tok::RParen, "')'")?;
                    self.depth -= 1;
                    if args.len() != arity {
                        return Err(err(
                            pos,
                            format!("'{name}' takes {arity} argument(s), got {}", args.len()),
                        ));
                    }
                    Ok(Expr::Call(func, args))
                }
                _ => Ok(Expr::Field(name, pos)),
            },
            other => Err(err(pos, format!("unexpected {other}"))),
        }
    }

    fn list(&mut self, close: Tok, what: &str) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if self.peek() == Some(&close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.or()?);
            match self.peek() {
                Some(Tok::Comma) => self.at += 1,
                Some(t) if *t == close => {
                    self.at += 1;
                    return Ok(items);
                }
                Some(t) => {
                    return Err(err(
                        self.pos(),
                        format!("expected ',' or {what}, found {t}"),
                    ))
                }
                None => return Err(err(self.pos(), format!("expected {what} before the end"))),
            }
        }
    }
}

/// `regex(text, 'pattern')`: the pattern must be a string literal, compiled now
/// so a bad pattern is a load error rather than a silent `false` later.
fn regex_call(pos: usize, mut args: Vec<Expr>) -> Result<Expr, ParseError> {
    if args.len() != 2 {
        return Err(err(
            pos,
            format!("'regex' takes 2 argument(s), got {}", args.len()),
        ));
    }
    let Some(Expr::Str(pattern)) = args.pop() else {
        return Err(err(
            pos,
            "the pattern of 'regex' must be a string literal, e.g. regex(., '^[0-9]{6}$')",
        ));
    };
    let compiled = regex_lite::RegexBuilder::new(&pattern)
        .size_limit(MAX_PATTERN_BYTES)
        .build()
        .map_err(|e| {
            err(
                pos,
                format!("regex pattern '{pattern}' does not compile: {e}"),
            )
        })?;
    let text = args.pop().unwrap_or(Expr::Null);
    Ok(Expr::Regex(Box::new(text), Pattern(compiled)))
}
