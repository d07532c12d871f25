//! Site-structure campaign pages: one page per campaign, with a draft (`PUT`) and a
//! published revision (`publish`), each carrying an access level; the public routes read
//! the published revision only, never the draft. The edge stores a [`PageState`] as JSON
//! per `(handle, campaign)`.
//!
//! Decisions:
//! - **Revisions** count every `PUT` (1, 2, ...); publishing copies the draft, revision
//!   number included, so `draft.revision > published.revision` means unpublished
//!   changes. Publishing an already published draft changes nothing (idempotent, `false`);
//!   without a draft it is 409 `nothing_to_publish`.
//! - **Access levels**: the public read serves a `PUBLIC` page to anyone, a
//!   `FREE_WITH_LOGIN` or `PAID` page only to a reader with an entitlement of this handle
//!   that reaches it ([`check_entitlement`]; minted by the storefront's server with
//!   `POST /v2/handles/{handle}/entitlements`), and a `PRIVATE` page never (404
//!   `page_not_found`, as if unpublished).
//! - **Links**: every URL in a document must be routable on the handle's allowlist when
//!   the draft is written ([`check_document`]) and again when it is published
//!   ([`check_routable`]).
//! - **Site tokens** let a public client (the storefront's page editor) edit and publish
//!   one campaign's page through `PUT` and `POST .../publish` under
//!   `/v2/public/handles/{handle}/site-structure/campaigns/{id}`. They are minted by
//!   `POST /v2/handles/{handle}/campaigns/{id}/site-tokens` (scope `pages:write`, body
//!   `{"ttl_seconds": n}` optional; default 1 h, at most 24 h) as
//!   [`TokenKind::Site`] tokens with [`SiteClaims`] `{handle, campaign}`, signed with the
//!   site key derived from `TOKEN_SECRET`, and presented as `Authorization: Bearer
//!   <token>`. They cannot be revoked; keep them short-lived.
//!
//! The page document's shape is in [`document`] and served as [`page_schema`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ErrorCode};
use crate::engine::allowlist::{Allowlist, NotRoutable};
use crate::model::diag::Diagnostics;
use crate::visit::tokens::{self, EntitlementClaims, SiteClaims, TokenError, TokenKind};

#[cfg(test)]
mod tests;

use crate::model::page::document;
pub use crate::model::page::document::page_schema;
pub use crate::model::page::{AccessLevel, PageRevision, PageState};

/// Body of `PUT .../site-structure/campaigns/{id}` (management and public).
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageInput {
    /// Who may see the page.
    pub access_level: AccessLevel,
    /// The page document (see [`page_schema`]).
    pub document: Value,
}

/// Validates a page body and stores it as the new draft; returns it.
///
/// # Errors
/// [`ApiError::Validation`] with every problem, paths like `$.document.blocks[2].type`.
pub fn put_draft<'s>(
    state: &'s mut PageState,
    campaign: &str,
    input: PageInput,
    by: &str,
    now: &str,
) -> Result<&'s PageRevision, ApiError> {
    let mut diags = Diagnostics::default();
    diags.set_id(Some(campaign));
    document::check(&input.document, "$.document", &mut diags);
    if diags.has_errors() {
        return Err(ApiError::Validation(document::cap(diags.into_vec())));
    }
    let revision = state.revision() + 1;
    Ok(state.draft.insert(PageRevision {
        revision,
        access_level: input.access_level,
        document: input.document,
        updated_at: now.to_owned(),
        updated_by: by.to_owned(),
        published_at: None,
        published_by: None,
    }))
}

/// Publishes the draft; returns whether anything changed (publishing the revision that
/// is already published does nothing).
///
/// # Errors
/// [`ApiError::Conflict`] `nothing_to_publish` without a draft.
pub fn publish(state: &mut PageState, by: &str, now: &str) -> Result<bool, ApiError> {
    let Some(draft) = &state.draft else {
        return Err(ApiError::Conflict {
            code: ErrorCode::NothingToPublish,
            message: "this campaign page has no draft; PUT one first".into(),
        });
    };
    if state
        .published
        .as_ref()
        .is_some_and(|p| p.revision == draft.revision)
    {
        return Ok(false);
    }
    state.published = Some(PageRevision {
        published_at: Some(now.to_owned()),
        published_by: Some(by.to_owned()),
        ..draft.clone()
    });
    Ok(true)
}

