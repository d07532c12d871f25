//! The handler of every route, and the one exhaustive dispatch: a route added to
//! [`RouteId`] without a handler here does not compile. Handlers sequence store calls
//! around the operations of `super::{domains, rules, campaigns, pages, conversions,
//! support}` and the analyses; they decide nothing those do not.

mod campaigns;
mod configuration;
mod domains;
mod history;
mod pages;
mod public;
mod rules;

#[cfg(not(target_arch = "wasm32"))]
pub(super) use configuration::PreviewTokenRequest;

use super::context::{Ctx, Reply};
use super::error::ApiError;
use super::routes::{Params, RouteId};
use super::store::{Resolver, Store};

/// Runs the handler of a matched route.
pub(super) async fn dispatch<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    route: RouteId,
    params: &Params,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Reply, ApiError> {
    let handle = params.handle();
    let domain = params.domain.as_deref().unwrap_or_default();
    let rule = params.rule_id.as_deref().unwrap_or_default();
    let campaign = params.campaign_id.as_deref().unwrap_or_default();
    let version = params.version.as_deref().unwrap_or_default();
    match route {
        // Served before authentication (see `service::Api::admit`); never dispatched.
        RouteId::OpenApi => Err(ApiError::RouteNotFound),
        RouteId::ListDomains => domains::list(cx, handle).await,
        RouteId::AddDomain => domains::add(cx, handle, body).await,
        RouteId::VerifyDomain => domains::verify(cx, handle, domain).await,
        RouteId::DecideDomain => domains::decide(cx, handle, domain, body).await,
        RouteId::ListRules => rules::list(cx, handle).await,
        RouteId::PutRule => rules::put(cx, handle, rule, body).await,
        RouteId::DeleteRule => rules::delete(cx, handle, rule).await,
        RouteId::ListTemplates => rules::list_templates(cx, handle).await,
        RouteId::PostTemplate => rules::put_template(cx, handle, body).await,
        RouteId::RoutePreview => configuration::route_preview(cx, handle, query).await,
        RouteId::RuleAudit => configuration::audit(cx, handle).await,
        RouteId::MintPreviewToken => configuration::preview_token(cx, handle, body),
        RouteId::GetConfiguration => configuration::get(cx, handle).await,
        RouteId::PutConfiguration => configuration::put(cx, handle, body).await,
        RouteId::ListCampaigns => campaigns::list(cx, handle).await,
        RouteId::CreateCampaign => campaigns::create(cx, handle, body).await,
        RouteId::GetCampaign => campaigns::get(cx, handle, campaign).await,
        RouteId::TransitionCampaign(t) => campaigns::transition(cx, handle, campaign, t).await,
        RouteId::PromoteCampaign => campaigns::promote(cx, handle, campaign, body).await,
        RouteId::CampaignHealth => campaigns::health(cx, handle, campaign).await,
        RouteId::CampaignResults => campaigns::results(cx, handle, campaign, query).await,
        RouteId::TestConversion => campaigns::test_conversion(cx, handle, campaign, body).await,
        RouteId::MintSiteToken => pages::site_token(cx, handle, campaign, body).await,
        RouteId::GetPage => pages::get(cx, handle, campaign).await,
        RouteId::PutPage | RouteId::PublicPutPage => pages::put(cx, handle, campaign, body).await,
        RouteId::PublishPage | RouteId::PublicPublishPage => {
            pages::publish(cx, handle, campaign).await
        }
        RouteId::PublicGetPage => pages::public_get(cx, handle, campaign).await,
        RouteId::MintEntitlement => pages::entitlement(cx, handle, body).await,
        RouteId::PublicPageSchema => pages::schema(cx, handle, campaign).await,
        RouteId::Conversion => public::conversion(cx, body).await,
        RouteId::SupportReport => public::support_report(cx, body).await,
        RouteId::WhoAmI => configuration::whoami(cx, handle).await,
        RouteId::ListChanges => history::list(cx, handle, query).await,
        RouteId::GetChange => history::get(cx, handle, version, query).await,
        RouteId::RestoreChange => history::restore(cx, handle, version).await,
    }
}
