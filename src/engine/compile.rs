//! Compiling a [`HandleConfig`] into a [`RuleSet`]: every problem is reported, with its
//! JSON path and document id, before anything is built.
//!
//! Errors stop compilation; warnings do not. Warnings: destinations that are not routable
//! now (they may become routable once their domain is verified and approved, so they are
//! accepted), empty condition sets, campaigns with a single variant.

use std::collections::{HashMap, HashSet};

use url::Url;

use crate::engine::allowlist::{normalise_domain, url_domain, Allowlist};
use crate::engine::conditions::{self, parse_time};
use crate::engine::ruleset::{Campaign, Entry, EntryIndex, Rule, RuleSet, Target, Variant};
use crate::engine::template::{check_value, Template};
use crate::model::config::{HandleConfig, ParamSource, RuleDoc, TemplateDoc};
use crate::model::diag::{CompileError, Diagnostic, Diagnostics};
use crate::model::ids::{is_valid_id, is_valid_slug};

/// Longest destination URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Longest tracking-template value (before placeholders are filled).
pub const MAX_TEMPLATE_VALUE_LEN: usize = 256;
/// Most parameters one template sets. With the destination and forwarded-query limits,
/// a Location stays well under the 16 KiB header limits of common clients and proxies.
pub const MAX_TEMPLATE_PARAMS: usize = 20;

/// A compiled rule set and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The rule set.
    pub ruleset: RuleSet,
    /// Warnings (never errors).
    pub warnings: Vec<Diagnostic>,
}

/// Compiles a handle's configuration.
///
/// # Errors
/// [`CompileError`] with every diagnostic (errors first) when any error is found.
pub fn compile(config: &HandleConfig) -> Result<Compiled, CompileError> {
    compile_with(config, false)
}

/// Compiles a published snapshot's configuration, which its publisher compiled with
/// [`compile`] already: the same checks, save that destinations are parsed and checked
/// against the allowlist when a visit first reaches them (`Target::deferred`), so no
/// `unroutable_destination` warnings. The edge loads snapshots with it.
///
/// # Errors
/// As [`compile`].
pub fn compile_published(config: &HandleConfig) -> Result<Compiled, CompileError> {
    compile_with(config, true)
}

fn compile_with(config: &HandleConfig, deferred: bool) -> Result<Compiled, CompileError> {
    let mut diags = Diagnostics::default();
    let ruleset = build(config, deferred, &mut diags);
    if diags.has_errors() {
        return Err(CompileError {
            diagnostics: diags.into_vec(),
        });
    }
    Ok(Compiled {
        ruleset,
        warnings: diags.into_vec(),
    })
}

/// Every diagnostic of a configuration, errors first; empty when it is clean.
pub fn validate(config: &HandleConfig) -> Vec<Diagnostic> {
    let mut diags = Diagnostics::default();
    build(config, false, &mut diags);
    diags.into_vec()
}

/// The ids seen so far of one kind, borrowed from the configuration (a snapshot's 1,000
/// rules would otherwise allocate 1,000 strings on an isolate's first visit).
type Seen<'a> = foldhash::HashSet<&'a str>;

fn check_id<'a>(kind: &str, id: &'a str, path: &str, seen: &mut Seen<'a>, diags: &mut Diagnostics) {
    if !is_valid_id(id) {
        diags.error("invalid_id", format!("{path}.id"), format!("{kind} ids are 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"));
    } else if !seen.insert(id) {
        diags.error(
            "duplicate_id",
            format!("{path}.id"),
            format!("another {kind} already has the id {id:?}"),
        );
    }
}

/// How destinations are compiled: checked now, or when a visit first reaches them.
#[derive(Clone, Copy)]
pub(crate) struct Destinations<'a> {
    allowlist: &'a Allowlist,
    deferred: bool,
}

