//! Campaign pages: site tokens, draft and publish (management and site-token routes),
//! the public read.

use crate::api::body;
use crate::api::campaigns::find_campaign;
use crate::api::context::{Ctx, Reply};
use crate::api::documents::{current, load};
use crate::api::error::{ApiError, Missing};
use crate::api::pages::{
    check_document, check_entitlement, check_routable, mint_entitlement, mint_site_token,
    page_schema, page_view, public_view, publish as publish_draft, put_draft, EntitlementRequest,
    PageInput, SiteTokenRequest,
};
use crate::api::store::{Resolver, Store, StoreError};
use crate::model::page::PageState;

/// Save attempts of a page change before answering 409 `write_conflict`.
const ATTEMPTS: usize = 4;

pub(super) async fn site_token<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    find_campaign(&current.config, id)?;
    let request: SiteTokenRequest = body::parse_optional(body, cx.settings.max_body_bytes)?;
    let token = mint_site_token(cx.token_secret()?, handle, id, &request, cx.now)?;
    Reply::of(201, &token)
}

pub(super) async fn get<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    find_campaign(&current.config, id)?;
    let (state, _) = cx
        .store
        .page(handle, id)
        .await?
        .ok_or_else(|| ApiError::not_found(Missing::Page, id))?;
    Reply::of(200, &page_view(id, &state))
}

pub(super) async fn put<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let input: PageInput = body::parse(body, cx.settings.max_body_bytes)?;
    let (_, compiled) = current(cx.store, handle).await?;
    // A page links only to the handle's routable destinations (checked after its form).
    let allowlist = compiled.ruleset.allowlist();
    let by = cx.principal.sub.clone();
    let now = cx.now_text();
    check_document(&input.document, allowlist, id)?;
    let state = change(cx, handle, id, |state| {
        put_draft(state, id, input.clone(), &by, &now).map(|_| ())
    })
    .await?;
    Reply::of(200, &page_view(id, &state))
}

pub(super) async fn publish<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let by = cx.principal.sub.clone();
    let now = cx.now_text();
    let (_, compiled) = current(cx.store, handle).await?;
    let allowlist = compiled.ruleset.allowlist();
    let state = change(cx, handle, id, |state| {
        // A destination that stopped being routable since the draft was written keeps
        // the draft from going public.
        if let Some(draft) = &state.draft {
            check_routable(&draft.document, allowlist, id)?;
        }
        publish_draft(state, &by, &now).map(|_| ())
    })
    .await?;
    Reply::of(200, &page_view(id, &state))
}

/// The page document schema, for a campaign the handle has.
pub(super) async fn schema<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    find_campaign(&current.config, id)?;
    Ok(Reply::ok(page_schema()))
}

pub(super) async fn public_get<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let not_found = || ApiError::not_found(Missing::Page, id);
    // A campaign the handle no longer has has no public page either.
    let current = load(cx.store, handle).await?;
    find_campaign(&current.config, id).map_err(|_| not_found())?;
    let (state, _) = cx.store.page(handle, id).await?.ok_or_else(not_found)?;
    let schema_url = format!("/v2/public/handles/{handle}/site-structure/campaigns/{id}/schema");
    let page = public_view(id, &state, &schema_url).ok_or_else(not_found)?;
    check_entitlement(
        cx.settings.token_secret.as_deref(),
        cx.authorization,
        handle,
        page.access_level,
        cx.now,
    )?;
    Reply::of(200, &page)
}

/// `POST .../entitlements`: what the storefront's server mints for a signed-in member.
pub(super) async fn entitlement<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    load(cx.store, handle).await?;
    let request: EntitlementRequest = body::parse(body, cx.settings.max_body_bytes)?;
    let entitlement = mint_entitlement(cx.token_secret()?, handle, &request, cx.now)?;
    Reply::of(201, &entitlement)
}

/// Applies `change` to a campaign page with compare-and-swap on its save counter,
/// retrying a lost race from a fresh read. The campaign must exist.
async fn change<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
    change: impl Fn(&mut PageState) -> Result<(), ApiError>,
) -> Result<PageState, ApiError> {
    let current = load(cx.store, handle).await?;
    find_campaign(&current.config, id)?;
    for _ in 0..ATTEMPTS {
        let (mut state, expected) = match cx.store.page(handle, id).await? {
            Some((state, revision)) => (state, Some(revision)),
            None => (PageState::default(), None),
        };
        change(&mut state)?;
        if cx
            .store
            .save_page(handle, id, &state, expected, &cx.now_text())
            .await?
        {
            return Ok(state);
        }
    }
    Err(StoreError::Conflict.into())
}
