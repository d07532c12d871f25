//! The change history of a [`super::MemoryStore`]: what the D1 batch does, on the tables.

use super::Tables;
use crate::api::store::{ChangeWrite, DocumentWrite, StoredChange};

impl Tables {
    /// Stores a write's history entry (and its baseline) and applies the retention, as the
    /// D1 batch does.
    pub(super) fn record(&mut self, write: &DocumentWrite<'_>, change: &ChangeWrite<'_>) {
        let changes = &mut self.changes;
        let handle = write.handle.to_owned();
        if let Some(baseline) = change.baseline {
            changes
                .entry((handle.clone(), change.version_before))
                .or_insert_with(|| StoredChange {
                    version: change.version_before,
                    version_before: None,
                    at: write.at.to_owned(),
                    subject: write.by.to_owned(),
                    route: None,
                    request_id: None,
                    restored_from: None,
                    diff: None,
                    config: Some(baseline.to_owned()),
                });
        }
        changes.insert(
            (handle.clone(), write.version),
            StoredChange {
                version: write.version,
                version_before: Some(change.version_before),
                at: write.at.to_owned(),
                subject: write.by.to_owned(),
                route: Some(change.route.to_owned()),
                request_id: Some(change.request_id.to_owned()),
                restored_from: change.restored_from,
                diff: Some(change.diff.to_owned()),
                config: Some(write.config.to_owned()),
            },
        );
        changes.retain(|(h, version), _| *h != handle || *version >= change.keep_from);
    }

    /// Entries of `handle` below `before`, newest first, without configurations.
    pub(super) fn history(
        &self,
        handle: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Vec<StoredChange> {
        let end = before.unwrap_or(u64::MAX);
        self.changes
            .range((handle.to_owned(), 0)..(handle.to_owned(), end))
            .rev()
            .take(limit)
            .map(|(_, change)| StoredChange {
                config: None,
                ..change.clone()
            })
            .collect()
    }
}