/// A page as the management API shows it.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct PageView<'s> {
    /// The campaign.
    pub campaign: &'s str,
    /// The draft, if any.
    pub draft: Option<&'s PageRevision>,
    /// The published revision, if any.
    pub published: Option<&'s PageRevision>,
    /// Whether the draft is newer than what is published.
    pub unpublished_changes: bool,
}

/// The management view of a page.
pub fn page_view<'s>(campaign: &'s str, state: &'s PageState) -> PageView<'s> {
    PageView {
        campaign,
        draft: state.draft.as_ref(),
        published: state.published.as_ref(),
        unpublished_changes: state.unpublished_changes(),
    }
}

/// A published page as the public routes show it.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicPage<'s> {
    /// The campaign.
    pub campaign: &'s str,
    /// The published revision's number.
    pub revision: u64,
    /// Who may see it (the storefront enforces it).
    pub access_level: AccessLevel,
    /// The document.
    pub document: &'s Value,
    /// When it was published.
    pub published_at: Option<&'s str>,
    /// Where its schema is served.
    pub schema: String,
}

/// The public view: the published revision only, never the draft, and nothing for a
/// `PRIVATE` page. `schema_url` is where the edge serves [`page_schema`].
pub fn public_view<'s>(
    campaign: &'s str,
    state: &'s PageState,
    schema_url: &str,
) -> Option<PublicPage<'s>> {
    let published = state
        .published
        .as_ref()
        .filter(|p| p.access_level != AccessLevel::Private)?;
    Some(PublicPage {
        campaign,
        revision: published.revision,
        access_level: published.access_level,
        document: &published.document,
        published_at: published.published_at.as_deref(),
        schema: schema_url.to_owned(),
    })
}

/// Body of `POST .../entitlements`: what a storefront member may read.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementRequest {
    /// The highest level the member may read: `FREE_WITH_LOGIN` (signed in) or `PAID`
    /// (which also reaches `FREE_WITH_LOGIN` pages).
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(schema_with = "entitlement_levels")
    )]
    pub access_level: AccessLevel,
    /// Who the member is, as the storefront names them (1 to 128 characters; logged,
    /// never checked).
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(length(min = 1, max = 128), regex(pattern = r"^[!-~]+$"))
    )]
    pub subject: String,
    /// Lifetime in seconds (default 3600, at most 86400).
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(min = 1, max = 86_400)))]
    pub ttl_seconds: Option<i64>,
}

/// The levels an entitlement can carry: the schema says what [`mint_entitlement`]
/// accepts (`PUBLIC` needs no entitlement, `PRIVATE` is never public), so a client the
/// schema guides is not refused with 400.
#[cfg(not(target_arch = "wasm32"))]
fn entitlement_levels(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "enum": ["FREE_WITH_LOGIN", "PAID"],
        "description": "The highest level the member may read: `FREE_WITH_LOGIN` (signed in) or `PAID` (which also reaches `FREE_WITH_LOGIN` pages).",
    })
}

/// A minted entitlement.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entitlement {
    /// `Authorization: Bearer <token>` on the public page read.
    pub token: String,
    /// The handle.
    pub handle: String,
    /// The level it reaches.
    pub access_level: AccessLevel,
    /// The member.
    pub subject: String,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// Mints an entitlement.
