//! The filter syntax tree and its canonical printing.

use std::fmt;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
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
}

impl Op {
    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Applies the operator to an ordering of left against right.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ord == Equal,
            Op::Ne => ord != Equal,
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Gt => ord == Greater,
            Op::Ge => ord != Less,
        }
    }
}

/// One `field op value` comparison, with where its parts were in the filter text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The field name as written.
    pub field: String,
    /// The comparison operator.
    pub op: Op,
    /// The value with quotes removed (and `""` undoubled, blanks of bare values dropped).
    pub value: String,
    /// Whether the value was written in quotes.
    pub quoted: bool,
    /// Character position of the field in the filter.
    pub field_pos: usize,
    /// Character position of the value in the filter.
    pub value_pos: usize,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Any of the parts (`,`).
    Or(Vec<Filter>),
    /// All of the parts (`;`).
    And(Vec<Filter>),
    /// A comparison.
    Cmp(Comparison),
}

impl fmt::Display for Filter {
    /// Canonical text: groups parenthesised, every value quoted. Parsing the
    /// printed text gives the same filter (up to positions).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = |f: &mut fmt::Formatter<'_>, parts: &[Filter], sep: &str| {
            f.write_str("(")?;
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        match self {
            Filter::Or(parts) => group(f, parts, ","),
            Filter::And(parts) => group(f, parts, ";"),
            Filter::Cmp(c) => write!(
                f,
                "{}{}\"{}\"",
                c.field,
                c.op.as_str(),
                c.value.replace('"', "\"\"")
            ),
        }
    }
}

impl Filter {
    /// The same filter without positions, for comparing parses.
    pub fn without_positions(&self) -> Filter {
        match self {
            Filter::Or(p) => Filter::Or(p.iter().map(Filter::without_positions).collect()),
            Filter::And(p) => Filter::And(p.iter().map(Filter::without_positions).collect()),
            Filter::Cmp(c) => Filter::Cmp(Comparison {
                field_pos: 0,
                value_pos: 0,
                quoted: true,
                ..c.clone()
            }),
        }
    }
}
