//! Validated request values. A value outside its documented range cannot be built, so
//! it can never reach the wire; the error names the field, the value and the range.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A value that is not allowed for a field of a request; it becomes
/// [`Error::InvalidArgument`], which names the field, the value and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidValue {
    field: &'static str,
    value: String,
    problem: String,
}

impl InvalidValue {
    fn out_of_range(
        field: &'static str,
        value: impl fmt::Display,
        range: &RangeInclusive<u32>,
        unit: &str,
    ) -> Self {
        Self {
            field,
            value: value.to_string(),
            problem: format!("must be within {}..={}{unit}", range.start(), range.end()),
        }
    }

    fn not_a_number(field: &'static str, text: &str) -> Self {
        let shown: String = text.chars().take(32).collect();
        Self {
            field,
            value: format!("{shown:?}"),
            problem: "is not a whole number".to_owned(),
        }
    }

    pub(crate) fn empty(field: &'static str) -> Self {
        Self {
            field,
            value: "(empty)".to_owned(),
            problem: "must not be empty".to_owned(),
        }
    }

    pub(crate) fn too_long(field: &'static str, max: usize) -> Self {
        Self {
            field,
            value: "(not shown)".to_owned(),
            problem: format!("must be at most {max} characters"),
        }
    }
}

impl From<InvalidValue> for Error {
    fn from(e: InvalidValue) -> Error {
        Error::InvalidArgument {
            field: e.field,
            value: e.value,
            problem: e.problem,
        }
    }
}

/// A range of the spec (`ccgw_client::limits`, generated from `openapi/ccgateway.yaml`)
/// as `u32`; a bound that does not fit fails the build.
const fn spec_range(range: RangeInclusive<i64>) -> RangeInclusive<u32> {
    let (start, end) = (*range.start(), *range.end());
    assert!(start >= 0 && end <= u32::MAX as i64 && start <= end);
    // Checked just above: both bounds fit.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (start, end) = (start as u32, end as u32);
    start..=end
}

/// An agent ID (work number): 101..=999999, the range of the vendor's current pages (the
/// spec's `agentid`). An older gateway answers a larger ID with a failure code; nothing
/// is applied.
///
/// ```
/// use ccgw::AgentId;
/// let id: AgentId = "101".parse()?;
/// assert_eq!(id.get(), 101);
/// assert_eq!(AgentId::new(999_999)?.get(), 999_999);
/// assert!(AgentId::new(100).is_err());
/// assert!(AgentId::new(1_000_000).is_err());
/// # Ok::<(), ccgw::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct AgentId(u32);

impl AgentId {
    /// The accepted range: the spec's `agentid`.
    pub const RANGE: RangeInclusive<u32> = spec_range(ccgw_client::limits::AGENTID);

