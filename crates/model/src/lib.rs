//! The domain model of entman: backup servers, cloud tenants, replicas and their
//! points, cloud failover plans, failover sessions, tasks and logon principals.
//!
//! This crate owns the vocabulary every other crate speaks. It performs no I/O: the
//! store persists these types, the engine changes them, and the representation crate
//! renders them. Enumerations carry their EM wire names (`as_str`) and parse them
//! back case-insensitively (`FromStr`), so a state can never be a free-form string.

pub mod auth;
pub mod clock;
pub mod ids;
pub mod job;
pub mod job_run;
pub mod job_session;
pub mod plan;
pub mod replica;
pub mod server;
pub mod session;
pub mod task;
pub mod tenant;
pub mod time;

pub use clock::{Clock, ClockMode};
pub use ids::*;
pub use time::Timestamp;

/// Error returned when a wire name does not name any variant of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{value}] is not a valid {kind}")]
pub struct UnknownVariant {
    /// The enumeration that was asked for, e.g. `session state`.
    pub kind: &'static str,
    /// The text that did not match.
    pub value: String,
}

/// Declares an enumeration whose variants have fixed EM wire names.
///
/// Generates `as_str`, `ALL` (in declaration order, which is also the documented
/// ordering used by comparisons), `Display` and a case-insensitive `FromStr`.
#[macro_export]
macro_rules! wire_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident ($kind:literal) { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* #[doc = concat!("EM name: `", $wire, "`.")] $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The EM wire name of this variant.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| $crate::UnknownVariant { kind: $kind, value: s.to_string() })
            }
        }
    };
}
