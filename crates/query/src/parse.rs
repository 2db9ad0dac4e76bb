//! The filter parser (query.md §5.2).
//!
//! ```ebnf
//! filter      = ws , [ disjunction ] , ws ;
//! disjunction = conjunction , { ws , "," , ws , conjunction } ;   (* "," is OR  *)
//! conjunction = primary , { ws , ";" , ws , primary } ;           (* ";" is AND *)
//! primary     = "(" , ws , disjunction , ws , ")" | comparison ;
//! comparison  = field , ws , operator , ws , value ;
//! field       = letter , { letter | digit | "_" } ;
//! operator    = "==" | "!=" | ">=" | "<=" | ">" | "<" ;          (* longest match first *)
//! value       = quoted | bare ;
//! quoted      = '"' , { qchar | '""' } , '"' ;                     (* "" inside quotes is one " *)
//! bare        = bchar , { bchar | wsc } ;                         (* whitespace inside is dropped *)
//! bchar       = ? any character except '"', ";", ",", "(", ")", space, tab ? ;
//! ws          = { " " | "\t" } ;
//! ```
//!
//! `;` (AND) binds tighter than `,` (OR); parentheses group. Every error names
//! what was wrong and the character position (0-based) where it was found.

use crate::ast::{Comparison, Filter, Op};
use crate::error::{QueryError, QueryErrorKind};

/// Longest accepted filter, in characters (query.md §5.1).
pub const MAX_FILTER_CHARS: usize = 4096;
/// Deepest accepted nesting of parentheses.
pub const MAX_DEPTH: usize = 64;

