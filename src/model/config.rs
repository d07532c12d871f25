//! Wire types of a handle's configuration: what rule files under `rules/` hold, what the
//! management API stores, and what a snapshot carries. Serde checks their form (unknown
//! fields are refused); [`crate::engine::compile`] checks their meaning and builds a
//! [`crate::RuleSet`]. Natively they also derive `schemars::JsonSchema`, the source of
//! `rules/schema.json` (`router schema`); the wasm build leaves that out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::lifecycle::CampaignStatus;

/// Everything one handle routes with. Its [`Default`] matches what serde fills in for an
/// empty document (in particular `risk_threshold` is [`DEFAULT_RISK_THRESHOLD`], not 0).
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandleConfig {
    /// The tenant, e.g. `gharart`.
    pub handle: String,
    /// The handle's fallback page: used when an entry's default is not routable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Risk scores strictly below this count as approved when a domain has no manual
    /// decision.
    #[serde(default = "default_risk_threshold")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(max = 100)))]
    pub risk_threshold: u8,
    /// Tracking template used when neither campaign, rule nor entry names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_template: Option<String>,
    /// Entry points visitors hit, `/{handle}/{slug}`.
    #[serde(default)]
    pub entries: Vec<EntryDoc>,
    /// Personalization rules.
    #[serde(default)]
    pub rules: Vec<RuleDoc>,
    /// Destination domains and their trust.
    #[serde(default)]
    pub domains: Vec<DomainDoc>,
    /// Tracking templates.
    #[serde(default)]
    pub templates: Vec<TemplateDoc>,
    /// A/B campaigns.
    #[serde(default)]
    pub campaigns: Vec<CampaignDoc>,
}

/// The default risk threshold: scores of 0-29 are approved without a manual decision.
pub const DEFAULT_RISK_THRESHOLD: u8 = 30;

impl Default for HandleConfig {
    fn default() -> Self {
        HandleConfig {
            handle: String::new(),
            fallback: None,
            risk_threshold: DEFAULT_RISK_THRESHOLD,
            default_template: None,
            entries: Vec::new(),
            rules: Vec::new(),
            domains: Vec::new(),
            templates: Vec::new(),
            campaigns: Vec::new(),
        }
    }
}

fn default_risk_threshold() -> u8 {
    DEFAULT_RISK_THRESHOLD
}

fn default_true() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// An entry point with its default destination.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryDoc {
    /// Path segment after the handle.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))
    )]
    pub slug: String,
    /// Where visitors go when no rule wins.
    pub default: String,
    /// Tracking template for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A personalization rule.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    /// Unique id within the handle; breaks priority ties (ascending).
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub id: String,
    /// Lower numbers are evaluated first.
    pub priority: u32,
    /// Disabled rules are never evaluated.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Entry slugs the rule applies to; `*` means every entry.
    pub entries: Vec<String>,
    /// ANDed conditions; none means the rule matches everything.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
    /// Where the rule sends visitors; with a campaign, where they go when the campaign
    /// assigns no variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Campaign whose variants this rule routes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Tracking template for this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A set test: exactly one of `in` and `not_in`.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[cfg_attr(
    not(target_arch = "wasm32"),
    schemars(rename = "SetTest_{T}", extend("minProperties" = 1, "maxProperties" = 1))
)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTest<T> {
    /// The fact must be known and one of these.
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<T>>,
    /// The fact must be unknown or none of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in: Option<Vec<T>>,
}

impl<T> SetTest<T> {
    /// A test that the fact is one of `values`.
    pub fn any_of(values: Vec<T>) -> Self {
        SetTest {
            any_of: Some(values),
            not_in: None,
        }
    }

    /// A test that the fact is none of `values`.
    pub fn none_of(values: Vec<T>) -> Self {
        SetTest {
            any_of: None,
            not_in: Some(values),
        }
    }
}

/// Rule conditions, ANDed. Each present field must hold.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// ISO 3166-1 alpha-2 codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<SetTest<String>>,
    /// Continent codes (AF AN AS EU NA OC SA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent: Option<SetTest<String>>,
    /// ISO 3166-2 subdivision codes such as `IN-MH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<SetTest<String>>,
    /// City names (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<SetTest<String>>,
    /// EU membership of the visitor's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eu: Option<bool>,
    /// Autonomous system numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<SetTest<u32>>,
    /// Device categories: `desktop`, `mobile`, `tablet`, `crawler`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<SetTest<String>>,
    /// Operating systems, lower-case: `ios`, `android`, `windows`, `macos`, `linux`,
    /// `chromeos`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<SetTest<String>>,
    /// Browsers, lower-case: `chrome`, `safari`, `firefox`, `edge`, `samsung`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<SetTest<String>>,
    /// Languages (preferred tag, or its primary subtag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<SetTest<String>>,
    /// Visitor query parameters by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, SetTest<String>>,
    /// A time window: start inclusive, end exclusive, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWindow>,
}

impl Conditions {
    /// Whether no condition is set (the rule matches everything).
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }
}

