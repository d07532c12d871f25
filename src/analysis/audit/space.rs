//! The visitor space that rule conditions carve up, for the audit's three questions: can
//! two rules hold for one visitor (overlap), does one rule hold wherever another does
//! (subsumption), can a rule hold at all.
//!
//! Conditions are ANDed tests on facts that are independent of one another, except the
//! geography (country, continent, EU membership and region go together), so the space is
//! a product of *clusters*: the geography, the city, the ASN, the device, the OS, the
//! browser, the language, each query parameter, the time. Two rules overlap when every
//! cluster has a point where both hold; rule E subsumes rule R when R can hold and, in
//! every cluster, every point where R holds is one where E holds.
//!
//! Each cluster is searched through finitely many *representative points*: "unknown",
//! every value either rule names, one value neither names (for the geography, one
//! country per continent and EU-membership class, and a code the continent table does not
//! list; for the time, every window bound and a time before all of them). Any other value
//! behaves like one of these, so the answers are exact for the model. Points are checked
//! with the rules' own matching code ([`CompiledConditions::check`]), and a crawler point only
//! counts for a rule that targets crawlers (crawlers take no other rule).
//!
//! Two models of the geography:
//! - [`Geo::Consistent`], for overlap: the facts as `gather` builds them from sources
//!   that agree with the continent table: continent from [`continent_of`], EU membership
//!   from [`is_eu_member`], a region inside its country, nothing known without a country.
//!   A collision is a warning, so a model slightly too generous is fine.
//! - [`Geo::Loose`], for subsumption and never-matches: a superset of every fact set
//!   `gather` and [`crate::engine::geo::GeoFacts::normalised`] produce. EU membership still
//!   follows the country and a region still lies in its country, but the continent may be
//!   anything (a geo source may name its own). Claims of "never" stay sound.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::engine::conditions::{CompiledConditions, DateWindow, Set};

use super::words::{describe, describe_window};
use crate::engine::device::DeviceCategory;
use crate::engine::facts::Facts;
use crate::engine::geo::{continent_of, is_eu_member, known_countries, GeoFacts};

const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// Which model of the geography to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Geo {
    /// Sources agree with the continent table.
    Consistent,
    /// The continent may be anything.
    Loose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cluster {
    Geo,
    City,
    Asn,
    Device,
    Os,
    Browser,
    Language,
    Query(String),
    Time,
}

impl Cluster {
    fn name(&self) -> String {
        match self {
            Self::Geo => "geography".into(),
            Self::City => "city".into(),
            Self::Asn => "asn".into(),
            Self::Device => "device".into(),
            Self::Os => "os".into(),
            Self::Browser => "browser".into(),
            Self::Language => "language".into(),
            Self::Query(name) => format!("query.{name}"),
            Self::Time => "time".into(),
        }
    }
}

/// Whether a rule tests something.
type Test = fn(&CompiledConditions) -> bool;

/// The clusters any of `rules` tests. The device is always one: every rule excludes
/// crawlers unless it targets them.
fn clusters(rules: &[&CompiledConditions]) -> Vec<Cluster> {
    let any = |test: Test| rules.iter().any(|c| test(c));
    let mut out = vec![Cluster::Device];
    let tests: [(Test, Cluster); 6] = [
        (|c| c.city.is_some(), Cluster::City),
        (|c| c.asn.is_some(), Cluster::Asn),
        (|c| c.os.is_some(), Cluster::Os),
        (|c| c.browser.is_some(), Cluster::Browser),
        (|c| c.language.is_some(), Cluster::Language),
        (|c| c.time.is_some(), Cluster::Time),
    ];
    for (test, cluster) in tests {
        if any(test) {
            out.push(cluster);
        }
    }
    let names: BTreeSet<&String> = rules
        .iter()
        .flat_map(|c| c.query.iter().map(|(name, _)| name))
        .collect();
    out.extend(names.into_iter().map(|n| Cluster::Query(n.clone())));
    // The geography last: it has the most points, and a cheaper cluster often decides.
    if any(|c| c.country.is_some() || c.continent.is_some() || c.region.is_some() || c.eu.is_some())
    {
        out.push(Cluster::Geo);
    }
    out
}

