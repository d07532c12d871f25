//! Authentication and authorisation of the management API.
//!
//! `Authorization: Bearer <token>` carries either
//! - a **PAT** (`gr_pat_` followed by 32+ URL-safe characters): opaque; the API stores only
//!   its SHA-256 (hex) with the handle, scopes and subject, and looks the hash up; or
//! - an **HS256 JWT** signed with `JWT_SECRET`: claims `sub`, `handle`, `scopes` (array or
//!   space-separated string) and `exp` (required); `nbf`/`iat` honoured; clock skew is
//!   bounded to [`MAX_SKEW_SECONDS`]. Any `alg` but `HS256` is refused.
//!
//! Scopes are per route (see [`super::routes::ROUTES`]); `admin` implies every scope.
//! Signatures and hashes are compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// Allowed clock skew for `exp`, `nbf` and `iat`.
pub const MAX_SKEW_SECONDS: i64 = 60;
/// Longest lifetime of a JWT (`exp` minus `iat`, or minus now without `iat`): a day. A
/// longer-lived credential is a PAT, which can be revoked.
pub const MAX_JWT_LIFETIME_SECONDS: i64 = 24 * 3600;
/// The PAT prefix.
pub const PAT_PREFIX: &str = "gr_pat_";
/// Longest bearer token looked at.
const MAX_BEARER_LEN: usize = 4096;

/// A permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Read rules, the audit.
    #[serde(rename = "rules:read")]
    RulesRead,
    /// Create, replace, delete rules.
    #[serde(rename = "rules:write")]
    RulesWrite,
    /// Read destination domains.
    #[serde(rename = "domains:read")]
    DomainsRead,
    /// Add and verify destination domains.
    #[serde(rename = "domains:write")]
    DomainsWrite,
    /// Approve or reject destination domains.
    #[serde(rename = "domains:admin")]
    DomainsAdmin,
    /// Read tracking templates.
    #[serde(rename = "templates:read")]
    TemplatesRead,
    /// Create or replace tracking templates.
    #[serde(rename = "templates:write")]
    TemplatesWrite,
    /// Route previews and preview tokens.
    #[serde(rename = "preview")]
    Preview,
    /// Read campaigns, health and stats.
    #[serde(rename = "campaigns:read")]
    CampaignsRead,
    /// Create campaigns, change their state, record test conversions.
    #[serde(rename = "campaigns:write")]
    CampaignsWrite,
    /// Edit and publish campaign pages.
    #[serde(rename = "pages:write")]
    PagesWrite,
    /// Mint entitlements for storefront members (the storefront's server holds it).
    #[serde(rename = "entitlements")]
    Entitlements,
    /// Read the change history of the configuration (who changed what, when).
    #[serde(rename = "history:read")]
    HistoryRead,
    /// Everything.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 14] = [
        Self::RulesRead,
        Self::RulesWrite,
        Self::DomainsRead,
        Self::DomainsWrite,
        Self::DomainsAdmin,
        Self::TemplatesRead,
        Self::TemplatesWrite,
        Self::Preview,
        Self::CampaignsRead,
        Self::CampaignsWrite,
        Self::PagesWrite,
        Self::Entitlements,
        Self::HistoryRead,
        Self::Admin,
    ];

    /// The scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RulesRead => "rules:read",
            Self::RulesWrite => "rules:write",
            Self::DomainsRead => "domains:read",
            Self::DomainsWrite => "domains:write",
            Self::DomainsAdmin => "domains:admin",
            Self::TemplatesRead => "templates:read",
            Self::TemplatesWrite => "templates:write",
            Self::Preview => "preview",
            Self::CampaignsRead => "campaigns:read",
            Self::CampaignsWrite => "campaigns:write",
            Self::PagesWrite => "pages:write",
            Self::Entitlements => "entitlements",
            Self::HistoryRead => "history:read",
            Self::Admin => "admin",
        }
    }

    /// Parses a scope name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Parses a space-separated scope list; unknown names are ignored.
    pub fn parse_list(list: &str) -> Vec<Self> {
        list.split_whitespace().filter_map(Self::parse).collect()
    }
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// Personal access token.
    Pat,
    /// HS256 JWT.
    Jwt,
    /// A campaign-scoped site token (public page routes).
    Site,
    /// No credential (public routes); `sub` names the client by a hash of its address.
    Public,
    /// The worker itself (the scheduled re-verification).
    System,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who (JWT `sub`, or the PAT's subject).
    pub sub: String,
    /// The handle the credential is for.
    pub handle: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// PAT or JWT.
    pub kind: AuthKind,
}