    /// An agent ID within [`AgentId::RANGE`].
    pub fn new(id: u32) -> Result<Self, Error> {
        Ok(Self(check("agent id", id, &Self::RANGE, "")?))
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// A rest duration in whole seconds, 1..=86399 (just under a day).
///
/// From a [`Duration`]: the gateway counts whole seconds, so a duration with a
/// sub-second part is rejected rather than silently rounded (`Duration::from_secs` or
/// [`RestDuration::from_secs`] state the intent exactly).
///
/// ```
/// use std::time::Duration;
/// use ccgw::RestDuration;
/// assert_eq!(RestDuration::from_secs(600)?.as_secs(), 600);
/// assert_eq!(RestDuration::try_from(Duration::from_secs(900))?.as_secs(), 900);
/// assert!(RestDuration::try_from(Duration::from_millis(1500)).is_err());
/// assert!(RestDuration::from_secs(86_400).is_err());
/// # Ok::<(), ccgw::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct RestDuration(u32);

impl RestDuration {
    /// The accepted range in seconds.
    pub const RANGE_SECS: RangeInclusive<u32> = spec_range(ccgw_client::limits::TIME);

    /// A duration of `secs` seconds, within 1..=86399.
    pub fn from_secs(secs: u32) -> Result<Self, Error> {
        Ok(Self(check(
            "rest duration",
            secs,
            &Self::RANGE_SECS,
            " seconds",
        )?))
    }

    /// The duration in seconds.
    pub const fn as_secs(self) -> u32 {
        self.0
    }

    /// The duration as a [`Duration`].
    pub(crate) const fn as_duration(self) -> Duration {
        Duration::from_secs(self.0 as u64)
    }
}

impl TryFrom<Duration> for RestDuration {
    type Error = Error;

    fn try_from(d: Duration) -> Result<Self, Error> {
        if d.subsec_nanos() != 0 {
            return Err(Error::InvalidArgument {
                field: "rest duration",
                value: format!("{d:?}"),
                problem: "must be whole seconds within 1..=86399 seconds".to_owned(),
            });
        }
        let secs = u32::try_from(d.as_secs()).map_err(|_| {
            Error::from(InvalidValue::out_of_range(
                "rest duration",
                format!("{d:?}"),
                &Self::RANGE_SECS,
                " seconds",
            ))
        })?;
        Self::from_secs(secs)
    }
}

impl From<RestDuration> for Duration {
    fn from(d: RestDuration) -> Duration {
        d.as_duration()
    }
}

/// A rest cause code, 0..=255, as configured on the platform; [`RestCause::NONE`] (0)
/// means no cause.
///
/// ```
/// use ccgw::RestCause;
/// assert_eq!(RestCause::from(3u8).get(), 3);
/// assert!(RestCause::try_from(256u32).is_err());
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct RestCause(u8);

impl RestCause {
    /// No rest cause (code 0).
    pub const NONE: RestCause = RestCause(0);
    /// The accepted range: the spec's `restcause`.
    pub const RANGE: RangeInclusive<u32> = spec_range(ccgw_client::limits::RESTCAUSE);

    /// The cause code.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl From<u8> for RestCause {
    fn from(code: u8) -> Self {
        Self(code)
    }
}

fn check(
    field: &'static str,
    value: u32,
    range: &RangeInclusive<u32>,
    unit: &str,
) -> Result<u32, InvalidValue> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(InvalidValue::out_of_range(field, value, range, unit))
    }
}

/// `TryFrom` for the integer types callers commonly hold, `FromStr`, `Display` and
/// `From<Self> for u32`, all through the one checked constructor.
macro_rules! conversions {
    ($ty:ident, $field:literal, $ctor:path, $unit:literal, $range:expr, $get:ident) => {
        impl TryFrom<u32> for $ty {
            type Error = Error;
            fn try_from(v: u32) -> Result<Self, Error> {
                $ctor(v)
            }
        }
        impl TryFrom<i64> for $ty {
            type Error = Error;
            fn try_from(v: i64) -> Result<Self, Error> {
                let n = u32::try_from(v).map_err(|_| {
                    Error::from(InvalidValue::out_of_range($field, v, &$range, $unit))
                })?;
                $ctor(n)
            }
        }
        impl TryFrom<u64> for $ty {
            type Error = Error;
            fn try_from(v: u64) -> Result<Self, Error> {
                let n = u32::try_from(v).map_err(|_| {
                    Error::from(InvalidValue::out_of_range($field, v, &$range, $unit))
                })?;
                $ctor(n)
            }
        }
        impl TryFrom<i32> for $ty {
            type Error = Error;
            fn try_from(v: i32) -> Result<Self, Error> {
                Self::try_from(i64::from(v))
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                let t = s.trim();
                let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
                if t.strip_prefix('-').is_some_and(digits) {
                    // A negative whole number: below every range.
                    return Err(InvalidValue::out_of_range($field, t, &$range, $unit).into());
                }
                if !digits(t) {
                    return Err(InvalidValue::not_a_number($field, s).into());
                }
                match t.parse::<u64>() {
                    Ok(n) => Self::try_from(n),
                    // Only digits, so the number is merely too large for u64.
                    Err(_) => Err(InvalidValue::out_of_range($field, t, &$range, $unit).into()),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.$get(), f)
            }
        }
        impl From<$ty> for u32 {
            fn from(v: $ty) -> u32 {
                u32::from(v.$get())
            }
        }
    };
}

// A cause is kept as one byte; a spec that widened the range beyond it fails the build.
const _: () = assert!(*RestCause::RANGE.end() <= u8::MAX as u32);

