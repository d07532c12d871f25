//! `.../destination-domains`: list, add, verify (a TXT lookup), decide.

use crate::api::auth::Scope;
use crate::api::body;
use crate::api::context::{Ctx, Reply};
use crate::api::documents::{current, load, mutate, Edit};
use crate::api::domains::{
    self, add_domain, decide_domain, domain_mut, domain_view, record_verification, txt_record_name,
    AddDomain, DecideDomain,
};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::replies::{DomainList, DomainWriteResult, VerifyCheck, VerifyResult};
use crate::api::store::{Resolver, Store};
use crate::api::trust::verification_token;

pub(super) async fn list<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let (current, _) = current(cx.store, handle).await?;
    let threshold = current.config.risk_threshold;
    let domains: Vec<_> = current
        .config
        .domains
        .iter()
        .map(|d| domain_view(d, threshold))
        .collect();
    let list = DomainList {
        handle: handle.to_owned(),
        version: current.version,
        risk_threshold: threshold,
        domains,
    };
    Reply::of(200, &list)
}

pub(super) async fn add<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let request: AddDomain = body::parse(body, cx.settings.max_body_bytes)?;
    // A risk score is the worker's own scoring, or an admin's call: not a field any
    // writer may set.
    if request.risk_score.is_some() && !cx.principal.allows(Scope::DomainsAdmin) {
        return Err(ApiError::InsufficientScope(Scope::DomainsAdmin.as_str()));
    }
    let token = verification_token(&cx.random, &request.domain);
    let done = mutate(cx, handle, |c| {
        Ok(Edit::whole(add_domain(c, request.clone(), token.clone())?))
    })
    .await?;
    let domain = domains::view_of(&done.config, &done.value)?;
    Reply::of(
        201,
        &DomainWriteResult {
            version: done.version,
            domain,
        },
    )
}

pub(super) async fn verify<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    raw: &str,
) -> Result<Reply, ApiError> {
    let loaded = load(cx.store, handle).await?;
    let name = domains::view_of(&loaded.config, raw)?.doc.domain;
    let record = txt_record_name(&name);
    let records = cx.resolver.txt(&record).await.map_err(|e| {
        (cx.log)(&format!("DoH lookup of {record} failed: {e}"));
        ApiError::Unavailable {
            code: ErrorCode::ResolverUnavailable,
            message: "the DNS resolver is unavailable or answered garbage; verification unchanged, retry later".into(),
        }
    })?;
    let now = cx.now_text();
    let done = mutate(cx, handle, |c| {
        let doc = domain_mut(c, &name)?;
        Ok(Edit::whole(record_verification(doc, &records, &now)))
    })
    .await?;
    let result = VerifyResult {
        version: done.version,
        domain: domains::view_of(&done.config, &name)?,
        check: VerifyCheck {
            record,
            found: records,
            matched: done.value,
        },
    };
    Reply::of(200, &result)
}

pub(super) async fn decide<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    raw: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let request: DecideDomain = body::parse(body, cx.settings.max_body_bytes)?;
    let (by, at) = (cx.principal.sub.clone(), cx.now_text());
    let done = mutate(cx, handle, |c| {
        let doc = domain_mut(c, raw)?;
        decide_domain(doc, request.clone(), &by, &at)?;
        Ok(Edit::whole(doc.domain.clone()))
    })
    .await?;
    let domain = domains::view_of(&done.config, &done.value)?;
    Reply::of(
        200,
        &DomainWriteResult {
            version: done.version,
            domain,
        },
    )
}
