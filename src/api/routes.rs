//! The management API's route table: method, path pattern, the scope each route needs,
//! whether it writes. The edge dispatches with [`match_route`]; a test keeps
//! `openapi.json` equal to this table.

use super::auth::Scope;
use super::error::ApiError;
use crate::model::lifecycle::Transition;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    /// `GET /v2/openapi.json`.
    OpenApi,
    /// List destination domains with their trust and routability.
    ListDomains,
    /// Add a destination domain.
    AddDomain,
    /// Check a domain's TXT record over DNS-over-HTTPS.
    VerifyDomain,
    /// Record a manual approve/reject decision.
    DecideDomain,
    /// List personalization rules.
    ListRules,
    /// Create or replace a rule.
    PutRule,
    /// Delete a rule.
    DeleteRule,
    /// List tracking templates.
    ListTemplates,
    /// Create or replace a tracking template.
    PostTemplate,
    /// Evaluate an entry over countries x devices.
    RoutePreview,
    /// Collisions, shadowed rules, unroutable destinations, empty sets.
    RuleAudit,
    /// Mint a preview token.
    MintPreviewToken,
    /// The whole configuration document.
    GetConfiguration,
    /// Replace the whole configuration (`router push`).
    PutConfiguration,
    /// List campaigns.
    ListCampaigns,
    /// Create a campaign.
    CreateCampaign,
    /// One campaign with its stats.
    GetCampaign,
    /// Activate, pause, resume or cancel a campaign.
    TransitionCampaign(Transition),
    /// Complete a campaign and route its rules to one variant.
    PromoteCampaign,
    /// Health checks of a campaign.
    CampaignHealth,
    /// Which variant wins: exposures, conversions and their statistics.
    CampaignResults,
    /// Record a flagged test conversion.
    TestConversion,
    /// Mint a campaign-scoped site token.
    MintSiteToken,
    /// A campaign page: draft and published revisions.
    GetPage,
    /// Write a campaign page draft.
    PutPage,
    /// Publish a campaign page draft.
    PublishPage,
    /// Public read of a published campaign page.
    PublicGetPage,
    /// Mint an entitlement for a storefront member (gated pages).
    MintEntitlement,
    /// Public JSON Schema of page documents.
    PublicPageSchema,
    /// Public draft write with a site token.
    PublicPutPage,
    /// Public publish with a site token.
    PublicPublishPage,
    /// Record a conversion tied to a ctx token.
    Conversion,
    /// End-user escalation.
    SupportReport,
    /// Who the credential is: subject, handle and scopes (the console's access check).
    WhoAmI,
    /// The change history of the configuration, newest first.
    ListChanges,
    /// One entry of the change history with its diff.
    GetChange,
    /// Write an earlier version's configuration as a new version.
    RestoreChange,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern with `{name}` segments.
    pub pattern: &'static str,
    /// What it does.
    pub id: RouteId,
    /// The scope a management credential (PAT or JWT) needs; `None` for the others.
    pub scope: Option<Scope>,
    /// Whether any management credential for the handle may call it, whatever its
    /// scopes (`scope` is then `None`).
    pub any_scope: bool,
    /// Whether the route takes a campaign-scoped site token instead.
    pub site_token: bool,
    /// Whether it changes state (idempotency keys, write throttles, daily limit).
    pub write: bool,
}

impl Route {
    /// Whether anyone may call it without a credential.
    pub fn is_public(&self) -> bool {
        self.scope.is_none() && !self.any_scope && !self.site_token
    }

    /// Whether it takes a management credential (PAT or JWT).
    pub fn is_management(&self) -> bool {
        self.scope.is_some() || self.any_scope
    }
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    id: RouteId,
    scope: Option<Scope>,
    write: bool,
) -> Route {
    Route {
        method,
        pattern,
        id,
        scope,
        any_scope: false,
        site_token: false,
        write,
    }
}

/// A read any management credential for the handle may make, whatever its scopes.
const fn identified(method: &'static str, pattern: &'static str, id: RouteId) -> Route {
    Route {
        method,
        pattern,
        id,
        scope: None,
        any_scope: true,
        site_token: false,
        write: false,
    }
}

const fn site(method: &'static str, pattern: &'static str, id: RouteId) -> Route {
    Route {
        method,
        pattern,
        id,
        scope: None,
        any_scope: false,
        site_token: true,
        write: true,
    }
}

use RouteId as R;
use Scope as S;

