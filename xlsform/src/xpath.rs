//! XLSForm expressions (the XPath subset ODK forms use) to Beatbook's
//! expression language, and back.
//!
//! Import parses the XLSForm expression into a tree with byte spans and emits
//! Beatbook source that keeps the author's spacing: `${name}` becomes `name`,
//! `=` becomes `==`, `div` becomes `/`, `string-length(` becomes `len(`,
//! `count-selected(` becomes `count(`, `true()` becomes `true`, and a
//! comparison with `''` becomes `empty(…)` / `filled(…)` (an unanswered field
//! equals `''` in XPath; in Beatbook it is `null`). Beatbook's own spellings
//! (`&&`, `||`, `!`, `==`, `in [...]`, `empty()`, `filled()`, `len()`,
//! `days_between()`) are accepted as they are, so an exported form reads back
//! unchanged. Export rewrites Beatbook source token by token the other way.

use beatbook_schema::text::Text;

/// Why an expression could not be translated: where (a byte offset) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprError {
    pub pos: usize,
    pub message: Text,
}

fn fail<T>(pos: usize, zh: impl Into<String>, en: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        pos,
        message: Text::new(zh, en),
    })
}

/// The functions an imported expression may call, with their Beatbook
/// spelling and number of arguments.
const FUNCTIONS: &[(&str, &str, usize)] = &[
    ("selected", "selected", 2),
    ("count-selected", "count", 1),
    ("count", "count", 1),
    ("string-length", "len", 1),
    ("len", "len", 1),
    ("regex", "regex", 2),
    ("today", "today", 0),
    ("if", "if", 3),
    ("empty", "empty", 1),
    ("filled", "filled", 1),
    ("days_between", "days_between", 2),
];

/// The list shown when a function is not supported.
pub(crate) const SUPPORTED_FUNCTIONS: &str = "selected(), count-selected(), count(), \
string-length(), regex(), today(), if(), not(), true(), false()";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// `${name}`
    Ref(String),
    Num,
    /// A string literal's content (XPath has no escapes).
    Str(String),
    Name(String),
    Dot,
    DotDot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Op(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let next_byte = bytes.get(start + 1).copied();
        let (tok, len) = match c {
            '$' if next_byte == Some(b'{') => {
                let Some(close) = src[start..].find('}') else {
                    return fail(
                        start,
                        "“${”缺少对应的“}”",
                        "'${' has no closing '}': write ${field_name}",
                    );
                };
                let name = src[start + 2..start + close].trim().to_owned();
                (Tok::Ref(name), close + 1)
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Op("+"), 1),
            '-' => (Tok::Op("-"), 1),
            '*' => (Tok::Op("*"), 1),
            '/' => (Tok::Op("/"), 1),
            '=' if next_byte == Some(b'=') => (Tok::Op("=="), 2),
            '=' => (Tok::Op("="), 1),
            '!' if next_byte == Some(b'=') => (Tok::Op("!="), 2),
            '!' => (Tok::Op("!"), 1),
            '<' if next_byte == Some(b'=') => (Tok::Op("<="), 2),
            '<' => (Tok::Op("<"), 1),
            '>' if next_byte == Some(b'=') => (Tok::Op(">="), 2),
            '>' => (Tok::Op(">"), 1),
            '&' if next_byte == Some(b'&') => (Tok::Op("&&"), 2),
            '|' if next_byte == Some(b'|') => (Tok::Op("||"), 2),
            '|' => (Tok::Op("|"), 1),
            '\'' | '"' => {
                let Some(close) = src[start + 1..].find(c) else {
                    return fail(
                        start,
                        "字符串缺少结束引号",
                        "a text in quotes is not closed: add the closing quote",
                    );
                };
                (
                    Tok::Str(src[start + 1..start + 1 + close].to_owned()),
                    close + 2,
                )
            }
            '.' if next_byte == Some(b'.') => (Tok::DotDot, 2),
            '.' if next_byte.is_some_and(|b| b.is_ascii_digit()) => {
                (Tok::Num, number_len(&src[start..]))
            }
            '.' => (Tok::Dot, 1),
            '0'..='9' => (Tok::Num, number_len(&src[start..])),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = src[start..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || "_-:.".contains(ch)))
                    .unwrap_or(src.len() - start);
                (Tok::Name(src[start..start + len].to_owned()), len)
            }
            other => {
                return fail(
                    start,
                    format!("无法识别的字符“{other}”"),
                    format!("unexpected character '{other}'"),
                )
            }
        };
        out.push(Token {
            tok,
            start,
            end: start + len,
        });
        while chars.peek().is_some_and(|&(i, _)| i < start + len) {
            chars.next();
        }
    }
    Ok(out)
}