/// A time window; either bound may be open.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Inclusive start (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(extend("format" = "date-time")))]
    pub start: Option<String>,
    /// Exclusive end (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(extend("format" = "date-time")))]
    pub end: Option<String>,
}

/// Verification state of a destination domain.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// The TXT record has not been seen yet.
    #[default]
    Pending,
    /// The TXT record held the domain's token.
    Verified,
    /// The last check found no matching record.
    Failed,
}

/// A manual trust decision.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionValue {
    /// Routable once verified, whatever the risk score.
    Approved,
    /// Never routable, whatever the risk score.
    Rejected,
}

/// Who decided what about a domain, why and when.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainDecision {
    /// Approved or rejected.
    pub value: DecisionValue,
    /// Who decided.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    #[cfg_attr(not(target_arch = "wasm32"), schemars(extend("format" = "date-time")))]
    pub at: String,
}

/// A destination domain and its trust.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainDoc {
    /// Host name, or `*.example.com` for every subdomain of `example.com`.
    pub domain: String,
    /// Verification state.
    #[serde(default)]
    pub verification: Verification,
    /// The token to publish at `_gharart-verify.<domain>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Automated risk score, 0 (safe) to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(max = 100)))]
    pub risk_score: Option<u8>,
    /// Manual decision; overrides the risk score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DomainDecision>,
    /// When the domain was last verified (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(extend("format" = "date-time")))]
    pub verified_at: Option<String>,
    /// When its TXT proof was last checked, by `/verify` or the scheduled re-check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(extend("format" = "date-time")))]
    pub checked_at: Option<String>,
    /// Why the last check failed (e.g. the TXT proof is gone), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Which source of query parameters wins a name clash.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    /// Parameters already on the destination URL.
    Destination,
    /// The tracking template's parameters.
    Template,
    /// The visitor's own query parameters (reserved `__*` ones never).
    Visitor,
}

/// A tracking template: query parameters to add, with placeholders.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    /// Unique id within the handle.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub id: String,
    /// Parameter name to value; values may hold placeholders such as `{country}`.
    pub params: BTreeMap<String, String>,
    /// Which source wins a clash, first wins; `visitor` may be left out to forward no
    /// visitor parameters. Default `["destination", "template", "visitor"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precedence: Option<Vec<ParamSource>>,
}

/// A campaign variant.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantDoc {
    /// Variant key, e.g. `control`.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub key: String,
    /// Share of traffic in percent; a campaign's weights sum to 100.
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(max = 100)))]
    pub weight: u8,
    /// Where this variant sends visitors.
    pub destination: String,
}

/// An A/B campaign.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignDoc {
    /// Unique id within the handle.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub id: String,
    /// Human name.
    pub name: String,
    /// Stored status; `completed` is also reached automatically after `end_date`.
    #[serde(default)]
    pub status: CampaignStatus,
    /// When the campaign starts assigning (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(extend("format" = "date-time")))]
    pub start_date: Option<String>,
    /// When it completes (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(extend("format" = "date-time")))]
    pub end_date: Option<String>,
    /// Variants, laid out in this order over the bucket range.
    pub variants: Vec<VariantDoc>,
    /// Query parameters its tracking template must set (default: the three UTM tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_tags: Option<Vec<String>>,
    /// Hash seed; defaults to the campaign id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// Tracking template for this campaign's traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// The traffic tags a campaign's template needs when the campaign lists none.
pub const DEFAULT_TRAFFIC_TAGS: [&str; 3] = ["utm_source", "utm_medium", "utm_campaign"];

impl CampaignDoc {
    /// The seed bucketing uses.
    pub fn effective_seed(&self) -> &str {
        self.seed.as_deref().unwrap_or(&self.id)
    }

    /// The traffic tags the campaign requires.
    pub fn required_tags(&self) -> Vec<String> {
        match &self.traffic_tags {
            Some(tags) => tags.clone(),
            None => DEFAULT_TRAFFIC_TAGS
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
        }
    }
}

/// Ids of the enabled rules pointing at campaign `id`, in evaluation order.
pub fn routed_by(config: &HandleConfig, id: &str) -> Vec<String> {
    let mut rules: Vec<_> = config
        .rules
        .iter()
        .filter(|r| r.enabled && r.campaign.as_deref() == Some(id))
        .collect();
    rules.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.id.cmp(&b.id)));
    rules.into_iter().map(|r| r.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a derived `Default` gave `risk_threshold: 0`, so a configuration built
    /// with `..Default::default()` approved no domain by its risk score, unlike the same
    /// configuration read from JSON (serde's default is 30).
    #[test]
    fn default_config_has_the_documented_risk_threshold() -> Result<(), serde_json::Error> {
        let parsed: HandleConfig = serde_json::from_str(r#"{"handle": ""}"#)?;
        assert_eq!(HandleConfig::default(), parsed);
        assert_eq!(
            HandleConfig::default().risk_threshold,
            DEFAULT_RISK_THRESHOLD
        );
        Ok(())
    }
}
