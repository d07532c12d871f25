//! Which error codes each operation can answer, by status: what follows from the route
//! table (credential kind, body, write, configuration write) plus what the route's
//! handler adds. Every code is an [`ErrorCode`]; the document lists them in the
//! operation's error responses.

use std::collections::BTreeMap;

use crate::api::error::ErrorCode as E;
use crate::api::routes::{Route, RouteId};

/// Routes whose handler changes the configuration document (compile, compare-and-swap,
/// publish).
fn writes_configuration(id: RouteId) -> bool {
    matches!(
        id,
        RouteId::AddDomain
            | RouteId::VerifyDomain
            | RouteId::DecideDomain
            | RouteId::PutRule
            | RouteId::DeleteRule
            | RouteId::PostTemplate
            | RouteId::PutConfiguration
            | RouteId::CreateCampaign
            | RouteId::TransitionCampaign(_)
            | RouteId::PromoteCampaign
            | RouteId::RestoreChange
    )
}

/// Routes whose handler compiles the stored configuration to answer.
fn compiles_configuration(id: RouteId) -> bool {
    matches!(
        id,
        RouteId::ListDomains
            | RouteId::ListRules
            | RouteId::RoutePreview
            | RouteId::RuleAudit
            | RouteId::GetConfiguration
            | RouteId::CampaignHealth
    )
}

/// What a route's handler adds to what its kind implies.
fn specific(id: RouteId) -> &'static [(u16, E)] {
    match id {
        RouteId::OpenApi | RouteId::ListRules | RouteId::ListTemplates => &[],
        RouteId::ListDomains | RouteId::GetConfiguration | RouteId::RuleAudit => &[],
        RouteId::PutConfiguration | RouteId::ListCampaigns => &[],
        RouteId::AddDomain => &[(409, E::DomainExists)],
        RouteId::VerifyDomain => &[(404, E::DomainNotFound), (503, E::ResolverUnavailable)],
        RouteId::DecideDomain => &[(404, E::DomainNotFound)],
        RouteId::PutRule => &[(400, E::InvalidParameter)],
        RouteId::DeleteRule => &[(404, E::RuleNotFound)],
        RouteId::PostTemplate => &[],
        RouteId::RoutePreview => &[(400, E::InvalidParameter), (404, E::EntryNotFound)],
        RouteId::MintPreviewToken => &[(503, E::PreviewsDisabled)],
        RouteId::CreateCampaign => &[(409, E::CampaignExists)],
        RouteId::GetCampaign | RouteId::CampaignHealth => &[(404, E::CampaignNotFound)],
        RouteId::CampaignResults => &[(400, E::InvalidParameter), (404, E::CampaignNotFound)],
        RouteId::TransitionCampaign(_) => {
            &[(404, E::CampaignNotFound), (409, E::InvalidTransition)]
        }
        RouteId::TestConversion => &[
            (400, E::InvalidCtx),
            (404, E::CampaignNotFound),
            (404, E::VariantNotFound),
            (503, E::TokensDisabled),
        ],
        RouteId::MintSiteToken => &[(404, E::CampaignNotFound), (503, E::TokensDisabled)],
        RouteId::GetPage => &[(404, E::CampaignNotFound), (404, E::PageNotFound)],
        RouteId::PutPage | RouteId::PublicPutPage => &[
            (404, E::CampaignNotFound),
            (409, E::WriteConflict),
            (422, E::ValidationFailed),
        ],
        RouteId::PublishPage | RouteId::PublicPublishPage => &[
            (404, E::CampaignNotFound),
            (409, E::NothingToPublish),
            (409, E::WriteConflict),
            (422, E::ValidationFailed),
        ],
        RouteId::PublicGetPage => &[
            (401, E::EntitlementRequired),
            (401, E::InvalidToken),
            (401, E::TokenExpired),
            (403, E::WrongHandle),
            (403, E::InsufficientEntitlement),
            (404, E::PageNotFound),
        ],
        RouteId::MintEntitlement => &[(503, E::TokensDisabled)],
        RouteId::PublicPageSchema => &[(404, E::HandleNotFound), (404, E::CampaignNotFound)],
        RouteId::Conversion => &[
            (400, E::InvalidCtx),
            (400, E::InvalidParameter),
            (409, E::IdempotencyKeyReuse),
            (503, E::TokensDisabled),
        ],
        RouteId::SupportReport | RouteId::WhoAmI => &[],
        RouteId::PromoteCampaign => &[
            (404, E::CampaignNotFound),
            (404, E::VariantNotFound),
            (409, E::InvalidTransition),
        ],
        RouteId::ListChanges => &[(400, E::InvalidParameter)],
        RouteId::GetChange => &[
            (400, E::InvalidParameter),
            (403, E::InsufficientScope),
            (404, E::VersionNotFound),
        ],
        RouteId::RestoreChange => &[
            (400, E::InvalidParameter),
            (404, E::VersionNotFound),
            (409, E::AlreadyCurrent),
        ],
    }
}

/// Every error code a route can answer, by status.
pub(super) fn codes(route: &Route) -> BTreeMap<u16, Vec<E>> {
    let mut out: BTreeMap<u16, Vec<E>> = BTreeMap::new();
    let mut add = |status: u16, code: E| {
        let codes = out.entry(status).or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    };
    if route.id == RouteId::OpenApi {
        return out;
    }
    if !route.is_public() {
        add(401, E::MissingToken);
        add(401, E::InvalidToken);
        add(401, E::TokenExpired);
        add(403, E::WrongHandle);
        if route.site_token {
            add(403, E::WrongCampaign);
        } else if route.scope.is_some() {
            add(403, E::InsufficientScope);
        }
        add(404, E::HandleNotFound);
        add(429, E::RateLimited);
    } else {
        add(429, E::RateLimited);
    }
    if matches!(route.method, "POST" | "PUT") {
        add(400, E::InvalidJson);
        add(400, E::InvalidBody);
        add(413, E::BodyTooLarge);
    }
    if route.write {
        add(400, E::InvalidParameter);
        add(409, E::IdempotencyKeyReuse);
        add(409, E::IdempotencyInProgress);
        if !route.is_public() {
            add(429, E::DailyWriteLimit);
        }
    }
    if writes_configuration(route.id) {
        add(409, E::WriteConflict);
        add(422, E::ValidationFailed);
        add(503, E::PublishFailed);
    }
    if compiles_configuration(route.id) {
        add(422, E::ValidationFailed);
    }
    for (status, code) in specific(route.id) {
        add(*status, *code);
    }
    add(500, E::Internal);
    add(503, E::StorageUnavailable);
    out
}

/// What a status means, in a few words (the codes follow).
pub(super) fn meaning(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed",
        401 => "No valid credential",
        403 => "The credential does not allow this",
        404 => "Not found",
        409 => "Conflicts with the current state",
        413 => "The body is over `API_MAX_BODY_BYTES`",
        422 => "The change does not validate; `details` lists every problem with its code and JSON path",
        429 => "Too many requests; retry after `Retry-After` seconds",
        500 => "An internal error; nothing was changed. Quote the request id",
        503 => "A dependency is unavailable; nothing was changed. Retry after `Retry-After` seconds",
        _ => "An error",
    }
}