impl Principal {
    /// Checks the credential covers `handle` and `scope`.
    ///
    /// # Errors
    /// [`ApiError::WrongHandle`] or [`ApiError::InsufficientScope`].
    pub fn authorize(&self, handle: &str, scope: Scope) -> Result<(), ApiError> {
        self.authorize_handle(handle)?;
        if self.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.as_str()))
        }
    }

    /// Checks the credential covers `handle`, whatever its scopes.
    ///
    /// # Errors
    /// [`ApiError::WrongHandle`].
    pub fn authorize_handle(&self, handle: &str) -> Result<(), ApiError> {
        if self.handle == handle {
            Ok(())
        } else {
            Err(ApiError::WrongHandle)
        }
    }

    /// Whether the caller holds `scope` (or `admin`).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// The bearer credential of an `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer<'a> {
    /// A PAT, to be hashed and looked up.
    Pat(&'a str),
    /// Something JWT-shaped.
    Jwt(&'a str),
}

/// Reads the bearer credential.
///
/// # Errors
/// [`ApiError::MissingToken`] without a header, [`ApiError::InvalidToken`] for another
/// scheme or a token that is neither a PAT nor JWT-shaped.
pub fn bearer(header: Option<&str>) -> Result<Bearer<'_>, ApiError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(ApiError::MissingToken)?;
    let (scheme, token) = header.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidToken);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_BEARER_LEN {
        return Err(ApiError::InvalidToken);
    }
    if let Some(rest) = token.strip_prefix(PAT_PREFIX) {
        let ok = rest.len() >= 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        return if ok {
            Ok(Bearer::Pat(token))
        } else {
            Err(ApiError::InvalidToken)
        };
    }
    if token.split('.').count() == 3 {
        return Ok(Bearer::Jwt(token));
    }
    Err(ApiError::InvalidToken)
}

/// The stored form of a PAT: SHA-256, hex.
pub fn pat_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new PAT from 32 random bytes.
pub fn new_pat(random: &[u8; 32]) -> String {
    format!("{PAT_PREFIX}{}", URL_SAFE_NO_PAD.encode(random))
}

/// A stored PAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatRecord {
    /// Handle.
    pub handle: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// Subject (who it was issued to).
    pub sub: String,
    /// Expiry (Unix seconds), if any.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Whether it was revoked.
    #[serde(default)]
    pub revoked: bool,
}

impl PatRecord {
    /// The principal of a looked-up PAT at `now`.
    ///
    /// # Errors
    /// [`ApiError::InvalidToken`] when revoked, [`ApiError::TokenExpired`] when expired.
    pub fn principal(&self, now: i64) -> Result<Principal, ApiError> {
        if self.revoked {
            return Err(ApiError::InvalidToken);
        }
        if self.expires_at.is_some_and(|exp| exp <= now) {
            return Err(ApiError::TokenExpired);
        }
        Ok(Principal {
            sub: self.sub.clone(),
            handle: self.handle.clone(),
            scopes: Scope::parse_list(&self.scopes),
            kind: AuthKind::Pat,
        })
    }
}

#[derive(Debug, Deserialize)]
struct JwtHeader {
    alg: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ScopeClaim {
    List(Vec<String>),
    Spaced(String),
}

#[derive(Debug, Deserialize)]
struct JwtClaims {
    sub: String,
    handle: String,
    scopes: ScopeClaim,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    aud: Option<Audience>,
}

/// A JWT `aud`: one string or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, audience: &str) -> bool {
        match self {
            Self::One(a) => a == audience,
            Self::Many(list) => list.iter().any(|a| a == audience),
        }
    }
}

