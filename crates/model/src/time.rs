//! Timestamps: UTC instants with EM's wire format.
//!
//! Output is `yyyy-MM-ddTHH:mm:ss[.fffffff]Z` with trailing zeros of the fraction
//! removed (and the dot too when the fraction is zero), as the .NET serializer writes.
//! Input accepts ISO 8601 with `Z` or an offset and 0–7 fraction digits, a value
//! without offset (taken as UTC) and a bare date (midnight UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use std::fmt;

/// A UTC instant with microsecond precision (what both storage backends keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Wraps a chrono instant, truncating it to microseconds.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        let micros = dt.timestamp_micros();
        Self::from_micros(micros)
    }

    /// Builds a timestamp from microseconds since the Unix epoch.
    pub fn from_micros(micros: i64) -> Self {
        Self(DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// Microseconds since the Unix epoch (the stored form).
    pub fn micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The chrono instant.
    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// This instant shifted by a signed number of milliseconds.
    pub fn plus_millis(&self, ms: i64) -> Self {
        Self::from_micros(self.micros().saturating_add(ms.saturating_mul(1000)))
    }

    /// `yyyy-MM-dd HH:mm:ss`, used inside display names such as `filesrv03@2025-06-22 20:01:11`.
    pub fn display_name_form(&self) -> String {
        self.0.format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// Parses EM input forms; see the module documentation.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Self::from_datetime(dt.with_timezone(&Utc)));
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S%.f",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Self::from_datetime(Utc.from_utc_datetime(&naive)));
            }
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|naive| Self::from_datetime(Utc.from_utc_datetime(&naive)))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid date-time [{s}]")))
    }
}

impl fmt::Display for Timestamp {
    /// EM wire format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::Datelike;
        let d = &self.0;
        if (0..=9999).contains(&d.year()) {
            // By hand: chrono's strftime interpreter was a visible share of
            // rendering a page of 100 sessions.
            write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )?;
        } else {
            write!(f, "{}", d.format("%Y-%m-%dT%H:%M:%S"))?;
        }
        let micros = self.0.nanosecond() / 1000 % 1_000_000;
        if micros != 0 {
            let digits = format!("{micros:06}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_like_the_dotnet_serializer() {
        let t = |s| Timestamp::parse(s).unwrap().to_string();
        assert_eq!(t("2020-05-06T20:29:45.077Z"), "2020-05-06T20:29:45.077Z");
        assert_eq!(t("2020-05-06T20:29:50.130Z"), "2020-05-06T20:29:50.13Z");
        assert_eq!(t("2015-12-07T17:38:16.000Z"), "2015-12-07T17:38:16Z");
        assert_eq!(
            t("2015-12-29T15:13:37.7418767Z"),
            "2015-12-29T15:13:37.741876Z"
        );
    }

    #[test]
    fn accepts_em_input_forms() {
        let t = |s| Timestamp::parse(s).map(|t| t.to_string());
        assert_eq!(t("2019-06-30").as_deref(), Some("2019-06-30T00:00:00Z"));
        assert_eq!(
            t("2019-07-01T04:00:16").as_deref(),
            Some("2019-07-01T04:00:16Z")
        );
        assert_eq!(
            t("2019-07-01T06:00:16+02:00").as_deref(),
            Some("2019-07-01T04:00:16Z")
        );
        assert_eq!(
            t("1753-01-01T00:00:00Z").as_deref(),
            Some("1753-01-01T00:00:00Z")
        );
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("2019-13-01"), None);
    }

    proptest! {
        #[test]
        fn output_parses_back_to_the_same_instant(micros in -2_000_000_000_000_000i64..4_000_000_000_000_000i64) {
            let ts = Timestamp::from_micros(micros);
            prop_assert_eq!(Timestamp::parse(&ts.to_string()), Some(ts));
        }
    }
}
