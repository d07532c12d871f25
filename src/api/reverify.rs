//! The scheduled re-check of destination domains (a Cron Trigger runs it; see
//! `src/edge/cron.rs`). A verified domain whose TXT proof was last checked longer ago
//! than the interval is looked up again: a proof that is gone makes it `failed`, with why
//! and when, so the router stops sending visitors there within the snapshot TTL; a
//! resolver error changes nothing and is logged. Each handle with a change is written
//! once, through the same compare-and-swap and publish as any API write, by the subject
//! `cron`, and recorded in the change history with the route `cron`.

use chrono::{DateTime, Duration, Utc};

use super::auth::{AuthKind, Principal};
use super::context::{ApiSettings, Ctx};
use super::documents::{load, mutate, Edit};
use super::domains::{domain_mut, record_verification, txt_record_name};
use super::store::{Resolver, Store};
use crate::model::config::{DomainDoc, Verification};
use crate::model::lifecycle::parse_date;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Domains looked up.
    pub checked: usize,
    /// Domains whose proof was gone (now failed), as `handle/domain`.
    pub lost: Vec<String>,
    /// Lookups the resolver could not answer (nothing changed), as `handle/domain`.
    pub unanswered: Vec<String>,
    /// Handles that could not be read or written.
    pub failed_handles: Vec<String>,
}

/// Whether a domain is due for a re-check at `now`.
pub fn due(doc: &DomainDoc, now: DateTime<Utc>, interval: Duration) -> bool {
    doc.verification == Verification::Verified
        && parse_date(doc.checked_at.as_deref().or(doc.verified_at.as_deref()))
            .is_none_or(|last| now - last >= interval)
}

/// Re-checks every due domain of every handle.
pub async fn run<S: Store, R: Resolver>(
    store: &S,
    resolver: &R,
    settings: &ApiSettings,
    now: DateTime<Utc>,
    interval: Duration,
    log: &dyn Fn(&str),
) -> Report {
    let mut report = Report::default();
    let handles = match store.handles().await {
        Ok(handles) => handles,
        Err(e) => {
            log(&format!("re-verification: cannot list handles: {e}"));
            return report;
        }
    };
    for handle in handles {
        if let Err(e) = run_handle(
            store,
            resolver,
            settings,
            now,
            interval,
            log,
            &handle,
            &mut report,
        )
        .await
        {
            log(&format!("re-verification of {handle} failed: {e}"));
            report.failed_handles.push(handle);
        }
    }
    report
}

#[allow(clippy::too_many_arguments)] // one handle's run, with the run's context
async fn run_handle<S: Store, R: Resolver>(
    store: &S,
    resolver: &R,
    settings: &ApiSettings,
    now: DateTime<Utc>,
    interval: Duration,
    log: &dyn Fn(&str),
    handle: &str,
    report: &mut Report,
) -> Result<(), super::error::ApiError> {
    let current = load(store, handle).await?;
    let mut results: Vec<(String, Vec<String>)> = Vec::new();
    for doc in current
        .config
        .domains
        .iter()
        .filter(|d| due(d, now, interval))
    {
        let record = txt_record_name(&doc.domain);
        report.checked += 1;
        match resolver.txt(&record).await {
            Ok(records) => results.push((doc.domain.clone(), records)),
            Err(e) => {
                log(&format!(
                    "re-verification of {handle}/{}: {e}; unchanged",
                    doc.domain
                ));
                report.unanswered.push(format!("{handle}/{}", doc.domain));
            }
        }
    }
    if results.is_empty() {
        return Ok(());
    }
    let request_id = format!("cron-{}", now.timestamp());
    let cx = Ctx {
        store,
        resolver,
        settings,
        principal: Principal {
            sub: "cron".into(),
            handle: handle.to_owned(),
            scopes: Vec::new(),
            kind: AuthKind::System,
        },
        now,
        request_id: &request_id,
        route: "cron",
        client: "",
        idempotency_key: None,
        authorization: None,
        random: [0; 16],
        log,
    };
    let at = cx.now_text();
    let done = mutate(&cx, handle, |config| {
        let mut lost = Vec::new();
        for (domain, records) in &results {
            // Only a domain still verified is re-judged (a concurrent write may have
            // changed it since the lookup).
            let Ok(doc) = domain_mut(config, domain) else {
                continue;
            };
            if doc.verification == Verification::Verified && !record_verification(doc, records, &at)
            {
                lost.push(format!("{handle}/{domain}"));
            }
        }
        Ok(Edit::whole(lost))
    })
    .await?;
    for lost in &done.value {
        log(&format!(
            "re-verification: {lost} lost its TXT proof; it is no longer routable"
        ));
    }
    report.lost.extend(done.value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(verification: Verification, checked: Option<&str>) -> DomainDoc {
        DomainDoc {
            domain: "d.example".into(),
            verification,
            token: Some("t".into()),
            risk_score: None,
            decision: None,
            verified_at: Some("2026-11-01T00:00:00Z".into()),
            checked_at: checked.map(str::to_owned),
            failure: None,
        }
    }

    #[test]
    fn only_verified_domains_checked_longer_ago_than_the_interval_are_due() {
        let now: DateTime<Utc> = "2026-11-29T12:00:00Z".parse().unwrap();
        let six_hours = Duration::hours(6);
        assert!(
            due(&doc(Verification::Verified, None), now, six_hours),
            "never re-checked: the verification time counts"
        );
        assert!(due(
            &doc(Verification::Verified, Some("2026-11-29T05:59:59Z")),
            now,
            six_hours
        ));
        assert!(!due(
            &doc(Verification::Verified, Some("2026-11-29T06:00:01Z")),
            now,
            six_hours
        ));
        assert!(!due(&doc(Verification::Failed, None), now, six_hours));
        assert!(!due(&doc(Verification::Pending, None), now, six_hours));
    }
}
