//! Query errors: what was wrong and where.

use std::fmt;

/// A query error with the 0-based character position in the filter (when it
/// concerns the filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// 0-based character position in the filter (0 when not about the filter).
    pub position: usize,
    /// What was wrong.
    pub kind: QueryErrorKind,
}

/// What was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// The filter is longer than the limit (the limit).
    TooLong(usize),
    /// The filter nests groups deeper than the limit (the limit).
    TooDeep(usize),
    /// A character that cannot start anything here.
    Unexpected(char),
    /// A `)` without its `(`.
    UnbalancedClose,
    /// A `(` that is never closed (its position).
    UnclosedGroup(usize),
    /// A comparison was expected, e.g. after `,` or `;` or in an empty group.
    ExpectedComparison,
    /// A field name was expected; the character found instead.
    ExpectedField(char),
    /// An operator was expected after the field (the field).
    ExpectedOperator(String),
    /// A value was expected after the operator.
    ExpectedValue,
    /// A quoted value without its closing quote.
    UnclosedQuote,
    /// A quote inside a value that did not start with one.
    QuoteInBareValue,
    /// A field the type does not have.
    UnknownField {
        /// The field as written.
        field: String,
        /// The query type.
        type_name: &'static str,
    },
    /// A value that does not fit the field.
    BadValue {
        /// The field as written.
        field: String,
        /// The value as written.
        value: String,
        /// What the field accepts.
        expected: String,
    },
    /// An operator that does not apply to the field.
    BadOperator {
        /// The field as written.
        field: String,
        /// The operator as written.
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
