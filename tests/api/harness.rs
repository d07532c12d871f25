//! The world every API test runs in: a [`MemoryStore`] seeded the way `make dev` seeds
//! local KV and D1 (the `rules/gharart` configuration published as snapshot version 1,
//! PATs stored by their SHA-256), a [`FixedResolver`], settings with both secrets, a
//! settable clock, predictable random bytes and a log collector. [`World::req`] builds a
//! request and [`Req::send`] runs it through [`Api::handle`].

use std::cell::{Cell, RefCell};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use edge_router::api::auth::{pat_hash, sign_jwt, PatRecord, Scope};
use edge_router::api::context::ApiSettings;
use edge_router::api::memory::{FixedResolver, MemoryStore};
use edge_router::api::routes::{Route, RouteId};
use edge_router::api::service::{Api, ApiRequest};
use edge_router::engine::snapshot::{self, Snapshot, Stored};
use edge_router::model::config::HandleConfig;
use edge_router::visit::tokens::{self, CtxClaims, SiteClaims, TokenKind};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub(crate) const HANDLE: &str = "gharart";
pub(crate) const V2: &str = "/v2/handles/gharart";
pub(crate) const TOKEN_SECRET: &[u8] = b"token-secret-for-the-native-api-tests";
pub(crate) const JWT_SECRET: &[u8] = b"jwt-secret-for-the-native-api-tests";
/// The status of `validation_failed`: a well-formed change that does not compile. The
/// brief and `tests/e2e` say 400; the working tree's `src/api/error.rs` (and the
/// OpenAPI document) now answer 422. One place to change if that is reverted.
pub(crate) const VALIDATION_STATUS: u16 = 422;
/// The client (address tag) requests come from unless one is given.
pub(crate) const CLIENT: &str = "c0ffee0000000001";

/// The configuration of `rules/gharart`, as `make dev` seeds it.
pub(crate) fn gharart() -> HandleConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    edge_router::model::files::load_dir(&dir)
        .expect("rules/gharart loads")
        .0
}

/// A PAT of the seeded table by name: `gr_pat_` and the name padded to 40 characters.
pub(crate) fn pat(name: &str) -> String {
    format!("gr_pat_{name:_<40}")
}

/// The name of the seeded PAT holding exactly `scope`.
pub(crate) fn scope_pat(scope: Scope) -> String {
    pat(&scope.as_str().replace(':', "-"))
}

pub(crate) const ADMIN: &str = "admin";

/// The idempotency scope of a PAT's writes: its handle and subject (issue 10).
pub(crate) fn key_scope(name: &str) -> String {
    format!("{HANDLE}|{name}@gharart.com")
}
pub(crate) const READ_ONLY: &str = "read-only";
pub(crate) const OTHER_HANDLE: &str = "other-handle";
pub(crate) const REVOKED: &str = "revoked";
pub(crate) const EXPIRED: &str = "expired";

/// 2026-11-22T10:00:15Z: the seeded campaign diwali-hero-ab is active, gulf-eid-teaser
/// paused; 15 s into a minute.
pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 15).unwrap()
}

/// Everything one test's requests share.
pub(crate) struct World {
    pub(crate) store: MemoryStore,
    pub(crate) resolver: FixedResolver,
    pub(crate) settings: ApiSettings,
    pub(crate) now: Cell<DateTime<Utc>>,
    /// Random bytes of the next request, when set; otherwise SHA-256 of a counter.
    pub(crate) next_random: Cell<Option<[u8; 16]>>,
    counter: Cell<u64>,
    requests: Cell<u64>,
    pub(crate) log: RefCell<Vec<String>>,
}

impl World {
    /// The seeded world with the default limits.
    pub(crate) fn new() -> Self {
        Self::with(|_| {})
    }