/// The part of a rule's conditions that tests one cluster.
fn project(c: &CompiledConditions, cluster: &Cluster) -> CompiledConditions {
    let mut p = CompiledConditions::default();
    match cluster {
        Cluster::Geo => {
            p.country = c.country.clone();
            p.continent = c.continent.clone();
            p.region = c.region.clone();
            p.eu = c.eu;
        }
        Cluster::City => p.city = c.city.clone(),
        Cluster::Asn => p.asn = c.asn.clone(),
        Cluster::Device => p.device = c.device.clone(),
        Cluster::Os => p.os = c.os.clone(),
        Cluster::Browser => p.browser = c.browser.clone(),
        Cluster::Language => p.language = c.language.clone(),
        Cluster::Query(name) => {
            p.query = c.query.iter().filter(|(n, _)| n == name).cloned().collect();
        }
        Cluster::Time => p.time = c.time,
    }
    p
}

/// A rule restricted to one cluster.
struct Part<'a> {
    rule: &'a CompiledConditions,
    projected: CompiledConditions,
}

impl<'a> Part<'a> {
    fn new(rule: &'a CompiledConditions, cluster: &Cluster) -> Self {
        Part {
            rule,
            projected: project(rule, cluster),
        }
    }

    fn holds(&self, point: &Facts) -> bool {
        self.projected.check(point).is_ok()
            && (point.device != DeviceCategory::Crawler || self.rule.targets_crawlers())
    }
}

fn values<'a, T: PartialEq>(
    rules: &[&'a CompiledConditions],
    get: impl Fn(&'a CompiledConditions) -> Option<&'a Set<T>>,
) -> Vec<&'a T> {
    rules
        .iter()
        .filter_map(|c| get(c))
        .flat_map(|s| s.values())
        .collect()
}

/// A name no rule lists (names are compared case-insensitively, and a name without `-`
/// is no language prefix of another).
fn unnamed(named: &[&String]) -> String {
    (0u32..)
        .map(|n| format!("qx{n}"))
        .find(|v| !named.iter().any(|m| m.eq_ignore_ascii_case(v)))
        .unwrap_or_default()
}

fn with_strings(named: Vec<&String>, set: impl Fn(&mut Facts, Option<String>)) -> Vec<Facts> {
    let other = unnamed(&named);
    let mut options: Vec<Option<String>> = vec![None, Some(other)];
    options.extend(named.into_iter().map(|v| Some(v.clone())));
    options
        .into_iter()
        .map(|v| {
            let mut f = base();
            set(&mut f, v);
            f
        })
        .collect()
}

fn base() -> Facts {
    Facts::at(DateTime::<Utc>::MIN_UTC)
}

/// The representative points of one cluster for `rules`.
fn points(cluster: &Cluster, rules: &[&CompiledConditions], geo: Geo) -> Vec<Facts> {
    match cluster {
        Cluster::Geo => geo_points(rules, geo)
            .into_iter()
            .map(|g| Facts { geo: g, ..base() })
            .collect(),
        Cluster::City => with_strings(values(rules, |c| c.city.as_ref()), |f, v| f.geo.city = v),
        Cluster::Os => with_strings(values(rules, |c| c.os.as_ref()), |f, v| f.os = v),
        Cluster::Browser => {
            with_strings(values(rules, |c| c.browser.as_ref()), |f, v| f.browser = v)
        }
        Cluster::Language => with_strings(values(rules, |c| c.language.as_ref()), |f, v| {
            f.language = v
        }),
        Cluster::Query(name) => {
            let named = rules
                .iter()
                .flat_map(|c| c.query.iter().filter(|(n, _)| n == name))
                .flat_map(|(_, s)| s.values())
                .collect();
            with_strings(named, |f, v| {
                f.query = v.map(|v| (name.clone(), v)).into_iter().collect();
            })
        }
        Cluster::Asn => {
            let named: Vec<u32> = values(rules, |c| c.asn.as_ref())
                .into_iter()
                .copied()
                .collect();
            let other = (1u32..).find(|n| !named.contains(n));
            let options = [None, other]
                .into_iter()
                .chain(named.iter().map(|n| Some(*n)));
            options
                .map(|asn| {
                    let mut f = base();
                    f.geo.asn = asn;
                    f
                })
                .collect()
        }
        Cluster::Device => DeviceCategory::ALL
            .into_iter()
            .map(|device| Facts { device, ..base() })
            .collect(),
        Cluster::Time => {
            let bounds = rules
                .iter()
                .filter_map(|c| c.time)
                .flat_map(|(start, end)| [start, end])
                .flatten();
            std::iter::once(DateTime::<Utc>::MIN_UTC)
                .chain(bounds)
                .map(Facts::at)
                .collect()
        }
    }
}