/// Verifies an HS256 JWT.
///
/// # Errors
/// [`ApiError::InvalidToken`] for anything malformed, another algorithm, a bad signature or
/// missing claims; [`ApiError::TokenExpired`] past `exp` (plus skew).
pub fn verify_jwt(
    token: &str,
    secret: &[u8],
    audience: Option<&str>,
    now: i64,
) -> Result<Principal, ApiError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ApiError::InvalidToken);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| ApiError::InvalidToken)
    };
    let head: JwtHeader =
        serde_json::from_slice(&decode(header)?).map_err(|_| ApiError::InvalidToken)?;
    if head.alg != "HS256" || secret.is_empty() {
        return Err(ApiError::InvalidToken);
    }
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| ApiError::InvalidToken)?;
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&decode(signature)?)
        .map_err(|_| ApiError::InvalidToken)?;
    let claims: JwtClaims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| ApiError::InvalidToken)?;
    if claims.exp + MAX_SKEW_SECONDS <= now {
        return Err(ApiError::TokenExpired);
    }
    let early = |t: Option<i64>| t.is_some_and(|t| t > now + MAX_SKEW_SECONDS);
    if early(claims.nbf) || early(claims.iat) || claims.sub.is_empty() {
        return Err(ApiError::InvalidToken);
    }
    let issued = claims.iat.unwrap_or(now).min(now);
    if claims.exp - issued > MAX_JWT_LIFETIME_SECONDS + MAX_SKEW_SECONDS {
        return Err(ApiError::InvalidToken);
    }
    // With `JWT_AUDIENCE` configured, a token must name it.
    if let Some(audience) = audience {
        if !claims.aud.as_ref().is_some_and(|a| a.names(audience)) {
            return Err(ApiError::InvalidToken);
        }
    }
    let scopes = match claims.scopes {
        ScopeClaim::List(list) => list.iter().filter_map(|s| Scope::parse(s)).collect(),
        ScopeClaim::Spaced(list) => Scope::parse_list(&list),
    };
    Ok(Principal {
        sub: claims.sub,
        handle: claims.handle,
        scopes,
        kind: AuthKind::Jwt,
    })
}

