//! Geography facts: country, region, city, ASN with their normalisation, and the continent
//! and EU membership of a country. Looking an address up is the visit's
//! (`crate::visit::geodb`).
//!
//! The continent and EU tables are small static data written out here rather than taken
//! from a crate: the crates that carry them also carry every country's names in many
//! languages, which would cost the wasm bundle far more than these few hundred bytes.

/// Where a geographic fact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoSource {
    /// Cloudflare's `request.cf` object.
    Cf,
    /// A lookup of the client IP in the MaxMind DB kept in KV.
    Mmdb,
}

impl GeoSource {
    /// Parses one name of a configured source order (`cf`, `mmdb`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cf" => Some(Self::Cf),
            "mmdb" => Some(Self::Mmdb),
            _ => None,
        }
    }

    /// Parses a comma-separated source order such as `mmdb,cf`; unknown names are ignored
    /// and an empty result falls back to `cf,mmdb`, the production order.
    pub fn parse_order(list: &str) -> Vec<Self> {
        let mut order: Vec<Self> = Vec::new();
        for source in list.split(',').filter_map(Self::parse) {
            if !order.contains(&source) {
                order.push(source);
            }
        }
        if order.is_empty() {
            order = vec![Self::Cf, Self::Mmdb];
        }
        order
    }
}

/// What one geo source knows about a visitor. Codes are normalised: countries and
/// continents upper-case, regions as `CC-SUB` (ISO 3166-2), cities as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoFacts {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Two-letter continent code (AF, AN, AS, EU, NA, OC, SA).
    pub continent: Option<String>,
    /// ISO 3166-2 subdivision, e.g. `IN-MH`.
    pub region: Option<String>,
    /// City name.
    pub city: Option<String>,
    /// Whether the country is an EU member state.
    pub eu: Option<bool>,
    /// Autonomous system number of the client's network.
    pub asn: Option<u32>,
}

impl GeoFacts {
    /// Builds facts from what one source said, normalising codes but deriving nothing:
    /// continent and EU membership stay unknown unless the source gave them, so the
    /// explain trace can tell a source's facts from derived ones.
    pub fn from_source(
        country: Option<&str>,
        continent: Option<&str>,
        region_code: Option<&str>,
        city: Option<&str>,
        asn: Option<u32>,
    ) -> Self {
        let country = country.and_then(normalise_country);
        let continent = continent
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| c.len() == 2);
        let region = match (&country, region_code) {
            (Some(cc), Some(code)) => normalise_region(cc, code),
            _ => None,
        };
        let city = city
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        GeoFacts {
            country,
            continent,
            region,
            city,
            eu: None,
            asn,
        }
    }

    /// Like [`GeoFacts::from_source`], then fills continent and EU membership from the
    /// country when they are missing: the facts as rules see them.
    pub fn normalised(
        country: Option<&str>,
        continent: Option<&str>,
        region_code: Option<&str>,
        city: Option<&str>,
        asn: Option<u32>,
    ) -> Self {
        let mut facts = Self::from_source(country, continent, region_code, city, asn);
        if let Some(cc) = facts.country.clone() {
            facts.continent = facts
                .continent
                .or_else(|| continent_of(&cc).map(str::to_owned));
            facts.eu = Some(is_eu_member(&cc));
        }
        facts
    }

    /// Whether this source knows nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == GeoFacts::default()
    }
}

/// Normalises a country code: two ASCII letters, upper-cased; anything else (including
/// Cloudflare's `XX` for unknown and `T1` for Tor) is no country.
pub fn normalise_country(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) && code != "XX";
    valid.then_some(code)
}

/// Normalises a subdivision code to `CC-SUB`, accepting either `SUB` or `CC-SUB`.
pub fn normalise_region(country: &str, raw: &str) -> Option<String> {
    let raw = raw.trim().to_ascii_uppercase();
    let sub = match raw.split_once('-') {
        Some((cc, sub)) if cc == country => sub.to_owned(),
        Some(_) => return None,
        None => raw,
    };
    let valid = (1..=3).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then(|| format!("{country}-{sub}"))
}

const CONTINENTS: [(&str, &str); 7] = [
    ("AF", "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW"),
    ("AN", "AQ BV GS HM TF"),
    ("AS", "AF AM AZ BH BD BT BN KH CN GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY MV MN MM NP KP OM PK PS PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE IO CC CX"),
    ("EU", "AL AD AT BY BE BA BG HR CY CZ DK EE FO FI FR DE GI GR GG HU IS IE IM IT JE XK LV LI LT LU MT MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB VA AX"),
    ("NA", "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS NI PA PR BL KN LC MF PM VC SX TT TC US VI UM"),
    ("OC", "AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU WF"),
    ("SA", "AR BO BR CL CO EC FK GF GY PY PE SR UY VE"),
];

const EU_MEMBERS: &str =
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE";

/// Every two-letter code's continent (1 + its index in [`CONTINENTS`], 0 for none) and,
/// in [`EU_BIT`], its EU membership: built from the two tables above when compiling, so
/// a visit's lookup is one index instead of a scan of their text.
const INDEX: [u8; 26 * 26] = build_index();
const EU_BIT: u8 = 0x80;

