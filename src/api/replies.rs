//! What each route answers, as types: the handlers serialise these, and the OpenAPI
//! document (`super::openapi`) is generated from the same types, so the two cannot drift.
//! Bodies that carry the handle's configuration `version` are the ones answered with
//! `X-Snapshot-Version`.

use serde::Serialize;

use super::campaigns::CampaignView;
use super::conversions::Conversion;
use super::domains::DomainView;
use super::history::ChangeView;
use super::rules::RuleView;
use crate::analysis::audit::Audit;
use crate::analysis::health::Health;
use crate::analysis::matrix::Matrix;
use crate::analysis::results::CampaignResults;
use crate::model::config::{EntryDoc, HandleConfig, TemplateDoc};
use crate::model::diag::Diagnostic;
use crate::model::lifecycle::CampaignStatus;

/// Schemas derive natively only (the worker does not carry schemars).
macro_rules! reply {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
        #[derive(Debug, Clone, Serialize)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
        }
    };
}

reply!(
    /// `GET .../destination-domains`.
    DomainList {
        /// The handle.
        handle: String,
        /// The configuration version.
        version: u64,
        /// Risk scores under this count as approved without a decision.
        risk_threshold: u8,
        /// Every destination domain with its routability.
        domains: Vec<DomainView>,
    }
);

reply!(
    /// A domain after a write.
    DomainWriteResult {
        /// The new configuration version.
        version: u64,
        /// The domain.
        domain: DomainView,
    }
);

reply!(
    /// The TXT lookup of a verification.
    VerifyCheck {
        /// The record name looked up.
        record: String,
        /// The TXT values found.
        found: Vec<String>,
        /// Whether one of them is the domain's token.
        matched: bool,
    }
);

reply!(
    /// `POST .../destination-domains/{domain}/verify`.
    VerifyResult {
        /// The new configuration version.
        version: u64,
        /// The domain after the check.
        domain: DomainView,
        /// What the lookup found.
        check: VerifyCheck,
    }
);

reply!(
    /// `GET .../personalization-rules`.
    RuleList {
        /// The handle.
        handle: String,
        /// The configuration version.
        version: u64,
        /// The entries rules apply to.
        entries: Vec<EntryDoc>,
        /// Every rule in evaluation order.
        rules: Vec<RuleView>,
    }
);

reply!(
    /// `PUT .../personalization-rules/{ruleId}`.
    RuleWriteResult {
        /// The new configuration version.
        version: u64,
        /// Whether the rule was created (201) rather than replaced (200).
        created: bool,
        /// The rule as stored.
        rule: Option<RuleView>,
    }
);

reply!(
    /// `DELETE .../personalization-rules/{ruleId}`.
    RuleDeleteResult {
        /// The new configuration version.
        version: u64,
        /// The deleted rule's id.
        deleted: String,
    }
);

reply!(
    /// `GET .../tracking-templates`.
    TemplateList {
        /// The handle.
        handle: String,
        /// The configuration version.
        version: u64,
        /// The template used when nothing more specific names one.
        default_template: Option<String>,
        /// Every template.
        templates: Vec<TemplateDoc>,
    }
);

reply!(
    /// `POST .../tracking-templates`.
    TemplateWriteResult {
        /// The new configuration version.
        version: u64,
        /// Whether the template was created (201) rather than replaced (200).
        created: bool,
        /// The template as stored.
        template: Option<TemplateDoc>,
    }
);

reply!(
    /// `GET .../route-preview`.
    RoutePreview {
        /// The configuration version.
        version: u64,
        /// The matrix.
        #[serde(flatten)]
        matrix: Matrix,
    }
);

reply!(
    /// `GET .../rule-audit`.
    RuleAudit {
        /// The configuration version.
        version: u64,
        /// The audit.
        #[serde(flatten)]
        audit: Audit,
    }
);

reply!(
    /// `POST .../preview-tokens`.
    PreviewToken {
        /// The token: `?__preview=<token>`.
        token: String,
        /// The handle it previews.
        handle: String,
        /// When it expires (Unix seconds).
        expires_at: i64,
        /// How to use it.
        usage: String,
    }
);

reply!(
    /// `GET .../configuration`.
    Configuration {
        /// The configuration version.
        version: u64,
        /// The whole configuration.
        configuration: HandleConfig,
        /// Its warnings.
        warnings: Vec<Diagnostic>,
    }
);