/// Signs an HS256 JWT (for tools and tests).
pub fn sign_jwt(claims: &serde_json::Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let tag = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"jwt-secret-for-tests-0123456789";
    const NOW: i64 = 1_790_000_000;

    fn claims(exp: i64) -> serde_json::Value {
        json!({"sub": "priya", "handle": "gharart", "scopes": ["rules:read", "rules:write"], "exp": exp})
    }

    #[test]
    fn bearer_forms() {
        assert_eq!(bearer(None), Err(ApiError::MissingToken));
        assert_eq!(bearer(Some("  ")), Err(ApiError::MissingToken));
        assert_eq!(bearer(Some("Basic abc")), Err(ApiError::InvalidToken));
        assert_eq!(
            bearer(Some("Bearer gr_pat_short")),
            Err(ApiError::InvalidToken)
        );
        let pat = new_pat(&[7; 32]);
        assert_eq!(
            bearer(Some(&format!("bearer {pat}"))),
            Ok(Bearer::Pat(&pat))
        );
        assert_eq!(bearer(Some("Bearer a.b.c")), Ok(Bearer::Jwt("a.b.c")));
        assert_eq!(bearer(Some("Bearer nonsense")), Err(ApiError::InvalidToken));
    }

    #[test]
    fn jwt_round_trip_and_scopes() {
        let token = sign_jwt(&claims(NOW + 300), SECRET);
        let p = verify_jwt(&token, SECRET, None, NOW).unwrap();
        assert_eq!(
            (p.sub.as_str(), p.handle.as_str(), p.kind),
            ("priya", "gharart", AuthKind::Jwt)
        );
        assert!(p.authorize("gharart", Scope::RulesWrite).is_ok());
        assert_eq!(
            p.authorize("gharart", Scope::DomainsAdmin),
            Err(ApiError::InsufficientScope("domains:admin"))
        );
        assert_eq!(
            p.authorize("other", Scope::RulesRead),
            Err(ApiError::WrongHandle)
        );
        let spaced = sign_jwt(
            &json!({"sub": "a", "handle": "g", "scopes": "admin", "exp": NOW + 10}),
            SECRET,
        );
        assert!(verify_jwt(&spaced, SECRET, None, NOW)
            .unwrap()
            .authorize("g", Scope::DomainsAdmin)
            .is_ok());
    }

    #[test]
    fn jwt_lifetime_is_bounded_and_the_audience_checked_when_configured() {
        let jwt = |extra: serde_json::Value| {
            let mut c = json!({"sub": "a", "handle": "g", "scopes": "admin", "iat": NOW});
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            sign_jwt(&c, SECRET)
        };
        let day = MAX_JWT_LIFETIME_SECONDS;
        assert!(verify_jwt(&jwt(json!({"exp": NOW + day})), SECRET, None, NOW).is_ok());
        let forever = jwt(json!({"exp": NOW + 10 * 365 * day}));
        assert_eq!(
            verify_jwt(&forever, SECRET, None, NOW),
            Err(ApiError::InvalidToken)
        );
        let no_iat = sign_jwt(
            &json!({"sub": "a", "handle": "g", "scopes": "admin", "exp": NOW + 2 * day}),
            SECRET,
        );
        assert_eq!(
            verify_jwt(&no_iat, SECRET, None, NOW),
            Err(ApiError::InvalidToken),
            "measured from now without iat"
        );
        let aimed = jwt(json!({"exp": NOW + 60, "aud": "edge-router"}));
        let listed = jwt(json!({"exp": NOW + 60, "aud": ["x", "edge-router"]}));
        let elsewhere = jwt(json!({"exp": NOW + 60, "aud": "another-service"}));
        let none = jwt(json!({"exp": NOW + 60}));
        for ok in [&aimed, &listed] {
            assert!(verify_jwt(ok, SECRET, Some("edge-router"), NOW).is_ok());
        }
        for bad in [&elsewhere, &none] {
            assert_eq!(
                verify_jwt(bad, SECRET, Some("edge-router"), NOW),
                Err(ApiError::InvalidToken)
            );
        }
        assert!(
            verify_jwt(&elsewhere, SECRET, None, NOW).is_ok(),
            "no audience configured: aud is not checked"
        );
    }

    #[test]
    fn jwt_expiry_with_bounded_skew() {
        let token = sign_jwt(&claims(NOW), SECRET);
        assert!(verify_jwt(&token, SECRET, None, NOW + MAX_SKEW_SECONDS - 1).is_ok());
        assert_eq!(
            verify_jwt(&token, SECRET, None, NOW + MAX_SKEW_SECONDS),
            Err(ApiError::TokenExpired)
        );
        let future = sign_jwt(
            &json!({"sub": "a", "handle": "g", "scopes": [], "exp": NOW + 999, "nbf": NOW + 120}),
            SECRET,
        );
        assert_eq!(
            verify_jwt(&future, SECRET, None, NOW),
            Err(ApiError::InvalidToken)
        );
    }

    #[test]
    fn forged_and_other_algorithms_are_refused() {
        let token = sign_jwt(&claims(NOW + 300), SECRET);
        assert_eq!(
            verify_jwt(&token, b"another-secret", None, NOW),
            Err(ApiError::InvalidToken)
        );
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let elevated = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(
                &json!({"sub": "x", "handle": "gharart", "scopes": ["admin"], "exp": NOW + 300}),
            )
            .unwrap(),
        );
        assert_eq!(
            verify_jwt(&format!("{head}.{elevated}.{sig}"), SECRET, None, NOW),
            Err(ApiError::InvalidToken)
        );
        let none_head = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(NOW + 300)).unwrap());
        assert_eq!(
            verify_jwt(&format!("{none_head}.{payload}."), SECRET, None, NOW),
            Err(ApiError::InvalidToken)
        );
        assert_eq!(
            verify_jwt("a.b.c", SECRET, None, NOW),
            Err(ApiError::InvalidToken)
        );
    }

    #[test]
    fn pats() {
        let pat = new_pat(&[1; 32]);
        assert!(pat.starts_with(PAT_PREFIX) && pat.len() > 40);
        assert_eq!(pat_hash(&pat).len(), 64);
        assert_ne!(pat_hash(&pat), pat_hash(&new_pat(&[2; 32])));
        let record = PatRecord {
            handle: "g".into(),
            scopes: "rules:read bogus".into(),
            sub: "dev".into(),
            expires_at: Some(NOW),
            revoked: false,
        };
        assert_eq!(record.principal(NOW), Err(ApiError::TokenExpired));
        let p = record.principal(NOW - 1).unwrap();
        assert_eq!(p.scopes, vec![Scope::RulesRead]);
        assert_eq!(
            PatRecord {
                revoked: true,
                ..record
            }
            .principal(0),
            Err(ApiError::InvalidToken)
        );
    }
}