    /// The seeded world with settings changed by `tune`.
    pub(crate) fn with(tune: impl FnOnce(&mut ApiSettings)) -> Self {
        let mut settings = ApiSettings {
            token_secret: Some(TOKEN_SECRET.to_vec()),
            jwt_secret: Some(JWT_SECRET.to_vec()),
            ..ApiSettings::default()
        };
        tune(&mut settings);
        let world = World {
            store: MemoryStore::new(),
            resolver: FixedResolver::default(),
            settings,
            now: Cell::new(start()),
            next_random: Cell::new(None),
            counter: Cell::new(0),
            requests: Cell::new(0),
            log: RefCell::new(Vec::new()),
        };
        let snapshot = Snapshot::new(gharart(), 1, "2026-11-01T00:00:00Z".into())
            .to_stored()
            .unwrap();
        let now = world.now().timestamp();
        let mut tables = world.store.tables.borrow_mut();
        tables.published.insert(HANDLE.into(), snapshot);
        let mut add = |name: &str, handle: &str, scopes: &str, expires_at, revoked| {
            let record = PatRecord {
                handle: handle.into(),
                scopes: scopes.into(),
                sub: format!("{name}@gharart.com"),
                expires_at,
                revoked,
            };
            tables.pats.insert(pat_hash(&pat(name)), record);
        };
        add(ADMIN, HANDLE, "admin", None, false);
        add(
            READ_ONLY,
            HANDLE,
            "rules:read domains:read templates:read",
            None,
            false,
        );
        add(OTHER_HANDLE, "other-shop", "admin", None, false);
        add(REVOKED, HANDLE, "admin", None, true);
        add(EXPIRED, HANDLE, "admin", Some(now - 3600), false);
        // One per scope but admin (the admin PAT), each expiring tomorrow.
        for scope in Scope::ALL.into_iter().filter(|s| *s != Scope::Admin) {
            let name = scope.as_str().replace(':', "-");
            add(&name, HANDLE, scope.as_str(), Some(now + 86_400), false);
        }
        drop(tables);
        world
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now.get()
    }

    pub(crate) fn advance(&self, seconds: i64) {
        self.now
            .set(self.now() + chrono::Duration::seconds(seconds));
    }

    /// A request; nothing is sent until [`Req::send`].
    pub(crate) fn req<'w>(&'w self, method: &'static str, path: &str) -> Req<'w> {
        Req {
            world: self,
            method,
            path: path.to_owned(),
            authorization: None,
            key: None,
            body: Vec::new(),
            content_length: None,
            client: CLIENT.to_owned(),
        }
    }

    pub(crate) fn get(&self, path: &str, token: &str) -> Res {
        self.req("GET", path).bearer(token).send()
    }

    /// A JWT for gharart signed with the world's secret, valid for ten minutes.
    pub(crate) fn jwt(&self, sub: &str, scopes: &[&str]) -> String {
        self.jwt_claims(json!({
            "sub": sub, "handle": HANDLE, "scopes": scopes, "exp": self.now().timestamp() + 600,
        }))
    }

    pub(crate) fn jwt_claims(&self, claims: Value) -> String {
        sign_jwt(&claims, JWT_SECRET)
    }

    /// A ctx token as the redirect mints it.
    pub(crate) fn ctx(&self, campaign: &str, variant: &str, vid: &str) -> String {
        let claims = CtxClaims {
            handle: HANDLE.into(),
            campaign: campaign.into(),
            variant: variant.into(),
            vid: vid.into(),
        };
        tokens::sign(
            TokenKind::Ctx,
            TOKEN_SECRET,
            claims,
            self.now().timestamp(),
            3600,
        )
    }

    /// A site token for `handle`'s `campaign`, signed with `secret`.
    pub(crate) fn site_token(
        &self,
        secret: &[u8],
        handle: &str,
        campaign: &str,
        ttl: i64,
    ) -> String {
        let claims = SiteClaims {
            handle: handle.into(),
            campaign: campaign.into(),
        };
        tokens::sign(TokenKind::Site, secret, claims, self.now().timestamp(), ttl)
    }

    /// The configuration version the API reports now.
    pub(crate) fn version(&self) -> u64 {
        let res = self.get(&format!("{V2}/personalization-rules"), &pat(ADMIN));
        assert_eq!(res.status, 200, "{}", res.text);
        res.json["version"].as_u64().unwrap()
    }

    /// The configuration of the stored document (panics when there is none).
    pub(crate) fn stored_config(&self) -> HandleConfig {
        let tables = self.store.tables.borrow();
        serde_json::from_str(&tables.documents[HANDLE].config).unwrap()
    }

    /// The configuration of the published snapshot and its version.
    pub(crate) fn published(&self) -> (u64, HandleConfig) {
        let tables = self.store.tables.borrow();
        let Stored::Snapshot(snapshot) =
            snapshot::parse(HANDLE, &tables.published[HANDLE]).unwrap()
        else {
            panic!("a tombstone is published");
        };
        (snapshot.version, snapshot.config)
    }

    fn random(&self) -> [u8; 16] {
        if let Some(bytes) = self.next_random.take() {
            return bytes;
        }
        self.counter.set(self.counter.get() + 1);
        let digest = Sha256::digest(self.counter.get().to_le_bytes());
        digest[..16].try_into().unwrap()
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.borrow().join("\n")
    }
}