reply!(
    /// `PUT .../configuration`.
    ConfigurationWriteResult {
        /// The new configuration version.
        version: u64,
        /// Warnings of the new configuration.
        warnings: Vec<Diagnostic>,
    }
);

reply!(
    /// `GET .../campaigns`.
    CampaignList {
        /// The handle.
        handle: String,
        /// The configuration version.
        version: u64,
        /// Every campaign in declaration order.
        campaigns: Vec<CampaignView>,
    }
);

reply!(
    /// One campaign (with `stats` on `GET`).
    CampaignResult {
        /// The configuration version.
        version: u64,
        /// The campaign.
        campaign: CampaignView,
    }
);

reply!(
    /// `POST .../campaigns/{campaignId}/<transition>`.
    TransitionResult {
        /// The new configuration version.
        version: u64,
        /// The effective status before.
        from: CampaignStatus,
        /// The status now.
        status: CampaignStatus,
        /// The campaign.
        campaign: CampaignView,
    }
);

reply!(
    /// `GET .../campaigns/{campaignId}/health`.
    CampaignHealth {
        /// The configuration version.
        version: u64,
        /// The checks.
        #[serde(flatten)]
        health: Health,
    }
);

reply!(
    /// `GET .../campaigns/{campaignId}/results`.
    CampaignResultsReply {
        /// The configuration version (the campaign's variants and weights as of it).
        version: u64,
        /// The results.
        #[serde(flatten)]
        results: CampaignResults,
    }
);

reply!(
    /// `POST .../campaigns/{campaignId}/test-conversion`.
    TestConversionResult {
        /// Always true.
        recorded: bool,
        /// The flagged conversion.
        conversion: Conversion,
        /// The ctx token it is tied to.
        ctx: String,
    }
);

reply!(
    /// What a conversion was recorded for.
    ConversionTarget {
        /// The campaign.
        campaign: String,
        /// The variant.
        variant: String,
        /// The event.
        event: String,
    }
);

reply!(
    /// `POST /v2/public/conversions`.
    ConversionResult {
        /// Whether it was recorded now (201).
        recorded: bool,
        /// Whether it had been recorded before under this key (200).
        duplicate: bool,
        /// What it counts for.
        conversion: ConversionTarget,
    }
);

reply!(
    /// `POST /v2/support/report`.
    SupportReportResult {
        /// The report's id, to quote.
        report_id: String,
        /// When it was stored.
        received_at: String,
    }
);

reply!(
    /// `GET .../whoami`: the credential the request came with.
    WhoAmI {
        /// The handle the credential is for.
        handle: String,
        /// Who: the token subject.
        sub: String,
        /// The scopes it holds, as named in the route table (`admin` implies every scope).
        scopes: Vec<String>,
        /// The configuration version.
        version: u64,
    }
);

reply!(
    /// `GET .../changes`: the change history, newest first.
    ChangeList {
        /// The handle.
        handle: String,
        /// The current configuration version.
        version: u64,
        /// Entries of this page, newest first.
        changes: Vec<ChangeView>,
        /// Pass as `before` for the next (older) page; absent on the last page.
        #[serde(skip_serializing_if = "Option::is_none")]
        next_before: Option<u64>,
    }
);

reply!(
    /// `GET .../changes/{version}`: one entry with its whole diff.
    ChangeDetail {
        /// The handle.
        handle: String,
        /// The current configuration version (restoring it is 409 `already_current`).
        current_version: u64,
        /// The entry, with `diff`.
        change: ChangeView,
        /// The whole configuration of that version (`?configuration=true`, admin).
        #[serde(skip_serializing_if = "Option::is_none")]
        configuration: Option<HandleConfig>,
    }
);

reply!(
    /// `POST .../changes/{version}/restore`.
    RestoreResult {
        /// The new configuration version.
        version: u64,
        /// The version whose configuration it holds (trust state aside).
        restored_from: u64,
        /// What the trust rules kept (`ignored_trust_field`) and the new configuration's
        /// warnings.
        warnings: Vec<Diagnostic>,
    }
);

reply!(
    /// `POST .../campaigns/{campaignId}/promote`.
    PromoteResult {
        /// The new configuration version.
        version: u64,
        /// The campaign's effective status before.
        from: CampaignStatus,
        /// Its status now: `completed`.
        status: CampaignStatus,
        /// The promoted variant.
        variant: String,
        /// Its destination, now the rules' own.
        destination: String,
        /// The rules rerouted to it.
        rules: Vec<String>,
        /// The campaign.
        campaign: CampaignView,
    }
);
