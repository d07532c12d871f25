//! Country/region/city/ASN lookups of an IP address in a MaxMind DB file held in memory.
//!
//! Two record layouts are read, because both exist in the wild:
//! - MaxMind's GeoIP2/GeoLite2 layout (`country.iso_code`, `continent.code`,
//!   `subdivisions[].iso_code`, `city.names.en`, `autonomous_system_number`);
//! - the flat layout of the CC0 `ip-location-db` databases (`country_code` at the top).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;

use crate::engine::geo::GeoFacts;

/// Why a MaxMind DB could not be opened.
#[derive(Debug)]
pub struct GeoDbError(maxminddb::MaxMindDbError);

impl fmt::Display for GeoDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a readable MaxMind DB file: {}", self.0)
    }
}

impl std::error::Error for GeoDbError {}

/// An opened MaxMind DB held in memory.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let meta = self.reader.metadata();
        f.debug_struct("GeoDb")
            .field("database_type", &meta.database_type)
            .field("build_epoch", &meta.build_epoch)
            .finish()
    }
}

impl GeoDb {
    /// Opens a database from its bytes.
    ///
    /// # Errors
    /// [`GeoDbError`] when the bytes are not a MaxMind DB (corrupt, truncated, empty).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoDbError> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(GeoDbError)?;
        Ok(GeoDb { reader })
    }

    /// Looks an address up; `None` when the database has no record for it or the record
    /// cannot be decoded (a lookup never fails loudly on the request path).
    pub fn lookup(&self, ip: IpAddr) -> Option<GeoFacts> {
        let found = self.reader.lookup(ip).ok()?;
        let record: Record<'_> = found.decode().ok()??;
        let facts = record.into_facts();
        (!facts.is_empty()).then_some(facts)
    }
}

#[derive(Debug, Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    country: Option<Coded<'a>>,
    #[serde(borrow, default)]
    continent: Option<Coded<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Coded<'a>>>,
    #[serde(borrow, default)]
    city: Option<Named<'a>>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct Coded<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    names: Option<BTreeMap<&'a str, &'a str>>,
}

impl Record<'_> {
    fn into_facts(self) -> GeoFacts {
        let country = self
            .country_code
            .or_else(|| self.country.as_ref().and_then(|c| c.iso_code));
        let continent = self.continent.as_ref().and_then(|c| c.code);
        let region = self
            .subdivisions
            .as_ref()
            .and_then(|s| s.first())
            .and_then(|s| s.iso_code);
        let city = self
            .city
            .as_ref()
            .and_then(|c| c.names.as_ref())
            .and_then(|n| n.get("en").copied());
        GeoFacts::from_source(
            country,
            continent,
            region,
            city,
            self.autonomous_system_number,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_database_is_an_error() {
        assert!(GeoDb::from_bytes(Vec::new()).is_err());
        assert!(GeoDb::from_bytes(b"not an mmdb at all".to_vec()).is_err());
    }
}
