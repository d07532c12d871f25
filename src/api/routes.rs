//! The management API's route table: method, path pattern, the scope each route needs,
//! whether it writes. The edge dispatches with [`match_route`]; a test keeps
//! `openapi.json` equal to this table.

use super::auth::Scope;
use super::error::ApiError;

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
    /// The scope it needs; `None` for public routes.
    pub scope: Option<Scope>,
    /// Whether it changes state (idempotency keys, write throttles, daily limit).
    pub write: bool,
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
        write,
    }
}

/// Every route the worker serves under `/v2`.
pub const ROUTES: &[Route] = &[
    route("GET", "/v2/openapi.json", RouteId::OpenApi, None, false),
    route(
        "GET",
        "/v2/handles/{handle}/destination-domains",
        RouteId::ListDomains,
        Some(Scope::DomainsRead),
        false,
    ),
    route(
        "POST",
        "/v2/handles/{handle}/destination-domains",
        RouteId::AddDomain,
        Some(Scope::DomainsWrite),
        true,
    ),
    route(
        "POST",
        "/v2/handles/{handle}/destination-domains/{domain}/verify",
        RouteId::VerifyDomain,
        Some(Scope::DomainsWrite),
        true,
    ),
    route(
        "POST",
        "/v2/handles/{handle}/destination-domains/{domain}/decision",
        RouteId::DecideDomain,
        Some(Scope::DomainsAdmin),
        true,
    ),
    route(
        "GET",
        "/v2/handles/{handle}/personalization-rules",
        RouteId::ListRules,
        Some(Scope::RulesRead),
        false,
    ),
    route(
        "PUT",
        "/v2/handles/{handle}/personalization-rules/{ruleId}",
        RouteId::PutRule,
        Some(Scope::RulesWrite),
        true,
    ),
    route(
        "DELETE",
        "/v2/handles/{handle}/personalization-rules/{ruleId}",
        RouteId::DeleteRule,
        Some(Scope::RulesWrite),
        true,
    ),
    route(
        "GET",
        "/v2/handles/{handle}/tracking-templates",
        RouteId::ListTemplates,
        Some(Scope::TemplatesRead),
        false,
    ),
    route(
        "POST",
        "/v2/handles/{handle}/tracking-templates",
        RouteId::PostTemplate,
        Some(Scope::TemplatesWrite),
        true,
    ),
    route(
        "GET",
        "/v2/handles/{handle}/route-preview",
        RouteId::RoutePreview,
        Some(Scope::Preview),
        false,
    ),
    route(
        "GET",
        "/v2/handles/{handle}/rule-audit",
        RouteId::RuleAudit,
        Some(Scope::RulesRead),
        false,
    ),
    route(
        "POST",
        "/v2/handles/{handle}/preview-tokens",
        RouteId::MintPreviewToken,
        Some(Scope::Preview),
        false,
    ),
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
}

impl Params {
    /// The handle of a handle-scoped route.
    pub fn handle(&self) -> &str {
        self.handle.as_deref().unwrap_or_default()
    }
}

fn decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_owned())
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
                    _ => {}
                }
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

/// Finds the route for a method and path.
///
/// # Errors
/// [`ApiError::RouteNotFound`], or [`ApiError::MethodNotAllowed`] with the allowed methods.
pub fn match_route(method: &str, path: &str) -> Result<(&'static Route, Params), ApiError> {
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
                route.scope.is_some(),
                "{}",
                route.pattern
            );
        }
    }
}
