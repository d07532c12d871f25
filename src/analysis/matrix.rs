//! Route preview matrix (`GET /v2/handles/{handle}/route-preview`): one entry decided for
//! every country x device segment at one time, the table a person checks before a
//! festive launch ("simulate route preview across country and device segments").
//!
//! Each cell is decided with [`RuleSet::decide`] on facts built from the country alone
//! (continent and EU membership derived by [`GeoFacts::normalised`]; no region, city,
//! language or query) and the device, at the given time, for a fixed visitor id. A cell
//! whose rule assigns campaign variants lists every variant with its weight and location
//! rather than the one variant that visitor id happens to get: the matrix describes
//! segments, not a visitor. Locations are final ([`RuleSet::location`], tracking template
//! applied, no ctx token); `null` means the safe page.
//!
//! The unknown country (no country known, or Cloudflare's `XX`) is a column of its own,
//! written `unknown` on input and `null` on output.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::allowlist::NotRoutable;
use crate::engine::device::DeviceCategory;
use crate::engine::facts::Facts;
use crate::engine::geo::{normalise_country, GeoFacts};
use crate::engine::ruleset::{NoVariant, Outcome, RuleSet, Visit};
use crate::model::lifecycle::CampaignStatus;

/// Most countries one matrix decides (the unknown country counts as one).
pub const MAX_COUNTRIES: usize = 60;
/// Most devices one matrix decides: every category.
pub const MAX_DEVICES: usize = DeviceCategory::ALL.len();
/// Countries every default matrix shows, first, in this order.
pub const MAJOR_COUNTRIES: [&str; 5] = ["IN", "AE", "GB", "US", "DE"];
/// The visitor id every cell is decided for.
pub const MATRIX_VISITOR_ID: &str = "route-preview-matrix";

/// The decided table.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    /// The handle.
    pub handle: String,
    /// The entry.
    pub entry: String,
    /// The time every cell is decided at.
    pub at: DateTime<Utc>,
    /// Rows: country codes, `null` for the unknown country.
    pub countries: Vec<Option<String>>,
    /// Columns.
    pub devices: Vec<DeviceCategory>,
    /// Every cell, row by row (countries outer, devices inner).
    pub cells: Vec<Cell>,
    /// Distinct destinations, for colouring cells; each cell names its item by index.
    pub legend: Vec<LegendItem>,
    /// Default countries left out to respect [`MAX_COUNTRIES`] (only when the caller gave
    /// no countries).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub omitted_countries: Vec<String>,
}

/// One country x device segment.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// The country, `null` when unknown.
    pub country: Option<String>,
    /// The device.
    pub device: DeviceCategory,
    /// What kind of answer.
    pub outcome: Outcome,
    /// The winning rule (also set when a campaign rule fell back to the entry default).
    pub rule: Option<String>,
    /// The destination before the tracking template; `null` for the safe page or when
    /// the campaign's variants are listed instead.
    pub destination: Option<String>,
    /// The final location; `null` for the safe page or when variants are listed.
    pub location: Option<String>,
    /// The winning rule's campaign, if it has one.
    pub campaign: Option<CampaignCell>,
    /// Index of the cell's item in [`Matrix::legend`].
    pub legend: usize,
}

/// The campaign of a cell's rule.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignCell {
    /// Id.
    pub id: String,
    /// Status at the matrix time.
    pub status: CampaignStatus,
    /// Every variant, when the campaign assigns variants to this segment.
    pub variants: Option<Vec<VariantCell>>,
    /// Why it assigns none, when it does not.
    pub no_variant: Option<NoVariant>,
}

/// Where one variant's share of a segment goes.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantCell {
    /// Key.
    pub key: String,
    /// Share in percent.
    pub weight: u8,
    /// The variant's destination.
    pub destination: String,
    /// The final location its visitors get (the rule's own destination or the entry
    /// default when the variant is not routable); `null` for the safe page.
    pub location: Option<String>,
    /// Why the variant's destination is not routable, if it is not.
    pub unroutable: Option<NotRoutable>,
}

/// What a legend item stands for.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegendKind {
    /// One destination.
    Destination,
    /// A campaign's variants.
    Campaign,
    /// The safe page.
    SafePage,
}

/// One colour of the table.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegendItem {
    /// What it stands for.
    pub kind: LegendKind,
    /// The destination URL, `campaign:<id>`, or `safe_page`.
    pub key: String,
    /// How many cells have it.
    pub cells: usize,
}

