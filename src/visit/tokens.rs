//! HMAC-SHA256-signed, expiring tokens: preview tokens (scoped to a handle) and ctx tokens
//! (handle, campaign, variant, visitor id) that the redirect hands to destinations.
//!
//! Form: `v1.<payload>.<mac>`, both parts unpadded base64url; the payload is JSON with
//! `iat` and `exp` in Unix seconds. Each kind signs with its own key, derived from the one
//! secret as `HMAC-SHA256(secret, "edge-router/<kind>")`, so a preview token can never pass
//! as a ctx token or the other way round. The MAC covers `v1.<kind>.<payload>`. MACs are
//! compared in constant time (`hmac`'s `verify_slice`).

use std::fmt;

use crate::model::page::AccessLevel;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted; anything longer is malformed without further work.
pub const MAX_TOKEN_LEN: usize = 2048;
/// Tokens issued up to this many seconds "in the future" are accepted (clock skew).
pub const MAX_SKEW_SECONDS: i64 = 60;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Lets query overrides take effect for one handle.
    Preview,
    /// Ties a conversion to a campaign variant and visitor.
    Ctx,
    /// Lets a public client edit one campaign's page (issued by the management API).
    Site,
    /// Ties a *test* conversion to a campaign variant: signed with a key of its own, so
    /// the public conversion route, which verifies [`TokenKind::Ctx`], refuses it.
    TestCtx,
    /// Lets a storefront member read the gated campaign pages of one handle.
    Entitlement,
}

impl TokenKind {
    fn label(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Ctx => "ctx",
            Self::Site => "site",
            Self::TestCtx => "test-ctx",
            Self::Entitlement => "entitlement",
        }
    }
}

/// Why a token was refused. The edge and API show only the variant's code, never the
/// token or the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not `v1.<payload>.<mac>`, bad base64, bad JSON, or too long.
    Malformed,
    /// The MAC does not match: forged, tampered with, or another kind of token.
    BadSignature,
    /// `exp` is in the past.
    Expired,
    /// `iat` is further in the future than the allowed skew.
    NotYetValid,
}

impl TokenError {
    /// A stable code for responses.
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "token_malformed",
            Self::BadSignature => "token_bad_signature",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the token is malformed",
            Self::BadSignature => "the token's signature does not match",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token was issued in the future",
        })
    }
}

impl std::error::Error for TokenError {}

/// Claims of a preview token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewClaims {
    /// The handle whose routes it may preview.
    pub handle: String,
    /// Who asked for it (token subject), for the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// Claims of a ctx token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtxClaims {
    /// Handle.
    pub handle: String,
    /// Campaign id.
    pub campaign: String,
    /// Variant key.
    pub variant: String,
    /// Visitor id.
    pub vid: String,
}

/// Claims of a site token: may edit and publish one campaign's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteClaims {
    /// Handle.
    pub handle: String,
    /// Campaign id.
    pub campaign: String,
}

/// Claims of an entitlement: a storefront member of a handle may read its pages up to an
/// access level (`FREE_WITH_LOGIN` or `PAID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementClaims {
    /// Handle.
    pub handle: String,
    /// The highest level the member may read.
    pub level: AccessLevel,
    /// Who the member is, as the storefront names them (for the log, never checked).
    pub sub: String,
}

/// A verified token's claims with its times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The kind-specific claims.
    #[serde(flatten)]
    pub claims: T,
}

fn kind_key(secret: &[u8], kind: TokenKind) -> HmacSha256 {
    let mut derive =
        <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    derive.update(b"edge-router/");
    derive.update(kind.label().as_bytes());
    let key = derive.finalize().into_bytes();
    <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| unreachable_hmac())
}

/// HMAC accepts keys of any length, so building one cannot fail; this keeps the request
/// path free of `unwrap`.
fn unreachable_hmac() -> HmacSha256 {
    <HmacSha256 as KeyInit>::new(&Default::default())
}

fn mac_for(secret: &[u8], kind: TokenKind, payload_b64: &str) -> HmacSha256 {
    let mut mac = kind_key(secret, kind);
    mac.update(b"v1.");
    mac.update(kind.label().as_bytes());
    mac.update(b".");
    mac.update(payload_b64.as_bytes());
    mac
}