///
/// # Errors
/// 400 `invalid_body` for a level that is not `FREE_WITH_LOGIN` or `PAID`, a bad subject
/// or a lifetime out of range.
pub fn mint_entitlement(
    secret: &[u8],
    handle: &str,
    request: &EntitlementRequest,
    now: DateTime<Utc>,
) -> Result<Entitlement, ApiError> {
    if !matches!(
        request.access_level,
        AccessLevel::FreeWithLogin | AccessLevel::Paid
    ) {
        return Err(ApiError::invalid_body(
            "$.access_level",
            "an entitlement reaches FREE_WITH_LOGIN or PAID pages (PUBLIC needs none, PRIVATE is never public)",
        ));
    }
    let subject = request.subject.as_str();
    if subject.is_empty() || subject.len() > 128 || !subject.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid_body(
            "$.subject",
            "1 to 128 printable ASCII characters",
        ));
    }
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_SITE_TOKEN_TTL);
    if !(1..=MAX_SITE_TOKEN_TTL).contains(&ttl) {
        return Err(ApiError::invalid_body(
            "$.ttl_seconds",
            format!("1 to {MAX_SITE_TOKEN_TTL} seconds"),
        ));
    }
    let claims = EntitlementClaims {
        handle: handle.to_owned(),
        level: request.access_level,
        sub: subject.to_owned(),
    };
    let now = now.timestamp();
    Ok(Entitlement {
        token: tokens::sign(TokenKind::Entitlement, secret, claims, now, ttl),
        handle: handle.to_owned(),
        access_level: request.access_level,
        subject: subject.to_owned(),
        expires_at: now + ttl,
    })
}

/// Whether the public read may serve a page of `level`: `PUBLIC` to anyone, a gated level
/// with an entitlement of this handle that reaches it.
///
/// # Errors
/// 401 `entitlement_required` without one; 401 `invalid_token` / `token_expired` for a
/// bad one; 403 `wrong_handle`, or `insufficient_entitlement` for one below the page.
pub fn check_entitlement(
    secret: Option<&[u8]>,
    authorization: Option<&str>,
    handle: &str,
    level: AccessLevel,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let needed = match level {
        AccessLevel::Public => return Ok(()),
        AccessLevel::FreeWithLogin | AccessLevel::Paid | AccessLevel::Private => level,
    };
    let token = authorization
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::EntitlementRequired(needed.as_str()))?;
    let secret = secret.ok_or(ApiError::InvalidToken)?;
    let signed =
        tokens::verify::<EntitlementClaims>(TokenKind::Entitlement, secret, token, now.timestamp())
            .map_err(|e| match e {
                TokenError::Expired => ApiError::TokenExpired,
                _ => ApiError::InvalidToken,
            })?;
    if signed.claims.handle != handle {
        return Err(ApiError::WrongHandle);
    }
    let reaches = matches!(
        (signed.claims.level, needed),
        (
            AccessLevel::Paid,
            AccessLevel::FreeWithLogin | AccessLevel::Paid
        ) | (AccessLevel::FreeWithLogin, AccessLevel::FreeWithLogin)
    );
    if reaches {
        Ok(())
    } else {
        Err(ApiError::InsufficientEntitlement(needed.as_str()))
    }
}

/// Checks a page document whole before it is stored: its form ([`document::check`]) and
/// that every URL in it is routable, all problems at once (a URL already wrong in form is
/// reported once, for its form).
///
/// # Errors
/// 422 `validation_failed` listing every problem with its path.
pub fn check_document(
    document: &Value,
    allowlist: &Allowlist,
    campaign: &str,
) -> Result<(), ApiError> {
    let mut diags = Diagnostics::default();
    diags.set_id(Some(campaign));
    document::check(document, "$.document", &mut diags);
    check_links(document, allowlist, &mut diags);
    finish(diags)
}

/// The URLs of a page document that visitors may not be sent to: each a problem at its
/// path (a page links only to the handle's verified and approved destinations). Checked
/// again at publishing, since a destination may have stopped being routable since.
///
/// # Errors
/// 422 `validation_failed` with an `unroutable_url` diagnostic per such URL.
pub fn check_routable(
    document: &Value,
    allowlist: &Allowlist,
    campaign: &str,
) -> Result<(), ApiError> {
    let mut diags = Diagnostics::default();
    diags.set_id(Some(campaign));
    check_links(document, allowlist, &mut diags);
    finish(diags)
}