fn number_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len())
}

#[derive(Debug)]
enum Node {
    /// A number, string, `.`, or a bare `true` / `false` / `null`, emitted by [`literal`].
    Lit(usize, usize),
    /// `${name}`, resolved to a Beatbook field name.
    Ref(usize, usize, String),
    /// `true()` / `false()`.
    BoolCall(usize, usize, bool),
    Unary {
        op: (usize, usize),
        inner: Box<Node>,
    },
    Bin {
        op: (usize, usize, &'static str),
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `( … )`, `[ … ]`, or a call: an opening span, items, the closing bracket's end.
    Group {
        open: (usize, usize),
        rename: Option<&'static str>,
        items: Vec<Node>,
        end: usize,
    },
}

impl Node {
    fn start(&self) -> usize {
        match self {
            Node::Lit(s, _) | Node::Ref(s, _, _) | Node::BoolCall(s, _, _) => *s,
            Node::Unary { op, .. } => op.0,
            Node::Bin { lhs, .. } => lhs.start(),
            Node::Group { open, .. } => open.0,
        }
    }

    fn end(&self) -> usize {
        match self {
            Node::Lit(_, e) | Node::Ref(_, e, _) | Node::BoolCall(_, e, _) => *e,
            Node::Unary { inner, .. } => inner.end(),
            Node::Bin { rhs, .. } => rhs.end(),
            Node::Group { end, .. } => *end,
        }
    }
}

/// Nesting deeper than this is refused (Beatbook's parser refuses it too).
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    at: usize,
    depth: usize,
    resolve: &'a dyn Fn(&str) -> Result<String, Text>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.src.len(), |t| t.start)
    }

    fn span(&self) -> (usize, usize) {
        self.toks
            .get(self.at)
            .map_or((self.src.len(), self.src.len()), |t| (t.start, t.end))
    }

    /// The operator at the cursor if it is one of `ops` (words included), consumed.
    fn eat(&mut self, ops: &[&'static str]) -> Option<(usize, usize, &'static str)> {
        let word = match self.peek()? {
            Tok::Op(op) => ops.iter().find(|o| *o == op).copied(),
            Tok::Name(n) => ops.iter().find(|o| *o == n).copied(),
            _ => None,
        }?;
        let (s, e) = self.span();
        self.at += 1;
        Some((s, e, word))
    }

    fn nest(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return fail(
                self.pos(),
                "表达式嵌套太深",
                "the expression is nested too deeply",
            );
        }
        Ok(())
    }

