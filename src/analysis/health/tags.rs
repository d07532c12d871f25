//! The tracking templates a campaign's traffic gets, and the checks on them
//! (`traffic_tags`, `ctx_token`).

use std::collections::BTreeSet;

use serde_json::json;
use url::Url;

use super::{check, Check, CheckStatus};
use crate::model::config::{CampaignDoc, HandleConfig, RuleDoc, TemplateDoc};

/// A template (or none) and the routes that get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TemplateUse {
    pub(super) template: Option<String>,
    pub(super) via: Vec<String>,
}

/// The templates applied to the campaign's assigned variants, as the router picks them.
pub(super) fn template_uses(config: &HandleConfig, doc: &CampaignDoc) -> Vec<TemplateUse> {
    let mut uses: Vec<TemplateUse> = Vec::new();
    let mut add = |template: Option<&String>, via: String| match uses
        .iter_mut()
        .find(|u| u.template.as_ref() == template)
    {
        Some(u) => u.via.push(via),
        None => uses.push(TemplateUse {
            template: template.cloned(),
            via: vec![via],
        }),
    };
    if let Some(t) = &doc.template {
        add(Some(t), "the campaign".into());
        return uses;
    }
    let mut rules: Vec<&RuleDoc> = config
        .rules
        .iter()
        .filter(|r| r.enabled && r.campaign.as_deref() == Some(doc.id.as_str()))
        .collect();
    rules.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.id.cmp(&b.id)));
    if rules.is_empty() {
        add(
            config.default_template.as_ref(),
            "the handle's default (no rule routes to it yet)".into(),
        );
    }
    for rule in rules {
        if rule.template.is_some() {
            add(rule.template.as_ref(), format!("rule {}", rule.id));
            continue;
        }
        let all = rule.entries.iter().any(|e| e == "*");
        for entry in config
            .entries
            .iter()
            .filter(|e| all || rule.entries.contains(&e.slug))
        {
            match &entry.template {
                Some(t) => add(Some(t), format!("entry {} (rule {})", entry.slug, rule.id)),
                None => add(
                    config.default_template.as_ref(),
                    format!(
                        "the handle's default (rule {}, entry {})",
                        rule.id, entry.slug
                    ),
                ),
            }
        }
    }
    uses
}

fn template<'c>(config: &'c HandleConfig, id: &str) -> Option<&'c TemplateDoc> {
    config.templates.iter().find(|t| t.id == id)
}

/// Query parameter names every variant's destination URL carries.
fn destination_tags(doc: &CampaignDoc) -> BTreeSet<String> {
    let mut sets = doc.variants.iter().map(|v| {
        Url::parse(&v.destination)
            .map(|u| u.query_pairs().map(|(k, _)| k.into_owned()).collect())
            .unwrap_or_default()
    });
    let first: BTreeSet<String> = sets.next().unwrap_or_default();
    sets.fold(first, |acc, s: BTreeSet<String>| {
        acc.intersection(&s).cloned().collect()
    })
}

/// Whether a template value may be left out for some visitors: it needs the visitor's
/// country (unknown for some) or the ctx token (not issued without `TOKEN_SECRET`).
fn conditional(value: &str) -> bool {
    value.contains("{country}") || value.contains("{ctx}")
}

fn name(u: &TemplateUse) -> String {
    match &u.template {
        Some(t) => format!("template {t} ({})", u.via.join(", ")),
        None => format!("no template ({})", u.via.join(", ")),
    }
}

/// `traffic_tags`: every template sets every required tag.
pub(super) fn traffic_tags(
    config: &HandleConfig,
    doc: &CampaignDoc,
    uses: &[TemplateUse],
) -> Check {
    let required = doc.required_tags();
    let from_destinations = destination_tags(doc);
    let mut verdict = CheckStatus::Pass;
    let mut problems = Vec::new();
    let mut details = Vec::new();
    for u in uses {
        let Some(t) = u.template.as_deref().and_then(|id| template(config, id)) else {
            verdict = CheckStatus::Fail;
            problems.push(format!("{} sets none of {}", name(u), required.join(", ")));
            details.push(json!({"template": u.template, "via": u.via, "missing": required}));
            continue;
        };
        let missing: Vec<&String> = required
            .iter()
            .filter(|tag| !t.params.contains_key(*tag) && !from_destinations.contains(*tag))
            .collect();
        let maybe: Vec<&String> = required
            .iter()
            .filter(|tag| t.params.get(*tag).is_some_and(|v| conditional(v)))
            .collect();
        if !missing.is_empty() {
            verdict = CheckStatus::Fail;
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            problems.push(format!("{} does not set {}", name(u), list.join(", ")));
        } else if !maybe.is_empty() {
            verdict = verdict.max(CheckStatus::Warn);
            let list: Vec<&str> = maybe.iter().map(|s| s.as_str()).collect();
            problems.push(format!(
                "{} leaves out {} for visitors without a known country or ctx",
                name(u),
                list.join(", ")
            ));
        }
        details.push(
            json!({"template": t.id, "via": u.via, "missing": missing, "conditional": maybe}),
        );
    }
    let reason = if problems.is_empty() {
        let ids: Vec<&str> = uses.iter().filter_map(|u| u.template.as_deref()).collect();
        let (noun, verb) = if ids.len() == 1 {
            ("template", "sets")
        } else {
            ("templates", "set")
        };
        format!("{noun} {} {verb} {}", ids.join(", "), required.join(", "))
    } else {
        problems.join("; ")
    };
    Check {
        details: Some(json!({"required": required, "templates": details})),
        ..check("traffic_tags", verdict, reason)
    }
}

/// `ctx_token`: every template hands the ctx token to the destination.
pub(super) fn ctx_token(config: &HandleConfig, uses: &[TemplateUse]) -> Check {
    let mut problems = Vec::new();
    let mut carriers = Vec::new();
    for u in uses {
        let param = u
            .template
            .as_deref()
            .and_then(|id| template(config, id))
            .and_then(|t| t.params.iter().find(|(_, v)| v.contains("{ctx}")))
            .map(|(name, _)| name.clone());
        match param {
            Some(param) => carriers.push(json!({"template": u.template, "param": param})),
            None => problems.push(name(u)),
        }
    }
    let c = if problems.is_empty() {
        let list: Vec<String> = carriers
            .iter()
            .map(|c| {
                format!(
                    "{} as {}",
                    c["template"].as_str().unwrap_or("?"),
                    c["param"].as_str().unwrap_or("?")
                )
            })
            .collect();
        check(
            "ctx_token",
            CheckStatus::Pass,
            format!("the ctx token reaches the destination: {}", list.join(", ")),
        )
    } else {
        check(
            "ctx_token",
            CheckStatus::Fail,
            format!("{} carries no {{ctx}} parameter, so visitors arrive without a ctx token and their conversions cannot be recorded", problems.join("; ")),
        )
    };
    Check {
        details: Some(json!({"carriers": carriers})),
        ..c
    }
}
