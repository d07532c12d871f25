//! How the edge form ([`crate::engine::snapshot`]) carries instants: whole seconds since
//! the Unix epoch and the nanoseconds past them, as two integers, rather than chrono's
//! default RFC 3339 text. A snapshot holds a few hundred of them (campaign dates, rules'
//! time windows), and parsing that text was a fifth of an isolate's first decode in cold
//! wasm; two varints decode in a few instructions. Lossless for every `DateTime<Utc>`
//! chrono can hold. Only the compiled types of the edge form use it: nothing else
//! serialises them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn parts(t: &DateTime<Utc>) -> (i64, u32) {
    (t.timestamp(), t.timestamp_subsec_nanos())
}

fn instant<E: serde::de::Error>((secs, nanos): (i64, u32)) -> Result<DateTime<Utc>, E> {
    DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| E::custom(format!("instant out of range: {secs}s {nanos}ns")))
}

/// `Option<DateTime<Utc>>` fields: `#[serde(with = "edge_time::optional")]`.
pub(crate) mod optional {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        t.as_ref().map(parts).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<(i64, u32)>::deserialize(d)?
            .map(instant::<D::Error>)
            .transpose()
    }
}

/// A time window (`Option<(Option<DateTime>, Option<DateTime>)>`):
/// `#[serde(with = "edge_time::window")]`.
pub(crate) mod window {
    use super::*;

    type Window = Option<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)>;
    type Raw = Option<(Option<(i64, u32)>, Option<(i64, u32)>)>;

    pub(crate) fn serialize<S: Serializer>(w: &Window, s: S) -> Result<S::Ok, S::Error> {
        let raw: Raw = w.map(|(from, to)| (from.as_ref().map(parts), to.as_ref().map(parts)));
        raw.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let Some((from, to)) = Raw::deserialize(d)? else {
            return Ok(None);
        };
        let from = from.map(instant::<D::Error>).transpose()?;
        let to = to.map(instant::<D::Error>).transpose()?;
        Ok(Some((from, to)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "optional")]
        at: Option<DateTime<Utc>>,
        #[serde(with = "window")]
        window: Option<crate::engine::conditions::DateWindow>,
    }

    fn round_trip(value: &Both) -> Both {
        let bytes = postcard::to_allocvec(value).unwrap();
        postcard::from_bytes(&bytes).unwrap()
    }

    #[test]
    fn instants_survive_to_the_nanosecond_and_at_the_ends_of_chronos_range() {
        let precise = DateTime::parse_from_rfc3339("2026-11-06T00:00:00.123456789+05:30")
            .unwrap()
            .to_utc();
        let before_epoch = DateTime::parse_from_rfc3339("1969-07-20T20:17:40.5Z")
            .unwrap()
            .to_utc();
        for value in [
            Both {
                at: None,
                window: None,
            },
            Both {
                at: Some(precise),
                window: Some((None, None)),
            },
            Both {
                at: Some(before_epoch),
                window: Some((Some(precise), None)),
            },
            Both {
                at: Some(DateTime::<Utc>::MIN_UTC),
                window: Some((None, Some(DateTime::<Utc>::MAX_UTC))),
            },
            Both {
                at: Some(DateTime::<Utc>::MAX_UTC),
                window: Some((Some(before_epoch), Some(precise))),
            },
        ] {
            assert_eq!(round_trip(&value), value);
        }
    }

    #[test]
    fn an_instant_chrono_cannot_hold_is_an_error_not_a_panic() {
        type Instant = Option<(i64, u32)>;
        #[derive(Serialize)]
        struct Raw {
            at: Instant,
            window: Option<(Instant, Instant)>,
        }
        for raw in [
            Raw {
                at: Some((i64::MAX, 0)),
                window: None,
            },
            Raw {
                at: None,
                window: Some((Some((0, 2_000_000_000)), None)),
            },
        ] {
            let bytes = postcard::to_allocvec(&raw).unwrap();
            let err = postcard::from_bytes::<Both>(&bytes).unwrap_err();
            assert!(matches!(err, postcard::Error::SerdeDeCustom), "{err:?}");
        }
    }
}
