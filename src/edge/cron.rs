//! The Cron Trigger (`[triggers] crons` in wrangler.toml): the scheduled re-check of
//! destination domains ([`crate::api::reverify`]) over D1/KV and DNS-over-HTTPS. It logs
//! what it did; `wrangler tail` shows it.

use chrono::{DateTime, Duration, Utc};
use worker::{event, Env, ScheduleContext, ScheduledEvent};

use super::d1::D1Store;
use super::doh::DohResolver;
use super::settings;
use crate::api::reverify;

/// Runs the scheduled re-verification.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let settings = settings::get(&env);
    let (db, kv) = match (env.d1("DB"), env.kv("CONFIG")) {
        (Ok(db), Ok(kv)) => (db, kv),
        _ => {
            worker::console_error!("re-verification: the DB or CONFIG binding is missing");
            return;
        }
    };
    let store = D1Store { db, kv };
    let resolver = DohResolver {
        url: &settings.doh_resolver,
    };
    let now = DateTime::<Utc>::from_timestamp_millis(event.schedule() as i64).unwrap_or_default();
    let interval = Duration::seconds(settings.reverify_interval_seconds);
    let log = |line: &str| worker::console_log!("{line}");
    let report = reverify::run(&store, &resolver, &settings.api, now, interval, &log).await;
    worker::console_log!(
        "re-verification ({}): {} checked, {} lost their proof {:?}, {} unanswered, {} handles failed",
        event.cron(),
        report.checked,
        report.lost.len(),
        report.lost,
        report.unanswered.len(),
        report.failed_handles.len()
    );
}