/// Why no matrix could be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixError {
    /// The entry does not exist.
    UnknownEntry(String),
    /// A country code is not two letters (nor `unknown`).
    InvalidCountry(String),
    /// More than [`MAX_COUNTRIES`] countries.
    TooManyCountries(usize),
    /// More than [`MAX_DEVICES`] devices.
    TooManyDevices(usize),
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownEntry(slug) => write!(f, "no entry {slug:?}"),
            Self::InvalidCountry(raw) => write!(
                f,
                "{raw:?} is not an ISO 3166-1 alpha-2 country code such as IN (or `unknown`)"
            ),
            Self::TooManyCountries(n) => {
                write!(
                    f,
                    "{n} countries given; a matrix has at most {MAX_COUNTRIES}"
                )
            }
            Self::TooManyDevices(n) => {
                write!(f, "{n} devices given; a matrix has at most {MAX_DEVICES}")
            }
        }
    }
}

impl std::error::Error for MatrixError {}

/// Parses one country of a request: a code normalised by [`normalise_country`], or
/// `unknown` / `XX` for the unknown country (`None`).
///
/// # Errors
/// [`MatrixError::InvalidCountry`] naming the value.
pub fn parse_country(raw: &str) -> Result<Option<String>, MatrixError> {
    let trimmed = raw.trim();
    if trimmed.eq_ignore_ascii_case("unknown") || trimmed.eq_ignore_ascii_case("XX") {
        return Ok(None);
    }
    normalise_country(trimmed)
        .map(Some)
        .ok_or_else(|| MatrixError::InvalidCountry(raw.to_owned()))
}

/// The countries a matrix shows when the caller names none: [`MAJOR_COUNTRIES`], then
/// every other country the entry's enabled rules name in a country condition (sorted),
/// then the unknown country; and what was left out to stay within [`MAX_COUNTRIES`].
///
/// # Errors
/// [`MatrixError::UnknownEntry`].
pub fn default_countries(
    ruleset: &RuleSet,
    entry: &str,
) -> Result<(Vec<Option<String>>, Vec<String>), MatrixError> {
    let found = ruleset
        .entry(entry)
        .ok_or_else(|| MatrixError::UnknownEntry(entry.to_owned()))?;
    let named: BTreeSet<&String> = found
        .rules
        .iter()
        .filter_map(|&i| ruleset.rules().get(i as usize))
        .filter(|r| r.enabled)
        .filter_map(|r| r.conditions.country.as_ref())
        .flat_map(|set| set.values())
        .filter(|c| !MAJOR_COUNTRIES.contains(&c.as_str()))
        .collect();
    let mut all: Vec<String> = MAJOR_COUNTRIES.iter().map(|c| (*c).to_owned()).collect();
    all.extend(named.into_iter().cloned());
    let omitted = all.split_off(all.len().min(MAX_COUNTRIES - 1));
    let mut countries: Vec<Option<String>> = all.into_iter().map(Some).collect();
    countries.push(None);
    Ok((countries, omitted))
}

/// The devices a matrix shows when the caller names none: desktop, mobile and tablet,
/// and crawler when an enabled rule of the entry targets crawlers.
///
/// # Errors
/// [`MatrixError::UnknownEntry`].
pub fn default_devices(ruleset: &RuleSet, entry: &str) -> Result<Vec<DeviceCategory>, MatrixError> {
    let found = ruleset
        .entry(entry)
        .ok_or_else(|| MatrixError::UnknownEntry(entry.to_owned()))?;
    let mut devices = vec![
        DeviceCategory::Desktop,
        DeviceCategory::Mobile,
        DeviceCategory::Tablet,
    ];
    if !found.index.crawler.is_empty() {
        devices.push(DeviceCategory::Crawler);
    }
    Ok(devices)
}