fn check_links(document: &Value, allowlist: &Allowlist, diags: &mut Diagnostics) {
    for (path, raw) in document::urls(document, "$.document") {
        if diags.has_error_at(&path) {
            continue;
        }
        let verdict = url::Url::parse(&raw)
            .map_err(|_| NotRoutable::NotADomain)
            .and_then(|url| allowlist.check_url(&url));
        if let Err(why) = verdict {
            diags.error("unroutable_url", path, why.to_string());
        }
    }
}

fn finish(diags: Diagnostics) -> Result<(), ApiError> {
    if diags.has_errors() {
        Err(ApiError::Validation(document::cap(diags.into_vec())))
    } else {
        Ok(())
    }
}

/// Default lifetime of a site token.
pub const DEFAULT_SITE_TOKEN_TTL: i64 = 3600;
/// Longest lifetime of a site token.
pub const MAX_SITE_TOKEN_TTL: i64 = 24 * 3600;

/// Body of `POST .../campaigns/{id}/site-tokens` (may be empty).
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteTokenRequest {
    /// Lifetime in seconds (default 3600, at most 86400).
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(min = 1, max = 86_400)))]
    pub ttl_seconds: Option<i64>,
}

/// A minted site token.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteToken {
    /// The token; send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Handle it is for.
    pub handle: String,
    /// Campaign whose page it may edit and publish.
    pub campaign: String,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
}

/// Mints a site token for one campaign's page.
///
/// # Errors
/// [`ApiError::InvalidBody`] at `$.ttl_seconds` outside 1..=86400.
pub fn mint_site_token(
    secret: &[u8],
    handle: &str,
    campaign: &str,
    request: &SiteTokenRequest,
    now: DateTime<Utc>,
) -> Result<SiteToken, ApiError> {
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_SITE_TOKEN_TTL);
    if !(1..=MAX_SITE_TOKEN_TTL).contains(&ttl) {
        return Err(ApiError::InvalidBody {
            path: "$.ttl_seconds".into(),
            message: format!("1 to {MAX_SITE_TOKEN_TTL} seconds"),
        });
    }
    let claims = SiteClaims {
        handle: handle.to_owned(),
        campaign: campaign.to_owned(),
    };
    let now = now.timestamp();
    Ok(SiteToken {
        token: tokens::sign(TokenKind::Site, secret, claims, now, ttl),
        handle: handle.to_owned(),
        campaign: campaign.to_owned(),
        expires_at: now + ttl,
    })
}

/// The token of a public page route's `Authorization: Bearer` header.
///
/// # Errors
/// [`ApiError::MissingToken`] without a header, [`ApiError::InvalidToken`] for another
/// scheme or an empty token.
pub fn site_bearer(header: Option<&str>) -> Result<&str, ApiError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(ApiError::MissingToken)?;
    match header.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::InvalidToken),
    }
}

/// Checks a site token for `handle`'s campaign `campaign`.
///
/// # Errors
/// 401 [`ApiError::InvalidToken`] (malformed, forged, another kind of token, issued in
/// the future) or [`ApiError::TokenExpired`]; 403 [`ApiError::WrongHandle`] for another
/// handle, [`ApiError::WrongCampaign`] for another campaign of this handle.
pub fn verify_site_token(
    secret: &[u8],
    token: &str,
    handle: &str,
    campaign: &str,
    now: DateTime<Utc>,
) -> Result<SiteClaims, ApiError> {
    let signed = tokens::verify::<SiteClaims>(TokenKind::Site, secret, token, now.timestamp())
        .map_err(|e| match e {
            TokenError::Expired => ApiError::TokenExpired,
            TokenError::Malformed | TokenError::BadSignature | TokenError::NotYetValid => {
                ApiError::InvalidToken
            }
        })?;
    if signed.claims.handle != handle {
        return Err(ApiError::WrongHandle);
    }
    if signed.claims.campaign != campaign {
        return Err(ApiError::WrongCampaign);
    }
    Ok(signed.claims)
}