/// Every country the continent table knows, with its continent and EU membership.
fn country_table() -> &'static [(&'static str, Option<&'static str>, bool)] {
    static TABLE: OnceLock<Vec<(&'static str, Option<&'static str>, bool)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        known_countries()
            .map(|cc| (cc, continent_of(cc), is_eu_member(cc)))
            .collect()
    })
}

fn geo_points(rules: &[&CompiledConditions], model: Geo) -> Vec<GeoFacts> {
    let regions: Vec<&String> = values(rules, |c| c.region.as_ref());
    let mut named: BTreeSet<String> = values(rules, |c| c.country.as_ref())
        .into_iter()
        .cloned()
        .collect();
    named.extend(
        regions
            .iter()
            .filter_map(|r| r.split_once('-'))
            .map(|(cc, _)| cc.to_owned()),
    );
    let mut countries: Vec<String> = named.iter().cloned().collect();
    // Unnamed countries differ only in what the rules can see of them: the continent
    // (in the consistent model, when tested) and EU membership (when tested).
    let tests_continent = rules.iter().any(|c| c.continent.is_some());
    let tests_eu = rules.iter().any(|c| c.eu.is_some());
    let mut classes = HashSet::new();
    for (cc, continent, eu) in country_table() {
        let class = (
            continent.filter(|_| tests_continent && model == Geo::Consistent),
            *eu && tests_eu,
        );
        if !named.contains(*cc) && classes.insert(class) {
            countries.push((*cc).to_owned());
        }
    }
    let unlisted = ["ZZ", "XA", "XB", "XC", "QM", "QN"]
        .into_iter()
        .find(|cc| continent_of(cc).is_none() && !named.contains(*cc));
    countries.extend(unlisted.map(str::to_owned));
    let tests_region = !regions.is_empty() || rules.iter().any(|c| c.region.is_some());
    // Facts no rule tests stay unknown: every value behaves alike.
    let any_continent: Vec<Option<String>> = match (model, tests_continent) {
        (Geo::Loose, true) => std::iter::once(None)
            .chain(CONTINENTS.iter().map(|c| Some((*c).to_owned())))
            .collect(),
        _ => vec![None],
    };
    let mut out: Vec<GeoFacts> = any_continent
        .iter()
        .map(|continent| GeoFacts {
            continent: continent.clone(),
            ..GeoFacts::default()
        })
        .collect();
    for cc in countries {
        let mut region_options: Vec<Option<String>> = vec![None];
        if tests_region {
            region_options.extend(
                regions
                    .iter()
                    .filter(|r| r.split_once('-').is_some_and(|(p, _)| p == cc))
                    .map(|r| Some((*r).clone())),
            );
            let other_region = (0u32..)
                .map(|n| format!("{cc}-Q{n}"))
                .find(|r| !regions.contains(&r));
            region_options.push(other_region);
        }
        let continents = match model {
            Geo::Consistent => vec![continent_of(&cc).map(str::to_owned)],
            Geo::Loose => any_continent.clone(),
        };
        for region in &region_options {
            for continent in &continents {
                out.push(GeoFacts {
                    country: Some(cc.clone()),
                    continent: continent.clone(),
                    region: region.clone(),
                    city: None,
                    eu: Some(is_eu_member(&cc)),
                    asn: None,
                });
            }
        }
    }
    out
}

/// Why a rule's conditions can never all hold (loose model), or `None` when they can.
pub(super) fn never_matches(rule: &CompiledConditions) -> Option<String> {
    clusters(&[rule]).into_iter().find_map(|cluster| {
        let part = Part::new(rule, &cluster);
        let possible = points(&cluster, &[rule], Geo::Loose)
            .iter()
            .any(|p| part.holds(p));
        (!possible).then(|| never_reason(&part.projected, &cluster))
    })
}

