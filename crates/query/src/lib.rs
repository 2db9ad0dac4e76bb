//! EM's query language (query.md): filter text → [`ast::Filter`] → a
//! [`check::CheckedQuery`] bound to one query type's fields → parameterized SQL
//! ([`sql`]), with sorting and paging.

pub mod ast;
pub mod check;
pub mod error;
pub mod eval;
pub mod parse;
pub mod schema;
pub mod sql;

pub use ast::{Comparison, Filter, Op};
pub use check::{check_query, CheckedQuery, Direction};
pub use error::{QueryError, QueryErrorKind};
pub use parse::parse;
pub use schema::{QueryType, TypeLookup};