/// Parses a destination URL, checks its form and decides its routability; a deferred one
/// is kept as text for the first visit that reaches it.
fn target(
    raw: &str,
    path: &str,
    dest: Destinations<'_>,
    diags: &mut Diagnostics,
) -> Option<Target> {
    if dest.deferred {
        return Some(Target::deferred(raw));
    }
    if raw.len() > MAX_URL_LEN {
        diags.error(
            "invalid_url",
            path,
            format!("URLs are at most {MAX_URL_LEN} bytes"),
        );
        return None;
    }
    let url = match Url::parse(raw.trim()) {
        Ok(url) => url,
        Err(e) => {
            diags.error("invalid_url", path, format!("not an absolute URL: {e}"));
            return None;
        }
    };
    let host = match url_domain(&url) {
        Ok(host) => host,
        Err(why) => {
            diags.error("invalid_url", path, why.to_string());
            return None;
        }
    };
    // `check_url` without taking the domain apart a second time.
    let routable = dest.allowlist.check_host(host);
    if let Err(why) = &routable {
        diags.warning(
            "unroutable_destination",
            path,
            format!("{why}; visitors are never sent here until it is routable"),
        );
    }
    Some(Target::checked(url, routable))
}

fn build(config: &HandleConfig, deferred: bool, diags: &mut Diagnostics) -> RuleSet {
    if !is_valid_slug(&config.handle) {
        diags.error(
            "invalid_handle",
            "handle",
            "handles are 1 to 63 lower-case letters, digits or '-'",
        );
    }
    if config.risk_threshold > 100 {
        diags.error(
            "invalid_risk_threshold",
            "risk_threshold",
            "the risk threshold is 0 to 100",
        );
    }
    let allowlist = build_allowlist(config, diags);
    let dest = Destinations {
        allowlist: &allowlist,
        deferred,
    };
    diags.set_id(None);
    let fallback = config
        .fallback
        .as_deref()
        .and_then(|f| target(f, "fallback", dest, diags));
    let templates = build_templates(&config.templates, diags);
    let template_index: HashMap<&str, usize> = templates
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id(), i))
        .collect();
    let find_template =
        |id: &Option<String>, path: &str, diags: &mut Diagnostics| -> Option<usize> {
            let id = id.as_deref()?;
            let found = template_index.get(id).copied();
            if found.is_none() {
                diags.error(
                    "unknown_template",
                    path,
                    format!("no tracking template has the id {id:?}"),
                );
            }
            found
        };
    diags.set_id(None);
    let default_template = find_template(&config.default_template, "default_template", diags);
    let campaigns = build_campaigns(config, dest, diags, &find_template);
    let mut entries: foldhash::HashMap<String, Entry> = foldhash::HashMap::default();
    for (i, doc) in config.entries.iter().enumerate() {
        let path = format!("entries[{i}]");
        diags.set_id(Some(&doc.slug));
        if !is_valid_slug(&doc.slug) {
            diags.error(
                "invalid_slug",
                format!("{path}.slug"),
                "entry slugs are 1 to 63 lower-case letters, digits or '-'",
            );
        } else if entries.contains_key(&doc.slug) {
            diags.error(
                "duplicate_id",
                format!("{path}.slug"),
                format!("another entry already has the slug {:?}", doc.slug),
            );
        }
        let default = target(&doc.default, &format!("{path}.default"), dest, diags);
        let template = find_template(&doc.template, &format!("{path}.template"), diags);
        if let Some(default) = default {
            let entry = Entry {
                slug: doc.slug.clone(),
                default,
                template,
                rules: Vec::new(),
                index: EntryIndex::default(),
            };
            entries.insert(doc.slug.clone(), entry);
        }
    }
    let slugs: HashSet<&str> = config.entries.iter().map(|e| e.slug.as_str()).collect();
    let rules = build_rules(config, dest, &slugs, &campaigns, diags, &find_template);
    // Sort positions by (priority, id, position), then move each rule once (rules are
    // large; a comparison sort would move them O(n log n) times).
    let mut keys: Vec<(u32, &str, usize)> = rules
        .iter()
        .enumerate()
        .map(|(i, (rule, _))| (rule.priority, rule.id.as_str(), i))
        .collect();
    keys.sort_unstable();
    let order: Vec<usize> = keys.into_iter().map(|(.., i)| i).collect();
    let mut slots: Vec<Option<(Rule, Vec<String>)>> = rules.into_iter().map(Some).collect();
    // `order` is a permutation of the positions of `slots`: every rule is taken once.
    let rules: Vec<(Rule, Vec<String>)> = order
        .iter()
        .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
        .collect();
    for (index, (_, slugs)) in rules.iter().enumerate() {
        let all = slugs.iter().any(|s| s == "*");
        for (slug, entry) in entries.iter_mut() {
            if all || slugs.contains(slug) {
                entry.rules.push(index as u32);
            }
        }
    }
    let rules: Vec<Rule> = rules.into_iter().map(|(rule, _)| rule).collect();
    for entry in entries.values_mut() {
        entry.index = index_entry(&entry.rules, &rules);
    }
    let router_params = names(templates.iter().flat_map(Template::computed_params));
    let ctx_params = names(templates.iter().flat_map(Template::ctx_params));
    RuleSet {
        handle: config.handle.clone(),
        fallback,
        entries,
        rules,
        campaigns,
        templates,
        default_template,
        allowlist,
        router_params,
        ctx_params,
    }
}