fn rest_cause_new(v: u32) -> Result<RestCause, Error> {
    let code = check("rest cause", v, &RestCause::RANGE, "")?;
    // In range 0..=255, so the conversion cannot fail.
    Ok(RestCause(u8::try_from(code).unwrap_or(u8::MAX)))
}

conversions!(AgentId, "agent id", AgentId::new, "", AgentId::RANGE, get);
conversions!(
    RestDuration,
    "rest duration",
    RestDuration::from_secs,
    " seconds",
    RestDuration::RANGE_SECS,
    as_secs
);
conversions!(
    RestCause,
    "rest cause",
    rest_cause_new,
    "",
    RestCause::RANGE,
    get
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_the_value() {
        assert_eq!(RestCause::NONE.get(), 0);
        let ten_minutes = RestDuration::from_secs(600).expect("in range");
        assert_eq!(Duration::from(ten_minutes), Duration::from_secs(600));
    }

    #[test]
    fn errors_name_field_value_and_range() {
        let e = AgentId::new(100).expect_err("out of range");
        assert_eq!(
            e.to_string(),
            "invalid agent id 100: must be within 101..=999999"
        );
        assert!(
            matches!(&e, Error::InvalidArgument { field: "agent id", value, .. } if value == "100"),
            "{e:?}"
        );
        let e = RestDuration::from_secs(0).expect_err("out of range");
        assert_eq!(
            e.to_string(),
            "invalid rest duration 0: must be within 1..=86399 seconds"
        );
        let e = RestCause::try_from(256u32).expect_err("out of range");
        assert_eq!(
            e.to_string(),
            "invalid rest cause 256: must be within 0..=255"
        );
        let e = "12a".parse::<AgentId>().expect_err("not a number");
        assert_eq!(
            e.to_string(),
            "invalid agent id \"12a\": is not a whole number"
        );
        let e = "-5".parse::<RestCause>().expect_err("negative");
        assert_eq!(
            e.to_string(),
            "invalid rest cause -5: must be within 0..=255"
        );
        let e = RestDuration::try_from(-1i64).expect_err("negative");
        assert_eq!(
            e.to_string(),
            "invalid rest duration -1: must be within 1..=86399 seconds"
        );
        let e = "99999999999999999999999"
            .parse::<AgentId>()
            .expect_err("huge");
        assert!(
            e.to_string().ends_with("must be within 101..=999999"),
            "{e}"
        );
    }

    #[test]
    fn durations_with_subsecond_parts_are_rejected() {
        let e = RestDuration::try_from(Duration::from_millis(600_500)).expect_err("sub-second");
        assert_eq!(
            e.to_string(),
            "invalid rest duration 600.5s: must be whole seconds within 1..=86399 seconds"
        );
        assert!(RestDuration::try_from(Duration::from_secs(u64::MAX)).is_err());
        assert_eq!(
            RestDuration::try_from(Duration::from_secs(86_399))
                .map(RestDuration::as_secs)
                .ok(),
            Some(86_399)
        );
    }

    #[test]
    fn serde_goes_through_the_checks() {
        assert_eq!(
            serde_json::from_str::<AgentId>("101").ok(),
            AgentId::new(101).ok()
        );
        let e = serde_json::from_str::<AgentId>("100").expect_err("out of range");
        assert!(e.to_string().contains("must be within 101..=999999"), "{e}");
        assert!(serde_json::from_str::<RestDuration>("86400").is_err());
        assert!(serde_json::from_str::<RestCause>("256").is_err());
        assert_eq!(
            serde_json::to_string(&RestCause::from(7u8)).ok().as_deref(),
            Some("7")
        );
    }

    /// The ranges are the spec's (generated into `ccgw_client::limits`), as documented.
    #[test]
    fn ranges_are_the_spec_s() {
        assert_eq!(AgentId::RANGE, 101..=999_999);
        assert_eq!(RestDuration::RANGE_SECS, 1..=86_399);
        assert_eq!(RestCause::RANGE, 0..=255);
        assert_eq!(AgentId::new(999_999).map(AgentId::get).ok(), Some(999_999));
        assert!(AgentId::new(1_000_000).is_err());
    }
}
