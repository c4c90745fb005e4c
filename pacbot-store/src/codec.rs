//! Encodings shared by the backends: times to the microsecond, enums as
//! their serde names, severities as ranks.

use chrono::{DateTime, Utc};
use pacbot_core::Severity;
use serde::Serialize;
use serde::de::{DeserializeOwned, IntoDeserializer};

use crate::error::{Result, StoreError};

/// The time truncated to the microsecond (what every backend keeps).
pub(crate) fn trunc(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Microseconds since the epoch.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A time from microseconds since the epoch.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn from_micros(us: i64, what: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::corrupt(what, format!("time {us} is out of range")))
}

/// The serde name of a unit enum variant (`open`, `closed_fixed`).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn enum_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}

/// A unit enum variant from its serde name.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn parse_enum<T: DeserializeOwned>(name: &str, what: &str) -> Result<T> {
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(name))
        .map_err(|e| StoreError::corrupt(what, e))
}

/// Low 0, medium 1, high 2, critical 3.
pub(crate) fn severity_rank(s: Severity) -> i64 {
    match s {
        Severity::Low => 0,
        Severity::Medium => 1,
        Severity::High => 2,
        Severity::Critical => 3,
    }
}

/// The severity of a rank.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn severity_from_rank(rank: i64, what: &str) -> Result<Severity> {
    match rank {
        0 => Ok(Severity::Low),
        1 => Ok(Severity::Medium),
        2 => Ok(Severity::High),
        3 => Ok(Severity::Critical),
        _ => Err(StoreError::corrupt(what, format!("severity rank {rank} is not 0 to 3"))),
    }
}

/// The ASCII-lowercased search text (what `search` compares).
pub(crate) fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// A stable 64-bit fingerprint (XXH3) built part by part. Never 0: stores
/// keep 0 for "not known" (rows written before fingerprints existed), which
/// then matches no content.
///
/// The parts are gathered in a buffer and hashed at once: XXH3 of the
/// concatenation, as a streaming hasher fed the same bytes gives, without
/// its cost per (often one-byte) part.
pub(crate) struct Fingerprint(Vec<u8>);

impl Fingerprint {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    /// A fingerprint gathering its parts in `buf` (cleared), to reuse a buffer.
    pub(crate) fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        Self(buf)
    }

    /// Adds a part with its length first, so that moving bytes from one
    /// part to the next changes the fingerprint.
    pub(crate) fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// Adds bytes as they are (a JSON document delimits itself).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    pub(crate) fn finish(&self) -> i64 {
        finish(&self.0)
    }

    /// The buffer back, to reuse.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.0
    }
}

/// The fingerprint of some parts (each length-prefixed): XXH3 of
/// [`prefixed`].
pub(crate) fn fingerprint(parts: &[&[u8]]) -> i64 {
    prefixed(parts, finish)
}

/// `hash` of the parts, each preceded by its length (8 bytes, little-endian),
/// so that moving bytes from one part to the next changes the result. Parts
/// of ordinary size (an asset's name and digests, a violation's state or
/// key) are gathered on the stack: a rescan hashes a million assets and
/// every open violation.
pub(crate) fn prefixed<R>(parts: &[&[u8]], hash: impl FnOnce(&[u8]) -> R) -> R {
    const ROOM: usize = 512;
    let mut stack = [0u8; ROOM];
    let mut at = 0;
    for p in parts {
        let end = at + 8 + p.len();
        let Some(slot) = stack.get_mut(at..end) else {
            let mut f = Fingerprint::new();
            for p in parts {
                f.part(p);
            }
            return hash(&f.0);
        };
        let (len, bytes) = slot.split_at_mut(8);
        len.copy_from_slice(&(p.len() as u64).to_le_bytes());
        bytes.copy_from_slice(p);
        at = end;
    }
    hash(stack.get(..at).unwrap_or_default())
}

/// XXH3 of the bytes, never 0.
fn finish(bytes: &[u8]) -> i64 {
    match xxhash_rust::xxh3::xxh3_64(bytes) {
        0 => 1,
        d => i64::from_ne_bytes(d.to_ne_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Fingerprint, fingerprint};

    #[test]
    fn fingerprints_on_the_stack_equal_those_in_a_buffer() {
        let text = "x".repeat(1200);
        // The stack holds 512 bytes: 37 of them here are not the middle part.
        for n in [0, 1, 7, 200, 474, 475, 476, 600, 1200] {
            let part = &text.as_bytes()[..n];
            let parts: [&[u8]; 3] = [b"named", part, &n.to_le_bytes()];
            let mut f = Fingerprint::new();
            for p in parts {
                f.part(p);
            }
            assert_eq!(fingerprint(&parts), f.finish(), "a part of {n} bytes");
        }
        assert_eq!(fingerprint(&[]), Fingerprint::new().finish());
    }
}