/// A request being built.
pub(crate) struct Req<'w> {
    world: &'w World,
    method: &'static str,
    path: String,
    authorization: Option<String>,
    key: Option<String>,
    body: Vec<u8>,
    content_length: Option<u64>,
    client: String,
}

impl Req<'_> {
    /// `Authorization: Bearer <token>` (a name of the seeded PAT table, or a token).
    pub(crate) fn bearer(mut self, token: &str) -> Self {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// The seeded PAT `name`.
    pub(crate) fn pat(self, name: &str) -> Self {
        self.bearer(&pat(name))
    }

    pub(crate) fn authorization(mut self, header: &str) -> Self {
        self.authorization = Some(header.to_owned());
        self
    }

    pub(crate) fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = serde_json::to_vec(&body).unwrap();
        self
    }

    pub(crate) fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub(crate) fn content_length(mut self, n: u64) -> Self {
        self.content_length = Some(n);
        self
    }

    pub(crate) fn client(mut self, client: &str) -> Self {
        self.client = client.to_owned();
        self
    }

    pub(crate) fn send(self) -> Res {
        let w = self.world;
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        w.requests.set(w.requests.get() + 1);
        let request_id = format!("{:032x}", w.requests.get());
        let req = ApiRequest {
            method: self.method,
            path,
            query,
            authorization: self.authorization.as_deref(),
            idempotency_key: self.key.as_deref(),
            content_length: self.content_length,
            client: &self.client,
            request_id: &request_id,
        };
        let log = |line: &str| w.log.borrow_mut().push(line.to_owned());
        let api = Api {
            store: &w.store,
            resolver: &w.resolver,
            settings: &w.settings,
            log: &log,
        };
        let random = w.random();
        let answer = pollster::block_on(api.handle(&req, &self.body, w.now(), random));
        let text = String::from_utf8(answer.body).unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        let res = Res {
            status: answer.status,
            headers: answer.headers,
            json,
            text,
            request_id,
        };
        // What every answer must satisfy: its request id, and errors in the envelope.
        assert_eq!(res.header("X-Request-Id"), Some(res.request_id.as_str()));
        if res.status >= 400 {
            assert_eq!(
                res.json["error"]["request_id"],
                res.request_id.as_str(),
                "{}",
                res.text
            );
            assert!(res.json["error"]["code"].is_string(), "{}", res.text);
        }
        res
    }
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Res {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) json: Value,
    pub(crate) text: String,
    pub(crate) request_id: String,
}

impl Res {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error code, or `""` for a success.
    pub(crate) fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }

    /// `error.details.path` of an `invalid_body`.
    pub(crate) fn path(&self) -> &str {
        self.json["error"]["details"]["path"]
            .as_str()
            .unwrap_or_default()
    }

    /// `(code, path)` of every error-severity diagnostic of a `validation_failed`.
    pub(crate) fn errors(&self) -> Vec<(String, String)> {
        self.json["error"]["details"]
            .as_array()
            .unwrap_or_else(|| panic!("no diagnostics: {}", self.text))
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| (s(&d["code"]), s(&d["path"])))
            .collect()
    }

    /// Asserts the status and error code; returns the answer for more checks.
    #[track_caller]
    pub(crate) fn expect(&self, status: u16, code: &str) -> &Self {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.text);
        if status == 401 {
            assert_eq!(
                self.header("WWW-Authenticate"),
                Some("Bearer"),
                "{}",
                self.text
            );
        }
        self
    }

    /// Asserts a success status; returns the body.
    #[track_caller]
    pub(crate) fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.json
    }
}

/// `(code, path)` pairs as [`Res::errors`] gives them.
pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(c, p)| ((*c).to_owned(), (*p).to_owned()))
        .collect()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Unpadded base64url, for hand-made tokens.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A valid campaign page document.
pub(crate) fn page_doc(title: &str) -> Value {
    json!({
        "title": title,
        "blocks": [
            {"type": "hero", "heading": "Diwali at Gharart"},
            {"type": "text", "body": "Hand-made lamps for the festival."},
            {"type": "cta", "label": "Shop now", "url": "https://www.gharart.com/festive"}
        ]
    })
}

/// A request that reaches a route's handler on the seeded world, and what the handler
/// answers when the caller may call the route.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) path: String,
    pub(crate) body: Option<Value>,
    pub(crate) status: u16,
    pub(crate) code: &'static str,
}

