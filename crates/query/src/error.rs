//! Query errors: what was wrong and where.

use std::fmt;

/// A query error with the 0-based character position in the filter (when it
/// concerns the filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub position: usize,
    pub kind: QueryErrorKind,
}

/// What was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryErrorKind {
    TooLong(usize),
    TooDeep(usize),
    Unexpected(char),
    UnbalancedClose,
    UnclosedGroup(usize),
    ExpectedComparison,
    ExpectedField(char),
    ExpectedOperator(String),
    ExpectedValue,
    UnclosedQuote,
    QuoteInBareValue,
    /// A field the type does not have.
    UnknownField {
        field: String,
        type_name: &'static str,
    },
    /// A value that does not fit the field.
    BadValue {
        field: String,
        value: String,
        expected: String,
    },
    /// An operator that does not apply to the field.
    BadOperator {
        field: String,
        op: &'static str,
    },
}

impl QueryError {
    /// An error at a position.
    pub fn at(position: usize, kind: QueryErrorKind) -> QueryError {
        QueryError { position, kind }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use QueryErrorKind::*;
        match &self.kind {
            TooLong(n) => write!(f, "the filter is longer than {n} characters"),
            TooDeep(n) => write!(f, "the filter is nested more than {n} levels deep"),
            Unexpected(c) => write!(f, "unexpected character '{c}'"),
            UnbalancedClose => f.write_str("')' without a matching '('"),
            UnclosedGroup(open) => write!(f, "the group opened at position {open} is not closed"),
            ExpectedComparison => f.write_str("expected a comparison"),
            ExpectedField(c) => write!(f, "expected a field name, found '{c}'"),
            ExpectedOperator(field) => write!(
                f,
                "expected an operator (==, !=, <, <=, >, >=) after field [{field}]"
            ),
            ExpectedValue => f.write_str("expected a value"),
            UnclosedQuote => f.write_str("unclosed quoted value"),
            QuoteInBareValue => {
                f.write_str("quote inside an unquoted value (quote the whole value)")
            }
            UnknownField { field, type_name } => {
                write!(f, "[{field}] is not a field of {type_name}")
            }
            BadValue {
                field,
                value,
                expected,
            } => write!(
                f,
                "[{value}] is not a valid value for [{field}]: {expected} expected"
            ),
            BadOperator { field, op } => write!(f, "operator {op} cannot be used with [{field}]"),
        }?;
        write!(f, " at position {}", self.position)
    }
}

impl std::error::Error for QueryError {}