/// Parses a filter; `Ok(None)` for an empty (or all-blank) filter.
pub fn parse(text: &str) -> Result<Option<Filter>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_FILTER_CHARS {
        return Err(QueryError::at(
            MAX_FILTER_CHARS,
            QueryErrorKind::TooLong(MAX_FILTER_CHARS),
        ));
    }
    let mut p = Parser {
        chars,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.at_end() {
        return Ok(None);
    }
    let filter = p.disjunction()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(Some(filter)),
        Some(')') => Err(QueryError::at(p.pos, QueryErrorKind::UnbalancedClose)),
        Some(c) => Err(QueryError::at(p.pos, QueryErrorKind::Unexpected(c))),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn disjunction(&mut self) -> Result<Filter, QueryError> {
        let mut parts = vec![self.conjunction()?];
        loop {
            self.skip_ws();
            if self.peek() != Some(',') {
                break;
            }
            self.pos += 1;
            self.skip_ws();
            parts.push(self.conjunction()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn conjunction(&mut self) -> Result<Filter, QueryError> {
        let mut parts = vec![self.primary()?];
        loop {
            self.skip_ws();
            if self.peek() != Some(';') {
                break;
            }
            self.pos += 1;
            self.skip_ws();
            parts.push(self.primary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn primary(&mut self) -> Result<Filter, QueryError> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                let open = self.pos;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(QueryError::at(open, QueryErrorKind::TooDeep(MAX_DEPTH)));
                }
                self.pos += 1;
                self.skip_ws();
                let inner = self.disjunction()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(QueryError::at(
                        self.pos,
                        QueryErrorKind::UnclosedGroup(open),
                    ));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            None => Err(QueryError::at(self.pos, QueryErrorKind::ExpectedComparison)),
            Some(_) => self.comparison().map(Filter::Cmp),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, QueryError> {
        let field_pos = self.pos;
        let field = self.field()?;
        self.skip_ws();
        let op_pos = self.pos;
        let op = self.operator().ok_or_else(|| {
            QueryError::at(op_pos, QueryErrorKind::ExpectedOperator(field.clone()))
        })?;
        self.skip_ws();
        let value_pos = self.pos;
        let (value, quoted) = self.value()?;
        Ok(Comparison {
            field,
            op,
            value,
            quoted,
            field_pos,
            value_pos,
        })
    }

    fn field(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => {}
            Some(c) => return Err(QueryError::at(start, QueryErrorKind::ExpectedField(c))),
            None => return Err(QueryError::at(start, QueryErrorKind::ExpectedComparison)),
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn operator(&mut self) -> Option<Op> {
        let two: String = self.chars.iter().skip(self.pos).take(2).collect();
        let (op, len) = match two.as_str() {
            "==" => (Op::Eq, 2),
            "!=" => (Op::Ne, 2),
            ">=" => (Op::Ge, 2),
            "<=" => (Op::Le, 2),
            _ => match self.peek()? {
                '>' => (Op::Gt, 1),
                '<' => (Op::Lt, 1),
                _ => return None,
            },
        };
        self.pos += len;
        Some(op)
    }

    fn value(&mut self) -> Result<(String, bool), QueryError> {
        let start = self.pos;
        if self.peek() == Some('"') {
            self.pos += 1;
            let mut out = String::new();
            loop {
                match self.peek() {
                    None => return Err(QueryError::at(start, QueryErrorKind::UnclosedQuote)),
                    Some('"') if self.chars.get(self.pos + 1) == Some(&'"') => {
                        out.push('"');
                        self.pos += 2;
                    }
                    Some('"') => {
                        self.pos += 1;
                        return Ok((out, true));
                    }
                    Some(c) => {
                        out.push(c);
                        self.pos += 1;
                    }
                }
            }
        }
        let mut out = String::new();
        while let Some(c) = self.peek() {
            match c {
                '"' => return Err(QueryError::at(self.pos, QueryErrorKind::QuoteInBareValue)),
                ';' | ',' | '(' | ')' => break,
                ' ' | '\t' => self.pos += 1,
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        if out.is_empty() {
            return Err(QueryError::at(start, QueryErrorKind::ExpectedValue));
        }
        Ok((out, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .map(|f| f.to_string())
            .unwrap_or_default()
    }

    fn err(s: &str) -> (usize, String) {
        let e = parse(s).expect_err(s);
        (e.position, e.to_string())
    }

    macro_rules! parses {
        ($($name:ident: $input:expr => $printed:expr;)*) => {$(
            #[test]
            fn $name() { assert_eq!(ok($input), $printed); }
        )*};
    }

    parses! {
        comparison_with_quoted_value: r#"name=="Exchange Backup""# => r#"name=="Exchange Backup""#;
        and: "jobtype==backup;platform==hyperv" => r#"(jobtype=="backup";platform=="hyperv")"#;
        grouping: "(jobtype==replica;scheduleconfigured==false),(jobtype==backup;scheduleconfigured==true)"
            => r#"((jobtype=="replica";scheduleconfigured=="false"),(jobtype=="backup";scheduleconfigured=="true"))"#;
        and_binds_tighter_than_or: "a==1,b==2;c==3" => r#"(a=="1",(b=="2";c=="3"))"#;
        bare_enum: "Result==failed" => r#"Result=="failed""#;
        quoted_names: r#"BackupServerName=="172.24.31.67";CloudTenantName=="ABC Company""#
            => r#"(BackupServerName=="172.24.31.67";CloudTenantName=="ABC Company")"#;
        bare_version: "Version==11.0.0.837" => r#"Version=="11.0.0.837""#;
        dates: r#"result=="Failed";creationtime>"2019-07-01T04:00:16Z""#
            => r#"(result=="Failed";creationtime>"2019-07-01T04:00:16Z")"#;
        veeam_client_group: r#"jobname=="X";(result=="Success",result=="Warning");creationtime>"2019-07-01T04:00:16Z""#
            => r#"(jobname=="X";(result=="Success",result=="Warning");creationtime>"2019-07-01T04:00:16Z")"#;
        date_only: r#"result=="Failed";endtime>"2019-06-30""# => r#"(result=="Failed";endtime>"2019-06-30")"#;
        all_operators: "a!=1;b>=2;c<=3;d>4;e<5" => r#"(a!="1";b>="2";c<="3";d>"4";e<"5")"#;
        spaces_are_ignored_outside_quotes: " Name == ABC Company ; x<1 " => r#"(Name=="ABCCompany";x<"1")"#;
        doubled_quotes: r#"Name=="say ""hi""""# => r#"Name=="say ""hi""""#;
        bare_values_may_hold_operators: "Name==a=b<c>d!e" => r#"Name=="a=b<c>d!e""#;
        hostile_values_are_values: r#"Name=="'; DROP TABLE x; --""# => r#"Name=="'; DROP TABLE x; --""#;
        empty_quoted_value: r#"Description=="""# => r#"Description=="""#;
    }

    #[test]
    fn an_empty_filter_is_no_filter() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("  \t ").unwrap(), None);
    }

    macro_rules! fails {
        ($($name:ident: $input:expr => ($pos:expr, $msg:expr);)*) => {$(
            #[test]
            fn $name() {
                let (pos, msg) = err($input);
                assert_eq!(pos, $pos, "{msg}");
                assert!(msg.contains($msg), "{msg}");
            }
        )*};
    }

    fails! {
        single_equals: "Name=x" => (4, "expected an operator");
        missing_value: "Name==" => (6, "expected a value");
        missing_value_before_and: "Name==;x==1" => (6, "expected a value");
        unclosed_quote: "Name==\"abc" => (6, "unclosed quoted value");
        unclosed_group: "(a==1;b==2" => (10, "group opened at position 0 is not closed");
        stray_close: "a==1)" => (4, "')' without a matching '('");
        field_must_start_with_a_letter: "1a==2" => (0, "expected a field name");
        dangling_and: "a==1;" => (5, "expected a comparison");
        dangling_or: "a==1," => (5, "expected a comparison");
        quote_inside_bare: "a==b\"c" => (4, "quote inside an unquoted value");
        empty_group: "()" => (1, "expected a field name");
        text_after_quoted_value: "a==\"b\"c" => (6, "unexpected character 'c'");
    }

    #[test]
    fn deep_nesting_and_long_filters_are_refused() {
        let deep = "(".repeat(100) + "a==1" + &")".repeat(100);
        assert!(err(&deep).1.contains("nested"));
        let long = format!("a==\"{}\"", "x".repeat(5000));
        assert!(err(&long).1.contains("longer than"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::ast::{Comparison, Filter, Op};
    use proptest::prelude::*;

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Eq),
            Just(Op::Ne),
            Just(Op::Lt),
            Just(Op::Le),
            Just(Op::Gt),
            Just(Op::Ge)
        ]
    }

    fn comparison() -> impl Strategy<Value = Filter> {
        ("[A-Za-z][A-Za-z0-9_]{0,12}", op(), ".{0,20}").prop_map(|(field, op, value)| {
            Filter::Cmp(Comparison {
                field,
                op,
                value,
                quoted: true,
                field_pos: 0,
                value_pos: 0,
            })
        })
    }

    fn filter() -> impl Strategy<Value = Filter> {
        comparison().prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
                proptest::collection::vec(inner, 2..4).prop_map(Filter::And),
            ]
        })
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_the_same_filter(f in filter()) {
            let printed = f.to_string();
            prop_assume!(printed.chars().count() <= MAX_FILTER_CHARS);
            let parsed = parse(&printed).unwrap().unwrap();
            prop_assert_eq!(parsed.without_positions(), f.without_positions());
        }

        #[test]
        fn arbitrary_text_never_panics_and_errors_point_inside_it(s in ".{0,120}") {
            if let Err(e) = parse(&s) {
                prop_assert!(e.position <= s.chars().count());
            }
        }

        #[test]
        fn filter_like_text_never_panics(s in "[a-zA-Z0-9 =!<>;,()\"_.:-]{0,80}") {
            let _ = parse(&s);
        }
    }
}