    fn binary(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Self) -> Result<Node, ExprError>,
    ) -> Result<Node, ExprError> {
        let mut lhs = next(self)?;
        while let Some(op) = self.eat(ops) {
            let rhs = next(self)?;
            lhs = Node::Bin {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok(lhs)
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        self.binary(&["or", "||"], Self::and)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        self.binary(&["and", "&&"], Self::not)
    }

    fn not(&mut self) -> Result<Node, ExprError> {
        if let Some((s, e, _)) = self.eat(&["not", "!"]) {
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Node::Unary {
                op: (s, e),
                inner: Box::new(inner),
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Node, ExprError> {
        const CMP: [&str; 8] = ["=", "==", "!=", "<", "<=", ">", ">=", "in"];
        let lhs = self.add()?;
        let Some(op) = self.eat(&CMP) else {
            return Ok(lhs);
        };
        let rhs = self.add()?;
        if let Some(Tok::Op(o)) = self.peek() {
            if CMP.contains(o) {
                return fail(
                    self.pos(),
                    format!("比较不能连写，请在“{o}”前加 and"),
                    format!("comparisons do not chain: put 'and' before '{o}'"),
                );
            }
        }
        Ok(Node::Bin {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    fn add(&mut self) -> Result<Node, ExprError> {
        self.binary(&["+", "-"], Self::mul)
    }

    fn mul(&mut self) -> Result<Node, ExprError> {
        let lhs = self.binary(&["*", "/", "div"], Self::unary)?;
        if let Some(Tok::Name(n)) = self.peek() {
            if n == "mod" {
                return fail(
                    self.pos(),
                    "Beatbook 表达式不支持 mod（取余）",
                    "'mod' is not supported in Beatbook expressions: remove it",
                );
            }
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if let Some((s, e, _)) = self.eat(&["-"]) {
            self.nest()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Unary {
                op: (s, e),
                inner: Box::new(inner),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let (s, e) = self.span();
        let Some(tok) = self.peek().cloned() else {
            return fail(
                s,
                "表达式不完整",
                "the expression ends too early: complete it",
            );
        };
        self.at += 1;
        match tok {
            Tok::Num | Tok::Str(_) | Tok::Dot => Ok(Node::Lit(s, e)),
            Tok::Ref(name) => match (self.resolve)(&name) {
                Ok(resolved) => Ok(Node::Ref(s, e, resolved)),
                Err(message) => Err(ExprError { pos: s, message }),
            },
            Tok::LParen => self.group((s, e), None, Tok::RParen),
            Tok::LBracket => self.group((s, e), None, Tok::RBracket),
            Tok::DotDot => fail(
                s,
                "不支持“..”路径，请用 ${字段名} 引用字段",
                "'..' paths are not supported: refer to fields as ${name}",
            ),
            Tok::Op("/") => fail(
                s,
                "不支持 /data/... 路径，请用 ${字段名} 引用字段",
                "paths like /data/... are not supported: refer to fields as ${name}",
            ),
            Tok::Name(name) if self.peek() == Some(&Tok::LParen) => self.call(s, &name),
            Tok::Name(name) if ["true", "false", "null"].contains(&name.as_str()) => {
                Ok(Node::Lit(s, e))
            }
            Tok::Name(name) => fail(
                s,
                format!("“{name}”不是字段引用，请写成 ${{{name}}}"),
                format!("'{name}' is not a field reference: write ${{{name}}}"),
            ),
            other => fail(
                s,
                format!("此处不应出现 {}", describe(&other)),
                format!("unexpected {}", describe(&other)),
            ),
        }
    }

    fn call(&mut self, s: usize, name: &str) -> Result<Node, ExprError> {
        let open_end = self.span().1;
        self.at += 1; // '('
        if name == "true" || name == "false" {
            if self.peek() != Some(&Tok::RParen) {
                return fail(
                    s,
                    format!("{name}() 不带参数"),
                    format!("{name}() takes no arguments"),
                );
            }
            let end = self.span().1;
            self.at += 1;
            return Ok(Node::BoolCall(s, end, name == "true"));
        }
        let Some(&(_, beatbook, arity)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
            return fail(
                s,
                format!("Beatbook 表达式不支持函数 {name}()；支持：{SUPPORTED_FUNCTIONS}"),
                format!(
                    "function {name}() is not supported in Beatbook expressions; supported: {SUPPORTED_FUNCTIONS}"
                ),
            );
        };
        let node = self.group((s, open_end), Some(beatbook), Tok::RParen)?;
        if let Node::Group { items, .. } = &node {
            if items.len() != arity {
                return fail(
                    s,
                    format!("{name}() 需要 {arity} 个参数，实际 {} 个", items.len()),
                    format!("{name}() takes {arity} argument(s), got {}", items.len()),
                );
            }
        }
        Ok(node)
    }

    /// Items up to `close`, separated by commas (one item for parentheses).
    fn group(
        &mut self,
        open: (usize, usize),
        rename: Option<&'static str>,
        close: Tok,
    ) -> Result<Node, ExprError> {
        self.nest()?;
        let mut items = Vec::new();
        let paren = rename.is_none() && close == Tok::RParen;
        if self.peek() != Some(&close) || paren {
            loop {
                items.push(self.or()?);
                if self.peek() == Some(&Tok::Comma) && !paren {
                    self.at += 1;
                    continue;
                }
                break;
            }
        }
        let closing = if close == Tok::RParen { ")" } else { "]" };
        if self.peek() != Some(&close) {
            return fail(
                self.pos(),
                format!("缺少“{closing}”"),
                format!("expected '{closing}' here"),
            );
        }
        let end = self.span().1;
        self.at += 1;
        self.depth -= 1;
        Ok(Node::Group {
            open,
            rename,
            items,
            end,
        })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Op(o) => format!("'{o}'"),
        Tok::Ref(name) => format!("${{{name}}}"),
        Tok::Num => "a number".into(),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Name(n) => format!("'{n}'"),
        Tok::Dot => "'.'".into(),
        Tok::DotDot => "'..'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::Comma => "','".into(),
    }
}

/// Translates an XLSForm expression to Beatbook's language. `resolve` maps the
/// name inside `${…}` to the Beatbook field name, or says why it cannot.
pub(crate) fn to_beatbook(
    src: &str,
    resolve: &dyn Fn(&str) -> Result<String, Text>,
) -> Result<String, ExprError> {
    // Spreadsheets turn typed quotes into typographic ones; read them as typed.
    let src = &src.replace(['‘', '’'], "'").replace(['“', '”'], "\"");
    let toks = lex(src)?;
    if toks.is_empty() {
        return fail(0, "表达式为空", "the expression is empty");
    }
    let mut p = Parser {
        src,
        toks,
        at: 0,
        depth: 0,
        resolve,
    };
    let tree = p.or()?;
    if p.peek().is_some() {
        let pos = p.pos();
        return fail(
            pos,
            "完整表达式之后还有多余内容",
            "something follows a complete expression: remove it or join it with and / or",
        );
    }
    let mut out = String::new();
    emit(src, &tree, &mut out);
    Ok(out)
}

fn is_empty_string(src: &str, n: &Node) -> bool {
    matches!(n, Node::Lit(s, e) if matches!(&src[*s..*e], "''" | "\"\""))
}

fn emit(src: &str, n: &Node, out: &mut String) {
    match n {
        Node::Lit(s, e) => literal(&src[*s..*e], out),
        Node::Ref(_, _, name) => out.push_str(name),
        Node::BoolCall(_, _, b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Unary { op, inner } => {
            out.push_str(&src[op.0..op.1]);
            out.push_str(&src[op.1..inner.start()]);
            emit(src, inner, out);
        }
        Node::Bin { op, lhs, rhs }
            if matches!(op.2, "=" | "==" | "!=")
                && (is_empty_string(src, lhs) || is_empty_string(src, rhs)) =>
        {
            let other = if is_empty_string(src, rhs) { lhs } else { rhs };
            out.push_str(if op.2 == "!=" { "filled(" } else { "empty(" });
            emit(src, other, out);
            out.push(')');
        }
        Node::Bin { op, lhs, rhs } => {
            emit(src, lhs, out);
            out.push_str(&src[lhs.end()..op.0]);
            out.push_str(match op.2 {
                "=" => "==",
                "div" => "/",
                other => other,
            });
            out.push_str(&src[op.1..rhs.start()]);
            emit(src, rhs, out);
        }
        Node::Group {
            open,
            rename,
            items,
            end,
        } => {
            match rename {
                Some(name) => {
                    out.push_str(name);
                    out.push('(');
                }
                None => out.push_str(&src[open.0..open.1]),
            }
            let mut at = open.1;
            for item in items {
                out.push_str(&src[at..item.start()]);
                emit(src, item, out);
                at = item.end();
            }
            out.push_str(&src[at..*end]);
        }
    }
}

/// A literal as Beatbook writes it: numbers start with a digit, strings escape
/// backslashes (XPath strings have no escapes; Beatbook's do).
fn literal(text: &str, out: &mut String) {
    if text.starts_with('.') && text.len() > 1 {
        out.push('0');
        out.push_str(text);
    } else if (text.starts_with('\'') || text.starts_with('"')) && text.contains('\\') {
        let quote = &text[..1];
        out.push_str(quote);
        out.push_str(&text[1..text.len() - 1].replace('\\', "\\\\"));
        out.push_str(quote);
    } else {
        out.push_str(text);
    }
}

/// Writes a Beatbook expression the XLSForm way: fields as `${name}`, `=` for
/// `==`, `string-length()` for `len()`, `true()` / `false()`, strings without
/// escapes. [`to_beatbook`] reads the result back to the same source.
pub(crate) fn to_xlsform(src: &str) -> String {
    let mut out = String::new();
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '=' if src[i + 1..].starts_with('=') => {
                chars.next();
                out.push('=');
            }
            // `!=`, `<=`, `>=` keep their `=`.
            '!' | '<' | '>' if src[i + 1..].starts_with('=') => {
                chars.next();
                out.push(c);
                out.push('=');
            }
            '\'' | '"' => {
                let mut content = String::new();
                while let Some((_, ch)) = chars.next() {
                    match ch {
                        q if q == c => break,
                        '\\' => {
                            if let Some((_, esc)) = chars.next() {
                                content.push(esc);
                            }
                        }
                        ch => content.push(ch),
                    }
                }
                let quote = if content.contains('\'') { '"' } else { '\'' };
                out.push(quote);
                out.push_str(&content);
                out.push(quote);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &src[i..end];
                let call = src[end..].trim_start().starts_with('(');
                match word {
                    "len" if call => out.push_str("string-length"),
                    "true" | "false" if !call => {
                        out.push_str(word);
                        out.push_str("()");
                    }
                    "and" | "or" | "not" | "in" | "null" | "true" | "false" => out.push_str(word),
                    _ if call => out.push_str(word),
                    _ => {
                        out.push_str("${");
                        out.push_str(word);
                        out.push('}');
                    }
                }
            }
            '0'..='9' => {
                out.push(c);
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' {
                        out.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn resolve(name: &str) -> Result<String, Text> {
        match name {
            "missing" => Err(Text::new("没有", "no such field")),
            "Age" => Ok("age".into()),
            other => Ok(other.to_owned()),
        }
    }

    fn translate(src: &str) -> Result<String, ExprError> {
        to_beatbook(src, &resolve)
    }

    #[rstest]
    #[case("${a} = 'yes'", "a == 'yes'")]
    #[case("${Age} >= 18 and ${Age}<65", "age >= 18 and age<65")]
    #[case(
        "selected(${c}, 'x') or not(selected(${c}, 'y'))",
        "selected(c, 'x') or not(selected(c, 'y'))"
    )]
    #[case("count-selected(.) <= 2", "count(.) <= 2")]
    #[case("string-length(.) = 11", "len(.) == 11")]
    #[case("regex(., '^\\d{11}$')", "regex(., '^\\\\d{11}$')")]
    #[case(". <= today()", ". <= today()")]
    #[case("${a} div 2 + .5 * -${b}", "a / 2 + 0.5 * -b")]
    #[case("${a} != ''", "filled(a)")]
    #[case("'' = ${a}", "empty(a)")]
    #[case("${a} = true()", "a == true")]
    #[case("if(${a} > 1, 'many', 'one')", "if(a > 1, 'many', 'one')")]
    #[case("count(${kids})", "count(kids)")]
    #[case(
        "empty(${a}) || (. >= ${a} && days_between(${a}, .) <= 1)",
        "empty(a) || (. >= a && days_between(a, .) <= 1)"
    )]
    #[case(
        "${use} in ['rented', 'group_rented']",
        "use in ['rented', 'group_rented']"
    )]
    #[case("\"it's\" = ${a}", "\"it's\" == a")]
    #[case("${a} = ‘yes’ or ${a} = “no”", "a == 'yes' or a == \"no\"")]
    fn translates(#[case] src: &str, #[case] want: &str) {
        assert_eq!(translate(src).as_deref(), Ok(want), "{src}");
        beatbook_schema::expr::Compiled::parse(want).expect("Beatbook parses the translation");
    }

    #[rstest]
    #[case("${missing} = 1", 0, "no such field")]
    #[case("concat(${a}, 'x')", 0, "concat() is not supported")]
    #[case("${a} = 1 = 2", 9, "do not chain")]
    #[case("/data/a = 1", 0, "paths like /data")]
    #[case("../a = 1", 0, "'..' paths")]
    #[case("a = 1", 0, "write ${a}")]
    #[case("selected(${a})", 0, "takes 2 argument")]
    #[case("(${a} = 1", 9, "expected ')'")]
    #[case("${a} = 'x", 7, "not closed")]
    #[case("${a} mod 2", 5, "'mod'")]
    #[case("${a} = 1 ${b}", 9, "follows a complete expression")]
    #[case("${a", 0, "no closing '}'")]
    fn refuses_with_position(#[case] src: &str, #[case] pos: usize, #[case] needle: &str) {
        let e = translate(src).expect_err(src);
        assert_eq!(e.pos, pos, "{src}: {e:?}");
        assert!(e.message.en.contains(needle), "{src}: {}", e.message.en);
    }

    #[rstest]
    #[case("empty(rental_start) || . >= rental_start")]
    #[case("not (selected(., 'none') && count(.) > 1)")]
    #[case("len(.) == 6 && . >= 110000 && . <= 829999 && not ('e' in .) && not ('E' in .)")]
    #[case("use in ['rented', 'group_rented'] and x != 'a\\\\b' or true")]
    #[case("regex(., '^[0-9]{6}$') && if(a, \"it's\", 'b') == 'b'")]
    fn beatbook_source_survives_export_and_import(#[case] src: &str) {
        let xls = to_xlsform(src);
        assert_eq!(translate(&xls).as_deref(), Ok(src), "via {xls}");
    }

    /// Beatbook expressions as people write them, from a small grammar.
    fn beatbook_expr() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            "[a-c]|[a-c]_x|\\.".prop_map(String::from),
            (0u32..1000).prop_map(|n| n.to_string()),
            // Text with backslashes, escaped as Beatbook writes them (`\\`);
            // other escapes (`\a` for `a`) read back in their plain spelling,
            // and a comparison with '' as empty() / filled(), as XPath means it.
            "[a-z \\\\]{1,4}".prop_map(|t| format!("'{}'", t.replace('\\', "\\\\"))),
            Just("true".to_owned()),
            Just("today()".to_owned()),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    proptest::sample::select(vec!["==", "!=", "<", ">=", "+", "-", "*", "/"]),
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
                (
                    inner.clone(),
                    proptest::sample::select(vec!["&&", "||", "and", "or"]),
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
                inner.clone().prop_map(|a| format!("not ({a})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("selected({a}, {b})")),
                inner.clone().prop_map(|a| format!("len({a}) + count({a})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("if({a}, {b}, {c})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("{a} in [{b}, 'x']")),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_beatbook_expression_survives_export_and_import(src in beatbook_expr()) {
            proptest::prop_assume!(beatbook_schema::expr::Compiled::parse(&src).is_ok());
            let xls = to_xlsform(&src);
            proptest::prop_assert_eq!(translate(&xls), Ok(src.clone()), "via {}", xls);
        }

        #[test]
        fn translation_never_panics(src in "[a-z0-9 .'\"$(){}\\[\\],=!<>&|+*/‘’-]{0,40}") {
            if let Ok(out) = translate(&src) {
                // What it gives Beatbook, Beatbook's own parser takes.
                let _ = beatbook_schema::expr::Compiled::parse(&out);
            }
        }
    }

    #[test]
    fn export_writes_fields_as_references() {
        assert_eq!(
            to_xlsform("len(name) == 2 && selected(checks, 'x')"),
            "string-length(${name}) = 2 && selected(${checks}, 'x')"
        );
    }
}