/// The sample request of a route (an exhaustive match: a new route needs one here).
pub(crate) fn sample(route: &Route) -> Sample {
    use edge_router::model::lifecycle::Transition;
    let active = "diwali-hero-ab";
    let (campaign, body, status, code) = match route.id {
        RouteId::OpenApi
        | RouteId::ListDomains
        | RouteId::VerifyDomain
        | RouteId::ListRules
        | RouteId::DeleteRule
        | RouteId::ListTemplates
        | RouteId::RoutePreview
        | RouteId::RuleAudit
        | RouteId::GetConfiguration
        | RouteId::ListCampaigns
        | RouteId::GetCampaign
        | RouteId::CampaignHealth
        | RouteId::CampaignResults
        | RouteId::WhoAmI
        | RouteId::PublicPageSchema => (active, None, 200, ""),
        RouteId::AddDomain => (
            active,
            Some(json!({"domain": "new.gharart-partner.com"})),
            201,
            "",
        ),
        RouteId::DecideDomain => (
            active,
            Some(json!({"decision": "approved", "reason": "checked by hand"})),
            200,
            "",
        ),
        RouteId::PutRule => (
            active,
            Some(
                json!({"priority": 50, "entries": ["festive"], "destination": "https://m.gharart.in/festive"}),
            ),
            200,
            "",
        ),
        RouteId::PostTemplate => (
            active,
            Some(json!({"id": "sample-utm", "params": {"utm_source": "gharart-edge"}})),
            201,
            "",
        ),
        RouteId::MintPreviewToken | RouteId::MintSiteToken => (active, None, 201, ""),
        RouteId::MintEntitlement => (
            active,
            Some(json!({"access_level": "PAID", "subject": "member-1"})),
            201,
            "",
        ),
        RouteId::PutConfiguration => (
            active,
            Some(serde_json::to_value(gharart()).unwrap()),
            200,
            "",
        ),
        RouteId::CreateCampaign => (
            active,
            Some(json!({"id": "sample", "name": "Sample", "variants": [
                {"key": "a", "weight": 100, "destination": "https://www.gharart.com/a"}
            ]})),
            201,
            "",
        ),
        // The seeded campaigns are active and paused: nothing to activate.
        RouteId::TransitionCampaign(Transition::Activate) => {
            (active, None, 409, "invalid_transition")
        }
        RouteId::TransitionCampaign(Transition::Resume) => ("gulf-eid-teaser", None, 200, ""),
        RouteId::TransitionCampaign(Transition::Pause | Transition::Cancel) => {
            (active, None, 200, "")
        }
        RouteId::TestConversion => (active, Some(json!({"variant": "control"})), 201, ""),
        RouteId::GetPage | RouteId::PublicGetPage => (active, None, 404, "page_not_found"),
        RouteId::PutPage | RouteId::PublicPutPage => (
            active,
            Some(json!({"access_level": "FREE_WITH_LOGIN", "document": page_doc("Diwali")})),
            200,
            "",
        ),
        RouteId::PublishPage | RouteId::PublicPublishPage => {
            (active, None, 409, "nothing_to_publish")
        }
        // The ctx is checked before anything else.
        RouteId::Conversion => (active, Some(json!({"event": "signup"})), 400, "invalid_ctx"),
        RouteId::SupportReport => (
            active,
            Some(json!({"summary": "Blank page", "details": "The campaign page is blank."})),
            201,
            "",
        ),
        RouteId::PromoteCampaign => (active, Some(json!({"variant": "story"})), 200, ""),
        RouteId::ListChanges => (active, None, 200, ""),
        // The seeded world has no history yet.
        RouteId::GetChange | RouteId::RestoreChange => (active, None, 404, "version_not_found"),
    };
    let mut path = route
        .pattern
        .replace("{handle}", HANDLE)
        .replace("{domain}", "www.gharart.com")
        .replace("{ruleId}", "in-mobile")
        .replace("{campaignId}", campaign)
        .replace("{version}", "1");
    if route.id == RouteId::RoutePreview {
        path.push_str("?entry=festive");
    }
    Sample {
        path,
        body,
        status,
        code,
    }
}

impl World {
    /// Sends a route's sample request with `authorization`.
    pub(crate) fn send_sample(&self, route: &Route, authorization: Option<&str>) -> Res {
        let sample = sample(route);
        let mut req = self.req(route.method, &sample.path);
        if let Some(header) = authorization {
            req = req.authorization(header);
        }
        if let Some(body) = sample.body {
            req = req.json(body);
        }
        req.send()
    }
}
