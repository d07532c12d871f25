//! The exposure queue's consumer, as a policy over the [`Store`]: what to do with each
//! message of a batch ([`consume`]), and the batch the store writes in one transaction
//! ([`ExposureBatch`]). The edge (`src/edge/queue.rs`) only reads the bodies, applies
//! the verdicts (ack, retry, dead-letter) and logs.
//!
//! Decisions:
//! - **A redelivered batch never counts twice.** First exposures are keyed by (handle,
//!   campaign, visitor): inserting one that exists changes nothing. Visits are counted
//!   only for visit ids (the `id` of each message, the visit's request id) not seen
//!   before; the ids seen are kept for [`DEFAULT_DEDUPE_SECONDS`] (the queue's default
//!   retention, after which no redelivery can come) and then swept. The counts, the
//!   first exposures and the ids are written in one transaction, so a batch counts
//!   entirely or not at all. (Queues deliver at least once; Cloudflare's advice is
//!   exactly this: a unique id per message as the key of the write.)
//! - **Within a batch**, a visit id is counted once, and a visitor's first exposure is
//!   the earliest of theirs (ties: the first in the batch). Across batches the first to
//!   land wins: a variant only differs if the weights changed between the two visits.
//! - **Visit counts** are per variant and UTC day of the visit; **exposed visitors** are
//!   counted on the day of their first exposure. Results sum the days.
//! - **Poison** (a message that is not a version-1 exposure, see
//!   [`crate::visit::exposure::Poison`]) is dead-lettered at once, never retried: no
//!   retry can make it parse. The edge sends it to the dead-letter queue and acks it;
//!   if that send fails, it is retried, and the queue's `max_retries` puts it in the
//!   dead-letter queue all the same.
//! - **Storage failures** retry every valid message of the batch (with a delay); after
//!   `max_retries` the queue moves them to the dead-letter queue, from where an operator
//!   can replay them (a replay counts nothing twice).

use super::store::{Store, StoreError};
use crate::analysis::results::ExposureRow;
use crate::visit::exposure::{Exposure, Poison};

/// How long visit ids are remembered to recognise a redelivery or a replay: 4 days, the
/// default retention of the queues, so a dead-letter replay counts once for as long as the
/// dead-letter queue keeps its messages (`EXPOSURE_DEDUPE_SECONDS` on the edge; a shorter
/// window holds less in D1 but must still outlast every redelivery and replay).
pub const DEFAULT_DEDUPE_SECONDS: i64 = 4 * 24 * 3600;

/// What the store writes for one batch, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExposureBatch {
    /// Every visit once (by visit id), each counted unless its id was seen before.
    pub visits: Vec<Exposure>,
    /// The earliest exposure of each (handle, campaign, visitor) in the batch, recorded
    /// as the first exposure unless the visitor has one.
    pub first: Vec<Exposure>,
}

impl ExposureBatch {
    /// The batch of some exposures: visits deduplicated by id, first exposures by
    /// visitor (earliest first).
    pub fn of(exposures: &[Exposure]) -> ExposureBatch {
        let mut batch = ExposureBatch::default();
        for e in exposures {
            if !batch.visits.iter().any(|v| v.id == e.id) {
                batch.visits.push(e.clone());
            }
            let same = |f: &&mut Exposure| {
                f.handle == e.handle && f.campaign == e.campaign && f.visitor_id == e.visitor_id
            };
            match batch.first.iter_mut().find(same) {
                Some(first) if e.at < first.at => *first = e.clone(),
                Some(_) => {}
                None => batch.first.push(e.clone()),
            }
        }
        batch
    }
}

/// The UTC day of a time in Unix milliseconds, `YYYY-MM-DD` (the epoch's for a time out
/// of range).
pub fn day_of(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .date_naive()
        .to_string()
}

/// A campaign's exposure counts as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExposureTotals {
    /// Exposed visitors and visits per variant (the days summed).
    pub rows: Vec<ExposureRow>,
    /// When the last batch with exposures of the campaign landed (Unix milliseconds).
    pub landed_at: Option<i64>,
}

/// What a batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Visits counted now (not seen before).
    pub visits: u64,
    /// Visitors whose first exposure was recorded now.
    pub visitors: u64,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Written (or written before): acknowledge.
    Ack,
    /// Storage failed: deliver again later.
    Retry,
    /// Not an exposure: to the dead-letter queue, never retried.
    DeadLetter(Poison),
}

/// The verdicts of a batch, in message order, and what it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// One per message.
    pub verdicts: Vec<Verdict>,
    /// What was written (`None`: nothing to write, or the write failed).
    pub recorded: Option<Recorded>,
    /// Why the write failed, for the log.
    pub failure: Option<StoreError>,
}

impl Consumed {
    /// How many messages got this kind of verdict.
    pub fn count(&self, kind: fn(&Verdict) -> bool) -> usize {
        self.verdicts.iter().filter(|v| kind(v)).count()
    }
}

/// Consumes one delivered batch: `bodies` are the messages' text (`None` for a body
/// that is neither text nor JSON). `now_ms` is when it lands; visit ids seen more than
/// `dedupe_seconds` ago are forgotten.
pub async fn consume<S: Store>(
    store: &S,
    bodies: &[Option<&str>],
    now_ms: i64,
    dedupe_seconds: i64,
) -> Consumed {
    let parsed: Vec<Result<Exposure, Poison>> = bodies
        .iter()
        .map(|body| match body {
            Some(text) => Exposure::parse(text),
            None => Err(Poison::NotJson("the body is neither text nor JSON".into())),
        })
        .collect();
    let valid: Vec<Exposure> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .cloned()
        .collect();
    let (recorded, failure) = if valid.is_empty() {
        (None, None)
    } else {
        let forget_before = now_ms.saturating_sub(dedupe_seconds.saturating_mul(1000));
        match store
            .record_exposures(&ExposureBatch::of(&valid), now_ms, forget_before)
            .await
        {
            Ok(recorded) => (Some(recorded), None),
            Err(e) => (None, Some(e)),
        }
    };
    let verdicts = parsed
        .into_iter()
        .map(|p| match p {
            Ok(_) if failure.is_some() => Verdict::Retry,
            Ok(_) => Verdict::Ack,
            Err(poison) => Verdict::DeadLetter(poison),
        })
        .collect();
    Consumed {
        verdicts,
        recorded,
        failure,
    }
}

#[cfg(test)]
mod tests;