/// Every route the worker serves under `/v2`.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("GET", "/v2/openapi.json", R::OpenApi, None, false),
    route("GET", "/v2/handles/{handle}/destination-domains", R::ListDomains, Some(S::DomainsRead), false),
    route("POST", "/v2/handles/{handle}/destination-domains", R::AddDomain, Some(S::DomainsWrite), true),
    route("POST", "/v2/handles/{handle}/destination-domains/{domain}/verify", R::VerifyDomain, Some(S::DomainsWrite), true),
    route("POST", "/v2/handles/{handle}/destination-domains/{domain}/decision", R::DecideDomain, Some(S::DomainsAdmin), true),
    route("GET", "/v2/handles/{handle}/personalization-rules", R::ListRules, Some(S::RulesRead), false),
    route("PUT", "/v2/handles/{handle}/personalization-rules/{ruleId}", R::PutRule, Some(S::RulesWrite), true),
    route("DELETE", "/v2/handles/{handle}/personalization-rules/{ruleId}", R::DeleteRule, Some(S::RulesWrite), true),
    route("GET", "/v2/handles/{handle}/tracking-templates", R::ListTemplates, Some(S::TemplatesRead), false),
    route("POST", "/v2/handles/{handle}/tracking-templates", R::PostTemplate, Some(S::TemplatesWrite), true),
    route("GET", "/v2/handles/{handle}/route-preview", R::RoutePreview, Some(S::Preview), false),
    route("GET", "/v2/handles/{handle}/rule-audit", R::RuleAudit, Some(S::RulesRead), false),
    route("POST", "/v2/handles/{handle}/preview-tokens", R::MintPreviewToken, Some(S::Preview), false),
    route("GET", "/v2/handles/{handle}/configuration", R::GetConfiguration, Some(S::Admin), false),
    route("PUT", "/v2/handles/{handle}/configuration", R::PutConfiguration, Some(S::Admin), true),
    route("GET", "/v2/handles/{handle}/campaigns", R::ListCampaigns, Some(S::CampaignsRead), false),
    route("POST", "/v2/handles/{handle}/campaigns", R::CreateCampaign, Some(S::CampaignsWrite), true),
    route("GET", "/v2/handles/{handle}/campaigns/{campaignId}", R::GetCampaign, Some(S::CampaignsRead), false),
    route("POST", "/v2/handles/{handle}/campaigns/{campaignId}/activate", R::TransitionCampaign(Transition::Activate), Some(S::CampaignsWrite), true),
    route("POST", "/v2/handles/{handle}/campaigns/{campaignId}/pause", R::TransitionCampaign(Transition::Pause), Some(S::CampaignsWrite), true),
    route("POST", "/v2/handles/{handle}/campaigns/{campaignId}/resume", R::TransitionCampaign(Transition::Resume), Some(S::CampaignsWrite), true),
    route("POST", "/v2/handles/{handle}/campaigns/{campaignId}/cancel", R::TransitionCampaign(Transition::Cancel), Some(S::CampaignsWrite), true),
    route("POST", "/v2/handles/{handle}/campaigns/{campaignId}/promote", R::PromoteCampaign, Some(S::Admin), true),
    route("GET", "/v2/handles/{handle}/campaigns/{campaignId}/health", R::CampaignHealth, Some(S::CampaignsRead), false),
    route("GET", "/v2/handles/{handle}/campaigns/{campaignId}/results", R::CampaignResults, Some(S::CampaignsRead), false),
    route("POST", "/v2/handles/{handle}/campaigns/{campaignId}/test-conversion", R::TestConversion, Some(S::CampaignsWrite), true),
    route("POST", "/v2/handles/{handle}/campaigns/{campaignId}/site-tokens", R::MintSiteToken, Some(S::PagesWrite), false),
    route("GET", "/v2/handles/{handle}/site-structure/campaigns/{campaignId}", R::GetPage, Some(S::CampaignsRead), false),
    route("PUT", "/v2/handles/{handle}/site-structure/campaigns/{campaignId}", R::PutPage, Some(S::PagesWrite), true),
    route("POST", "/v2/handles/{handle}/site-structure/campaigns/{campaignId}/publish", R::PublishPage, Some(S::PagesWrite), true),
    route("POST", "/v2/handles/{handle}/entitlements", R::MintEntitlement, Some(S::Entitlements), false),
    identified("GET", "/v2/handles/{handle}/whoami", R::WhoAmI),
    route("GET", "/v2/handles/{handle}/changes", R::ListChanges, Some(S::HistoryRead), false),
    route("GET", "/v2/handles/{handle}/changes/{version}", R::GetChange, Some(S::HistoryRead), false),
    route("POST", "/v2/handles/{handle}/changes/{version}/restore", R::RestoreChange, Some(S::Admin), true),
    route("GET", "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}", R::PublicGetPage, None, false),
    route("GET", "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}/schema", R::PublicPageSchema, None, false),
    site("PUT", "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}", R::PublicPutPage),
    site("POST", "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}/publish", R::PublicPublishPage),
    route("POST", "/v2/public/conversions", R::Conversion, None, true),
    route("POST", "/v2/support/report", R::SupportReport, None, true),
];

/// Path parameters of a matched route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// `{handle}`.
    pub handle: Option<String>,
    /// `{domain}` (percent-decoded).
    pub domain: Option<String>,
    /// `{ruleId}`.
    pub rule_id: Option<String>,
    /// `{campaignId}`.
    pub campaign_id: Option<String>,
    /// `{version}` (a version of the change history, as written).
    pub version: Option<String>,
}

