//! `router audit`: the rule audit of the API (`GET .../rule-audit`, built by
//! `api::audit::audit`), offline from the rule files, grouped as text or as its JSON.
//! Each finding about a rule names the file and line the rule is written at.

use std::path::Path;

use clap::ValueEnum;
use edge_router::analysis::audit::{audit as build, Audit, ShadowScope, Summary, UnroutableKind};
use edge_router::{Diagnostic, Severity};

use crate::common::{
    exit, print_json, rules_or_report, say, write_out, CliError, CmdResult, Rules,
};
use crate::locate;

/// A kind of finding `--fail-on` can make fail the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// Same-priority rules that can both hold for one visitor.
    Collisions,
    /// Rules that can never win in some entry.
    Shadowed,
    /// Rules that can never win in any entry they apply to (the default).
    ShadowedEverywhere,
    /// Destinations that are not routable now.
    Unroutable,
    /// `in: []` or `not_in: []` tests.
    EmptySets,
    /// Any finding.
    Any,
    /// Never fail on findings.
    None,
}

impl FailOn {
    fn count(self, s: &Summary) -> usize {
        match self {
            Self::Collisions => s.priority_collisions,
            Self::Shadowed => s.shadowed,
            Self::ShadowedEverywhere => s.shadowed_everywhere,
            Self::Unroutable => s.unroutable,
            Self::EmptySets => s.empty_condition_sets,
            Self::Any => s.priority_collisions + s.shadowed + s.unroutable + s.empty_condition_sets,
            Self::None => 0,
        }
    }
}

/// Audits the rules; exit 1 when a finding of a `fail_on` kind is present.
pub(crate) fn audit(dir: &Path, fail_on: &[FailOn], json: bool) -> CmdResult {
    let rules = match rules_or_report(dir, json) {
        Ok(rules) => rules,
        Err(reported) => return reported,
    };
    let report = build(&rules.config, &rules.compiled.ruleset);
    let failing: Vec<FailOn> = fail_on
        .iter()
        .copied()
        .filter(|k| k.count(&report.summary) > 0)
        .collect();
    if json {
        let mut value = serde_json::to_value(&report)
            .map_err(|e| CliError::Usage(format!("cannot render JSON: {e}")))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("ok".into(), failing.is_empty().into());
        }
        print_json(&value)?;
    } else {
        write_out(format_args!("{}", render(&report, &rules)));
        if !failing.is_empty() {
            let names: Vec<String> = failing
                .iter()
                .filter_map(|k| k.to_possible_value())
                .map(|v| v.get_name().to_owned())
                .collect();
            say!("\nfailing: --fail-on {}", names.join(","));
        }
    }
    Ok(exit(failing.is_empty()))
}

/// A merged-configuration JSON path located in its file: the path inside the file and
/// `  [file:line]`.
fn located(rules: &Rules, path: String) -> (String, String) {
    let probe = Diagnostic {
        severity: Severity::Warning,
        code: "audit",
        path,
        id: None,
        message: String::new(),
    };
    let located = locate::lines(vec![rules.origins.locate(&probe)]);
    let Some(d) = located.first() else {
        return (probe.path, String::new());
    };
    let at = match d.line {
        Some(line) => format!("  [{}:{line}]", d.file.display()),
        None => format!("  [{}]", d.file.display()),
    };
    (d.diagnostic.path.clone(), at)
}

/// `  [file:line]` of the rule with this id.
fn rule_at(rules: &Rules, id: &str) -> String {
    match rules.config.rules.iter().position(|r| r.id == id) {
        Some(index) => located(rules, format!("rules[{index}].id")).1,
        None => String::new(),
    }
}

/// `  [file:line]` of the default of the first of these entries.
fn entry_at(rules: &Rules, entries: &[String]) -> String {
    let index = entries
        .first()
        .and_then(|slug| rules.config.entries.iter().position(|e| &e.slug == slug));
    match index {
        Some(index) => located(rules, format!("entries[{index}].default")).1,
        None => String::new(),
    }
}

/// The audit as grouped text.
pub(crate) fn render(report: &Audit, rules: &Rules) -> String {
    let s = &report.summary;
    let mut out = format!(
        "audit of {}: {} priority collision(s), {} shadowed rule(s) ({} everywhere), \
         {} unroutable destination(s), {} empty condition set(s)\n",
        report.handle,
        s.priority_collisions,
        s.shadowed,
        s.shadowed_everywhere,
        s.unroutable,
        s.empty_condition_sets
    );
    if !report.priority_collisions.is_empty() {
        out.push_str("\npriority collisions\n");
        for c in &report.priority_collisions {
            let [a, b] = &c.rules;
            out.push_str(&format!(
                "  {a} / {b} (priority {}, entries {}){}{}\n    {}\n",
                c.priority,
                c.entries.join(", "),
                rule_at(rules, a),
                rule_at(rules, b),
                c.why
            ));
        }
    }
    if !report.shadowed.is_empty() {
        out.push_str("\nshadowed rules\n");
        for r in &report.shadowed {
            let scope = match r.scope {
                ShadowScope::Everywhere => "never wins anywhere",
                ShadowScope::SomeEntries => "never wins in some entries",
            };
            out.push_str(&format!(
                "  {} (priority {}): {scope}{}\n",
                r.rule,
                r.priority,
                rule_at(rules, &r.rule)
            ));
            for s in &r.shadowed_in {
                out.push_str(&format!("    in {}: {}\n", s.entry, s.why));
            }
        }
    }
    if !report.unroutable.is_empty() {
        out.push_str("\nunroutable destinations\n");
        for u in &report.unroutable {
            let (whose, at) = match (u.kind, &u.campaign, &u.variant) {
                (UnroutableKind::Variant, Some(c), Some(v)) => (
                    format!("campaign {c} variant {v} (rules {})", u.rules.join(", ")),
                    String::new(),
                ),
                (UnroutableKind::EntryDefault, _, _) => (
                    format!("default of entry {}", u.entries.join(", ")),
                    entry_at(rules, &u.entries),
                ),
                (UnroutableKind::HandleFallback, _, _) => (
                    "handle fallback".to_owned(),
                    located(rules, "fallback".to_owned()).1,
                ),
                _ => (
                    format!("rule {}", u.rules.join(", ")),
                    u.rules
                        .first()
                        .map(|r| rule_at(rules, r))
                        .unwrap_or_default(),
                ),
            };
            out.push_str(&format!(
                "  {whose}: {}{at}\n    {}; {}\n",
                u.destination, u.message, u.effect
            ));
        }
    }
    if !report.empty_condition_sets.is_empty() {
        out.push_str("\nempty condition sets\n");
        for e in &report.empty_condition_sets {
            let (path, at) = located(rules, e.path.clone());
            out.push_str(&format!("  {} at {path}{at}\n    {}\n", e.rule, e.effect));
        }
    }
    out
}