/// Signs claims valid from `now` for `ttl_seconds`.
pub fn sign<T: Serialize>(
    kind: TokenKind,
    secret: &[u8],
    claims: T,
    now: i64,
    ttl_seconds: i64,
) -> String {
    let signed = Signed {
        iat: now,
        exp: now.saturating_add(ttl_seconds),
        claims,
    };
    let json = serde_json::to_vec(&signed).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = mac_for(secret, kind, &payload).finalize().into_bytes();
    format!("v1.{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Verifies a token of `kind` at `now` and returns its claims.
///
/// # Errors
/// [`TokenError`]: malformed, bad signature (including a token of another kind), expired,
/// or issued in the future.
pub fn verify<T: DeserializeOwned>(
    kind: TokenKind,
    secret: &[u8],
    token: &str,
    now: i64,
) -> Result<Signed<T>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some("v1"), Some(payload), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TokenError::Malformed)?;
    mac_for(secret, kind, payload)
        .verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let signed: Signed<T> = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if signed.iat > now.saturating_add(MAX_SKEW_SECONDS) {
        return Err(TokenError::NotYetValid);
    }
    if signed.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-of-reasonable-length";
    const NOW: i64 = 1_790_000_000;

    fn preview(handle: &str) -> PreviewClaims {
        PreviewClaims {
            handle: handle.into(),
            sub: None,
        }
    }

    #[test]
    fn round_trip() {
        let token = sign(TokenKind::Preview, SECRET, preview("gharart"), NOW, 600);
        let signed: Signed<PreviewClaims> =
            verify(TokenKind::Preview, SECRET, &token, NOW + 599).unwrap();
        assert_eq!(signed.claims.handle, "gharart");
        assert_eq!((signed.iat, signed.exp), (NOW, NOW + 600));
    }

    #[test]
    fn expiry_and_skew() {
        let token = sign(TokenKind::Preview, SECRET, preview("g"), NOW, 600);
        assert_eq!(
            verify::<PreviewClaims>(TokenKind::Preview, SECRET, &token, NOW + 600),
            Err(TokenError::Expired)
        );
        assert!(verify::<PreviewClaims>(
            TokenKind::Preview,
            SECRET,
            &token,
            NOW - MAX_SKEW_SECONDS
        )
        .is_ok());
        assert_eq!(
            verify::<PreviewClaims>(
                TokenKind::Preview,
                SECRET,
                &token,
                NOW - MAX_SKEW_SECONDS - 1
            ),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn kinds_and_secrets_do_not_mix() {
        let token = sign(TokenKind::Preview, SECRET, preview("g"), NOW, 600);
        assert_eq!(
            verify::<PreviewClaims>(TokenKind::Ctx, SECRET, &token, NOW),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify::<PreviewClaims>(TokenKind::Preview, b"other", &token, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampering_is_detected() {
        let token = sign(
            TokenKind::Ctx,
            SECRET,
            CtxClaims {
                handle: "g".into(),
                campaign: "c".into(),
                variant: "a".into(),
                vid: "v".into(),
            },
            NOW,
            600,
        );
        let (head, tag) = token.rsplit_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            br#"{"iat":1,"exp":9999999999,"handle":"g","campaign":"c","variant":"b","vid":"v"}"#,
        );
        let forged = format!("v1.{forged_payload}.{tag}");
        assert_eq!(
            verify::<CtxClaims>(TokenKind::Ctx, SECRET, &forged, NOW),
            Err(TokenError::BadSignature)
        );
        let mut flipped = tag.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{head}.{}", String::from_utf8(flipped).unwrap());
        assert_eq!(
            verify::<CtxClaims>(TokenKind::Ctx, SECRET, &flipped, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn malformed_inputs() {
        for bad in [
            "",
            "v1",
            "v1.a",
            "v2.a.b",
            "v1.a.b.c",
            "v1.!!!.???",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            let err = verify::<PreviewClaims>(TokenKind::Preview, SECRET, bad, NOW).unwrap_err();
            assert!(
                matches!(err, TokenError::Malformed | TokenError::BadSignature),
                "{bad}: {err:?}"
            );
        }
        // A correctly signed payload that is not the claims is malformed, not accepted.
        let payload = URL_SAFE_NO_PAD.encode(b"[1,2,3]");
        let tag = URL_SAFE_NO_PAD.encode(
            mac_for(SECRET, TokenKind::Preview, &payload)
                .finalize()
                .into_bytes(),
        );
        let token = format!("v1.{payload}.{tag}");
        assert_eq!(
            verify::<PreviewClaims>(TokenKind::Preview, SECRET, &token, NOW),
            Err(TokenError::Malformed)
        );
    }
}