/// Decides `entry` for every country x device at `at`. Empty `countries` or `devices`
/// mean the defaults ([`default_countries`], [`default_devices`]); duplicates are
/// dropped.
///
/// # Errors
/// [`MatrixError`]: an unknown entry, a bad country code, too many countries or devices.
pub fn matrix(
    ruleset: &RuleSet,
    entry: &str,
    countries: &[String],
    devices: &[DeviceCategory],
    at: DateTime<Utc>,
) -> Result<Matrix, MatrixError> {
    if ruleset.entry(entry).is_none() {
        return Err(MatrixError::UnknownEntry(entry.to_owned()));
    }
    if countries.len() > MAX_COUNTRIES {
        return Err(MatrixError::TooManyCountries(countries.len()));
    }
    if devices.len() > MAX_DEVICES {
        return Err(MatrixError::TooManyDevices(devices.len()));
    }
    let (countries, omitted_countries) = if countries.is_empty() {
        default_countries(ruleset, entry)?
    } else {
        let mut parsed = Vec::with_capacity(countries.len());
        for raw in countries {
            let country = parse_country(raw)?;
            if !parsed.contains(&country) {
                parsed.push(country);
            }
        }
        (parsed, Vec::new())
    };
    let devices = if devices.is_empty() {
        default_devices(ruleset, entry)?
    } else {
        let mut unique = Vec::with_capacity(devices.len());
        for d in devices {
            if !unique.contains(d) {
                unique.push(*d);
            }
        }
        unique
    };
    let mut legend: Vec<LegendItem> = Vec::new();
    let mut cells = Vec::with_capacity(countries.len() * devices.len());
    for country in &countries {
        for &device in &devices {
            let (mut cell, kind, key) = decide_cell(ruleset, entry, country.as_deref(), device, at);
            cell.legend = match legend.iter().position(|l| l.kind == kind && l.key == key) {
                Some(i) => i,
                None => {
                    legend.push(LegendItem {
                        kind,
                        key,
                        cells: 0,
                    });
                    legend.len() - 1
                }
            };
            if let Some(item) = legend.get_mut(cell.legend) {
                item.cells += 1;
            }
            cells.push(cell);
        }
    }
    Ok(Matrix {
        handle: ruleset.handle().to_owned(),
        entry: entry.to_owned(),
        at,
        countries,
        devices,
        cells,
        legend,
        omitted_countries,
    })
}

/// One cell, with its legend kind and key (its `legend` index is filled in later).
fn decide_cell(
    ruleset: &RuleSet,
    entry: &str,
    country: Option<&str>,
    device: DeviceCategory,
    at: DateTime<Utc>,
) -> (Cell, LegendKind, String) {
    let mut facts = Facts::at(at);
    facts.geo = GeoFacts::normalised(country, None, None, None, None);
    facts.device = device;
    let visit = Visit {
        entry,
        facts: &facts,
        visitor_id: MATRIX_VISITOR_ID,
        forced_variant: None,
    };
    let decision = ruleset.decide(&visit);
    let location = ruleset.location(&decision, &visit, None);
    let outcome = if location.is_none() && decision.location.is_some() {
        Outcome::SafePage
    } else {
        decision.outcome
    };
    let campaign = decision
        .rule
        .and_then(|r| ruleset.rule_campaign(r))
        .map(|c| {
            let variants = decision.assignment.map(|_| {
                c.variants
                    .iter()
                    .map(|v| {
                        let forced = Visit {
                            forced_variant: Some(&v.key),
                            ..visit
                        };
                        let d = ruleset.decide(&forced);
                        VariantCell {
                            key: v.key.clone(),
                            weight: v.weight,
                            destination: v.target.as_str().to_owned(),
                            location: ruleset.location(&d, &forced, None).map(|u| u.to_string()),
                            unroutable: v.target.routable(ruleset.allowlist()).err(),
                        }
                    })
                    .collect()
            });
            CampaignCell {
                id: c.id.clone(),
                status: c.status_at(at),
                variants,
                no_variant: decision.no_variant.as_ref().map(|(_, why)| why.clone()),
            }
        });
    let listed = campaign.as_ref().is_some_and(|c| c.variants.is_some());
    let destination = decision
        .location
        .filter(|_| !listed && location.is_some())
        .map(|u| u.to_string());
    let (kind, key) = match (&campaign, &destination) {
        (Some(c), _) if listed => (LegendKind::Campaign, format!("campaign:{}", c.id)),
        (_, Some(d)) => (LegendKind::Destination, d.clone()),
        _ => (LegendKind::SafePage, "safe_page".to_owned()),
    };
    let cell = Cell {
        country: country.map(str::to_owned),
        device,
        outcome,
        rule: decision.rule.map(|r| r.id.clone()),
        destination,
        location: location.filter(|_| !listed).map(|u| u.to_string()),
        campaign,
        legend: 0,
    };
    (cell, kind, key)
}

#[cfg(test)]
mod tests;
