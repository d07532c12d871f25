//! Token verification: preview, ctx and site tokens and management JWTs from arbitrary
//! bytes are refused (the secret is not guessable) without panicking.

use edge_router::api::auth::{bearer, verify_jwt};
use edge_router::visit::tokens::{verify, CtxClaims, PreviewClaims, SiteClaims, TokenKind};

const SECRET: &[u8] = b"fuzz-secret-not-guessable-0123456789";

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    assert!(verify::<PreviewClaims>(TokenKind::Preview, SECRET, &token, 1_795_000_000).is_err());
    assert!(verify::<CtxClaims>(TokenKind::Ctx, SECRET, &token, 1_795_000_000).is_err());
    assert!(verify::<SiteClaims>(TokenKind::Site, SECRET, &token, 1_795_000_000).is_err());
    assert!(verify_jwt(&token, SECRET, None, 1_795_000_000).is_err());
    let _ = bearer(Some(&token));
}