/// Parameter names, sorted and without repeats.
fn names<'t>(all: impl Iterator<Item = &'t str>) -> Vec<String> {
    let mut names: Vec<String> = all.map(str::to_owned).collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn build_allowlist(config: &HandleConfig, diags: &mut Diagnostics) -> Allowlist {
    let mut seen = HashSet::new();
    let mut domains = Vec::with_capacity(config.domains.len());
    for (i, doc) in config.domains.iter().enumerate() {
        let path = format!("domains[{i}]");
        diags.set_id(Some(&doc.domain));
        match normalise_domain(&doc.domain) {
            Ok(name) if name != doc.domain => {
                diags.error(
                    "invalid_domain",
                    format!("{path}.domain"),
                    format!("write the domain in normal form: {name:?}"),
                );
            }
            Ok(name) => {
                if !seen.insert(name) {
                    diags.error(
                        "duplicate_id",
                        format!("{path}.domain"),
                        "this domain is listed twice",
                    );
                }
                domains.push(doc);
            }
            Err(why) => diags.error("invalid_domain", format!("{path}.domain"), why.to_string()),
        }
        if doc.risk_score.is_some_and(|r| r > 100) {
            diags.error(
                "invalid_risk_score",
                format!("{path}.risk_score"),
                "risk scores are 0 to 100",
            );
        }
        if let Some(decision) = &doc.decision {
            parse_time(Some(&decision.at), &format!("{path}.decision.at"), diags);
        }
    }
    // The documents themselves, not copies: a snapshot has hundreds.
    Allowlist::new(domains, config.risk_threshold)
}

fn build_templates(docs: &[TemplateDoc], diags: &mut Diagnostics) -> Vec<Template> {
    let mut seen = Seen::default();
    let mut templates = Vec::with_capacity(docs.len());
    for (i, doc) in docs.iter().enumerate() {
        let path = format!("templates[{i}]");
        diags.set_id(Some(&doc.id));
        check_id("template", &doc.id, &path, &mut seen, diags);
        let mut ok = true;
        for (name, value) in &doc.params {
            let at = format!("{path}.params.{name}");
            if name.is_empty() || name.starts_with("__") || name.len() > 64 {
                diags.error(
                    "invalid_param_name",
                    &at,
                    "parameter names are 1 to 64 bytes and may not start with __ (reserved)",
                );
                ok = false;
            }
            if let Err(why) = check_value(value) {
                diags.error("invalid_placeholder", &at, why.to_string());
                ok = false;
            }
            if value.len() > MAX_TEMPLATE_VALUE_LEN {
                diags.error(
                    "invalid_param_value",
                    &at,
                    format!("template values are at most {MAX_TEMPLATE_VALUE_LEN} bytes"),
                );
                ok = false;
            }
        }
        if doc.params.len() > MAX_TEMPLATE_PARAMS {
            diags.error(
                "too_many_params",
                format!("{path}.params"),
                format!("a template sets at most {MAX_TEMPLATE_PARAMS} parameters"),
            );
            ok = false;
        }
        if let Some(order) = &doc.precedence {
            let unique: HashSet<&ParamSource> = order.iter().collect();
            let complete =
                order.contains(&ParamSource::Destination) && order.contains(&ParamSource::Template);
            if unique.len() != order.len() || !complete {
                diags.error(
                    "invalid_precedence",
                    format!("{path}.precedence"),
                    "list destination and template once each, and visitor at most once",
                );
                ok = false;
            }
        }
        if ok {
            if let Ok(template) = Template::compile(doc) {
                templates.push(template);
            }
        }
    }
    templates
}

type FindTemplate<'a> = dyn Fn(&Option<String>, &str, &mut Diagnostics) -> Option<usize> + 'a;

fn build_campaigns(
    config: &HandleConfig,
    dest: Destinations<'_>,
    diags: &mut Diagnostics,
    find_template: &FindTemplate<'_>,
) -> Vec<Campaign> {
    let mut seen = Seen::default();
    let mut campaigns = Vec::with_capacity(config.campaigns.len());
    for (i, doc) in config.campaigns.iter().enumerate() {
        let path = format!("campaigns[{i}]");
        diags.set_id(Some(&doc.id));
        check_id("campaign", &doc.id, &path, &mut seen, diags);
        let start = parse_time(
            doc.start_date.as_deref(),
            &format!("{path}.start_date"),
            diags,
        );
        let end = parse_time(doc.end_date.as_deref(), &format!("{path}.end_date"), diags);
        if let (Some(s), Some(e)) = (start, end) {
            if s >= e {
                diags.error(
                    "invalid_dates",
                    format!("{path}.end_date"),
                    "end_date must be after start_date",
                );
            }
        }
        if doc.variants.is_empty() {
            diags.error(
                "no_variants",
                format!("{path}.variants"),
                "a campaign needs at least one variant",
            );
        } else if doc.variants.len() == 1 {
            diags.warning(
                "single_variant",
                format!("{path}.variants"),
                "one variant is not an A/B test",
            );
        }
        let total: u32 = doc.variants.iter().map(|v| u32::from(v.weight)).sum();
        if !doc.variants.is_empty() && total != 100 {
            diags.error(
                "invalid_weights",
                format!("{path}.variants"),
                format!("variant weights sum to {total}; they must sum to 100"),
            );
        }
        let mut keys = HashSet::new();
        let mut variants = Vec::with_capacity(doc.variants.len());
        for (j, v) in doc.variants.iter().enumerate() {
            let vpath = format!("{path}.variants[{j}]");
            if !is_valid_id(&v.key) {
                diags.error(
                    "invalid_id",
                    format!("{vpath}.key"),
                    "variant keys are 1 to 64 letters, digits, '-', '_' or '.'",
                );
            } else if !keys.insert(v.key.clone()) {
                diags.error(
                    "duplicate_id",
                    format!("{vpath}.key"),
                    format!("another variant already has the key {:?}", v.key),
                );
            }
            if let Some(target) =
                target(&v.destination, &format!("{vpath}.destination"), dest, diags)
            {
                variants.push(Variant {
                    key: v.key.clone(),
                    weight: v.weight,
                    target,
                });
            }
        }
        let seed = doc.effective_seed();
        if seed.is_empty() || seed.len() > 128 || !seed.bytes().all(|b| b.is_ascii_graphic()) {
            diags.error(
                "invalid_seed",
                format!("{path}.seed"),
                "seeds are 1 to 128 printable ASCII characters (so other tools hash them alike)",
            );
        }
        for (k, tag) in doc.required_tags().iter().enumerate() {
            if tag.is_empty() || tag.starts_with("__") {
                diags.error(
                    "invalid_param_name",
                    format!("{path}.traffic_tags[{k}]"),
                    "traffic tags are query parameter names, not reserved __ ones",
                );
            }
        }
        let template = find_template(&doc.template, &format!("{path}.template"), diags);
        campaigns.push(Campaign {
            id: doc.id.clone(),
            status: doc.status,
            start,
            end,
            variants,
            seed: seed.to_owned(),
            template,
        });
    }
    campaigns
}

fn build_rules(
    config: &HandleConfig,
    dest: Destinations<'_>,
    entries: &HashSet<&str>,
    campaigns: &[Campaign],
    diags: &mut Diagnostics,
    find_template: &FindTemplate<'_>,
) -> Vec<(Rule, Vec<String>)> {
    let mut seen = Seen::default();
    let mut rules = Vec::with_capacity(config.rules.len());
    for (i, doc) in config.rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        diags.set_id(Some(&doc.id));
        check_id("rule", &doc.id, &path, &mut seen, diags);
        if let Some(rule) = build_rule(doc, &path, dest, entries, campaigns, diags, find_template) {
            rules.push((rule, doc.entries.clone()));
        }
    }
    rules
}