impl Params {
    /// The handle of a handle-scoped route.
    pub fn handle(&self) -> &str {
        self.handle.as_deref().unwrap_or_default()
    }
}

/// Percent-decodes a path segment (a `+` stays a `+`: this is a path, not a form).
fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn match_pattern(pattern: &str, path: &str) -> Option<Params> {
    let mut params = Params::default();
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) if p.starts_with('{') => {
                if s.is_empty() {
                    return None;
                }
                let value = decode(s);
                match p {
                    "{handle}" => params.handle = Some(value),
                    "{domain}" => params.domain = Some(value),
                    "{ruleId}" => params.rule_id = Some(value),
                    "{campaignId}" => params.campaign_id = Some(value),
                    "{version}" => params.version = Some(value),
                    _ => {}
                }
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

/// Finds the route for a method and path (`HEAD` is answered as `GET`).
///
/// # Errors
/// [`ApiError::RouteNotFound`], or [`ApiError::MethodNotAllowed`] with the allowed methods.
pub fn match_route(method: &str, path: &str) -> Result<(&'static Route, Params), ApiError> {
    let method = if method == "HEAD" { "GET" } else { method };
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut allowed = Vec::new();
    for route in ROUTES {
        if let Some(params) = match_pattern(route.pattern, path) {
            if route.method == method {
                return Ok((route, params));
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        Err(ApiError::RouteNotFound)
    } else {
        Err(ApiError::MethodNotAllowed(allowed))
    }
}

/// Handle-scoped routes start with this prefix.
pub const HANDLE_PREFIX: &str = "/v2/handles/{handle}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_with_parameters() {
        let (route, params) = match_route(
            "POST",
            "/v2/handles/gharart/destination-domains/m.gharart.in/verify",
        )
        .unwrap();
        assert_eq!(route.id, RouteId::VerifyDomain);
        assert_eq!(params.handle.as_deref(), Some("gharart"));
        assert_eq!(params.domain.as_deref(), Some("m.gharart.in"));
        let (route, params) = match_route(
            "PUT",
            "/v2/handles/gharart/personalization-rules/in%2Dmobile",
        )
        .unwrap();
        assert_eq!(route.id, RouteId::PutRule);
        assert_eq!(params.rule_id.as_deref(), Some("in-mobile"));
        // Regression (Schemathesis): segments were decoded as form data, `+` as a space.
        let (_, params) = match_route("GET", "/v2/handles/g/campaigns/a+b%20c").unwrap();
        assert_eq!(params.campaign_id.as_deref(), Some("a+b c"));
    }

    #[test]
    fn wrong_method_and_unknown_paths() {
        assert_eq!(
            match_route("PATCH", "/v2/handles/g/personalization-rules/x").unwrap_err(),
            ApiError::MethodNotAllowed(vec!["PUT", "DELETE"])
        );
        assert_eq!(
            match_route("GET", "/v2/handles/g/nope").unwrap_err(),
            ApiError::RouteNotFound
        );
        assert_eq!(
            match_route("GET", "/v2/handles//destination-domains").unwrap_err(),
            ApiError::RouteNotFound
        );
        assert!(
            match_route("GET", "/v2/handles/g/destination-domains/").is_ok(),
            "a trailing slash is tolerated"
        );
    }

    #[test]
    fn every_handle_route_needs_a_scope() {
        for route in ROUTES {
            assert_eq!(
                route.pattern.starts_with(HANDLE_PREFIX),
                route.is_management(),
                "{}",
                route.pattern
            );
            assert_eq!(
                route.any_scope,
                route.id == RouteId::WhoAmI,
                "only whoami takes any scope: {}",
                route.pattern
            );
            assert!(
                !(route.any_scope && route.scope.is_some()),
                "{}",
                route.pattern
            );
            assert!(
                !(route.site_token && route.scope.is_some()),
                "{}",
                route.pattern
            );
        }
        let public: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.is_public())
            .map(|r| r.pattern)
            .collect();
        let expected = |p: &&str| {
            p.starts_with("/v2/public/") || *p == "/v2/openapi.json" || *p == "/v2/support/report"
        };
        assert!(public.iter().all(expected), "{public:?}");
    }

    #[test]
    fn head_is_get_and_campaign_actions_are_routes() {
        assert_eq!(
            match_route("HEAD", "/v2/openapi.json").unwrap().0.id,
            RouteId::OpenApi
        );
        let (route, params) = match_route("POST", "/v2/handles/g/campaigns/c-1/resume").unwrap();
        assert_eq!(route.id, RouteId::TransitionCampaign(Transition::Resume));
        assert_eq!(params.campaign_id.as_deref(), Some("c-1"));
        assert!(
            match_route("PUT", "/v2/public/handles/g/site-structure/campaigns/c-1")
                .unwrap()
                .0
                .site_token
        );
    }
}