fn empty_in<T: PartialEq>(set: Option<&Set<T>>) -> bool {
    set.is_some_and(|s| !s.is_negated() && s.values().is_empty())
}

fn never_reason(projected: &CompiledConditions, cluster: &Cluster) -> String {
    let described = describe(projected);
    let p = projected;
    let empty = empty_in(p.country.as_ref())
        || empty_in(p.continent.as_ref())
        || empty_in(p.region.as_ref())
        || empty_in(p.city.as_ref())
        || empty_in(p.asn.as_ref())
        || empty_in(p.device.as_ref())
        || empty_in(p.os.as_ref())
        || empty_in(p.browser.as_ref())
        || empty_in(p.language.as_ref())
        || p.query.iter().any(|(_, s)| empty_in(Some(s)));
    if empty {
        return format!("an empty `in` list never holds ({described})");
    }
    if *cluster == Cluster::Device {
        return format!(
            "{described} leaves only crawlers, and crawlers take only rules whose device \
             condition is `in [crawler, ...]`"
        );
    }
    format!("no visitor's {} satisfies {described}", cluster.name())
}

/// Whether two rules can both hold for one visitor (consistent model); if so, an example
/// visitor: the value of each fact either rule tests.
pub(super) fn overlap(
    a: &CompiledConditions,
    b: &CompiledConditions,
) -> Option<BTreeMap<String, String>> {
    let rules = [a, b];
    let mut example = BTreeMap::new();
    for cluster in clusters(&rules) {
        let (pa, pb) = (Part::new(a, &cluster), Part::new(b, &cluster));
        let point = points(&cluster, &rules, Geo::Consistent)
            .into_iter()
            .find(|p| pa.holds(p) && pb.holds(p))?;
        describe_point(&cluster, &point, &rules, &mut example);
    }
    Some(example)
}

/// Whether every visitor `r` matches is one `e` matches (loose model). `r` must be able to
/// match (see [`never_matches`]).
pub(super) fn subsumes(e: &CompiledConditions, r: &CompiledConditions) -> bool {
    let rules = [e, r];
    clusters(&rules).iter().all(|cluster| {
        let (pe, pr) = (Part::new(e, cluster), Part::new(r, cluster));
        points(cluster, &rules, Geo::Loose)
            .iter()
            .all(|p| !pr.holds(p) || pe.holds(p))
    })
}

fn shown(v: Option<&str>) -> String {
    v.unwrap_or("unknown").to_owned()
}

fn describe_point(
    cluster: &Cluster,
    p: &Facts,
    rules: &[&CompiledConditions],
    out: &mut BTreeMap<String, String>,
) {
    let tests = |f: fn(&CompiledConditions) -> bool| rules.iter().any(|c| f(c));
    let mut put = |k: &str, v: String| {
        out.insert(k.to_owned(), v);
    };
    match cluster {
        Cluster::Geo => {
            put("country", shown(p.geo.country.as_deref()));
            if tests(|c| c.continent.is_some()) {
                put("continent", shown(p.geo.continent.as_deref()));
            }
            if tests(|c| c.eu.is_some()) {
                put("eu", shown(p.geo.eu.map(|e| e.to_string()).as_deref()));
            }
            if tests(|c| c.region.is_some()) {
                put("region", shown(p.geo.region.as_deref()));
            }
        }
        Cluster::City => put("city", shown(p.geo.city.as_deref())),
        Cluster::Asn => put("asn", shown(p.geo.asn.map(|a| a.to_string()).as_deref())),
        Cluster::Device => {
            if tests(|c| c.device.is_some()) || p.device == DeviceCategory::Crawler {
                put("device", p.device.to_string());
            }
        }
        Cluster::Os => put("os", shown(p.os.as_deref())),
        Cluster::Browser => put("browser", shown(p.browser.as_deref())),
        Cluster::Language => put("language", shown(p.language.as_deref())),
        Cluster::Query(name) => put(
            &format!("query.{name}"),
            p.query_value(name).unwrap_or("absent").to_owned(),
        ),
        Cluster::Time => {
            let windows: Vec<DateWindow> = rules.iter().filter_map(|c| c.time).collect();
            let start = windows.iter().filter_map(|w| w.0).max();
            let end = windows.iter().filter_map(|w| w.1).min();
            put("time", describe_window((start, end)));
        }
    }
}