/// Checks and compiles one rule against the rest of the configuration. The management
/// API uses this with `path = "$"` to report a PUT body's problems at their own paths.
pub(crate) fn build_rule(
    doc: &RuleDoc,
    path: &str,
    dest: Destinations<'_>,
    entries: &HashSet<&str>,
    campaigns: &[Campaign],
    diags: &mut Diagnostics,
    find_template: &FindTemplate<'_>,
) -> Option<Rule> {
    if doc.entries.is_empty() {
        diags.error(
            "no_entries",
            format!("{path}.entries"),
            "list the entry slugs this rule applies to, or \"*\" for all",
        );
    }
    for (j, slug) in doc.entries.iter().enumerate() {
        if slug != "*" && !entries.contains(slug.as_str()) {
            diags.error(
                "unknown_entry",
                format!("{path}.entries[{j}]"),
                format!("no entry has the slug {slug:?}"),
            );
        }
    }
    let conditions = conditions::compile(&doc.conditions, &format!("{path}.conditions"), diags);
    let destination = doc
        .destination
        .as_deref()
        .and_then(|d| target(d, &format!("{path}.destination"), dest, diags));
    let campaign = doc.campaign.as_deref().and_then(|id| {
        let found = campaigns.iter().position(|c| c.id == id);
        if found.is_none() {
            diags.error(
                "unknown_campaign",
                format!("{path}.campaign"),
                format!("no campaign has the id {id:?}"),
            );
        }
        found
    });
    if doc.destination.is_none() && doc.campaign.is_none() {
        diags.error(
            "no_action",
            path,
            "a rule needs a destination, a campaign, or both",
        );
    }
    let template = find_template(&doc.template, &format!("{path}.template"), diags);
    Some(Rule {
        id: doc.id.clone(),
        priority: doc.priority,
        enabled: doc.enabled,
        conditions,
        destination,
        campaign,
        template,
    })
}

/// Builds the country index of one entry from its rules (in evaluation order).
fn index_entry(entry_rules: &[u32], rules: &[Rule]) -> EntryIndex {
    let mut index = EntryIndex::default();
    // `entry_rules` are positions in `rules` (compile() built both).
    let enabled = entry_rules
        .iter()
        .filter_map(|&i| Some((i, rules.get(i as usize)?)))
        .filter(|(_, rule)| rule.enabled);
    let mut keyed: Vec<(u32, &[String])> = Vec::new();
    for (i, rule) in enabled {
        if rule.conditions.targets_crawlers() {
            index.crawler.push(i);
        }
        match rule.conditions.country.as_ref().and_then(|c| c.positive()) {
            Some(countries) => keyed.push((i, countries)),
            None => index.open.push(i),
        }
    }
    for (i, countries) in &keyed {
        for country in countries.iter() {
            index
                .by_country
                .entry(country.clone())
                .or_default()
                .push(*i);
        }
    }
    for list in index.by_country.values_mut() {
        list.extend(index.open.iter().copied());
        list.sort_unstable();
        list.dedup();
    }
    index
}