/// The slot of a two-letter code in [`INDEX`], if it is two ASCII capitals.
const fn slot(code: &[u8]) -> Option<usize> {
    match code {
        [a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => {
            Some((*a - b'A') as usize * 26 + (*b - b'A') as usize)
        }
        _ => None,
    }
}

// Evaluated when compiling: an index out of bounds fails the build, never a visit.
#[allow(clippy::indexing_slicing)]
const fn build_index() -> [u8; 26 * 26] {
    let mut index = [0u8; 26 * 26];
    let mut c = 0;
    while c < CONTINENTS.len() {
        let members = CONTINENTS[c].1.as_bytes();
        let mut i = 0;
        while i + 1 < members.len() {
            if let Some(at) = slot(&[members[i], members[i + 1]]) {
                index[at] = c as u8 + 1;
            }
            i += 3;
        }
        c += 1;
    }
    let eu = EU_MEMBERS.as_bytes();
    let mut i = 0;
    while i + 1 < eu.len() {
        if let Some(at) = slot(&[eu[i], eu[i + 1]]) {
            index[at] |= EU_BIT;
        }
        i += 3;
    }
    index
}

fn indexed(country: &str) -> u8 {
    slot(country.as_bytes())
        .and_then(|at| INDEX.get(at).copied())
        .unwrap_or(0)
}

/// The continent code of an (upper-case) ISO country code, if known.
pub fn continent_of(country: &str) -> Option<&'static str> {
    let continent = usize::from(indexed(country) & !EU_BIT).checked_sub(1)?;
    CONTINENTS.get(continent).map(|(code, _)| *code)
}

/// Whether an (upper-case) ISO country code is an EU member state.
pub fn is_eu_member(country: &str) -> bool {
    indexed(country) & EU_BIT != 0
}

/// Every country code the continent table knows, for tests and tools.
pub fn known_countries() -> impl Iterator<Item = &'static str> {
    CONTINENTS
        .iter()
        .flat_map(|(_, members)| members.split(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_agrees_with_the_tables_for_every_two_letter_code() {
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                let scanned = CONTINENTS
                    .iter()
                    .find(|(_, members)| members.split(' ').any(|c| c == code))
                    .map(|(continent, _)| *continent);
                assert_eq!(continent_of(&code), scanned, "{code}");
                assert_eq!(
                    is_eu_member(&code),
                    EU_MEMBERS.split(' ').any(|c| c == code),
                    "{code}"
                );
            }
        }
        for odd in ["", "I", "in", "IND", "1N", "\u{e9}A"] {
            assert_eq!(
                (continent_of(odd), is_eu_member(odd)),
                (None, false),
                "{odd}"
            );
        }
        let codes: Vec<&str> = known_countries().collect();
        let distinct: std::collections::BTreeSet<&str> = codes.iter().copied().collect();
        assert_eq!(distinct.len(), codes.len(), "no code in two continents");
    }

    #[test]
    fn continents_cover_storefront_markets() {
        for (country, continent) in [
            ("IN", "AS"),
            ("AE", "AS"),
            ("GB", "EU"),
            ("DE", "EU"),
            ("US", "NA"),
            ("AU", "OC"),
            ("BR", "SA"),
            ("NG", "AF"),
        ] {
            assert_eq!(continent_of(country), Some(continent), "{country}");
        }
        assert_eq!(continent_of("ZZ"), None);
    }

    #[test]
    fn every_country_has_one_continent() {
        let mut seen = std::collections::BTreeSet::new();
        for c in known_countries() {
            assert!(seen.insert(c), "{c} listed twice");
            assert_eq!(c.len(), 2);
        }
        assert!(seen.len() > 240);
    }

    #[test]
    fn eu_membership() {
        assert!(is_eu_member("DE") && is_eu_member("IE") && is_eu_member("CY"));
        assert!(!is_eu_member("GB") && !is_eu_member("CH") && !is_eu_member("IN"));
        assert_eq!(EU_MEMBERS.split(' ').count(), 27);
        for member in EU_MEMBERS.split(' ') {
            assert_eq!(continent_of(member), Some("EU"), "{member}");
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise_country(" in "), Some("IN".into()));
        assert_eq!(normalise_country("XX"), None);
        assert_eq!(normalise_country("T1"), None);
        assert_eq!(normalise_country("IND"), None);
        assert_eq!(normalise_region("IN", "mh"), Some("IN-MH".into()));
        assert_eq!(normalise_region("IN", "IN-MH"), Some("IN-MH".into()));
        assert_eq!(normalise_region("IN", "US-CA"), None);
        assert_eq!(normalise_region("IN", "M H"), None);
        let facts =
            GeoFacts::normalised(Some("de"), None, Some("BY"), Some(" Munich "), Some(3320));
        assert_eq!(facts.continent.as_deref(), Some("EU"));
        assert_eq!(facts.region.as_deref(), Some("DE-BY"));
        assert_eq!(facts.city.as_deref(), Some("Munich"));
        assert_eq!(facts.eu, Some(true));
    }

    #[test]
    fn source_order() {
        assert_eq!(
            GeoSource::parse_order("mmdb, cf"),
            vec![GeoSource::Mmdb, GeoSource::Cf]
        );
        assert_eq!(
            GeoSource::parse_order("bogus"),
            vec![GeoSource::Cf, GeoSource::Mmdb]
        );
        assert_eq!(GeoSource::parse_order("cf,cf"), vec![GeoSource::Cf]);
    }
}
