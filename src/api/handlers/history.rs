//! `.../changes`: the change history of the configuration, one entry, and restoring a
//! version (see [`crate::api::history`] for the decisions).

use crate::api::auth::Scope;
use crate::api::context::{Ctx, Reply};
use crate::api::documents::{load, mutate_restoring, Edit};
use crate::api::error::{ApiError, Missing};
use crate::api::history::{
    already_current, change_view, parse_version, stored_config, wants_configuration, Page,
};
use crate::api::replies::{ChangeDetail, ChangeList, RestoreResult};
use crate::api::store::{Resolver, Store, StoredChange};
use crate::api::trust::replace_keeping_trust;

pub(super) async fn list<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    query: &[(String, String)],
) -> Result<Reply, ApiError> {
    let page = Page::parse(query)?;
    let current = load(cx.store, handle).await?;
    // One more than asked: whether an older page exists.
    let mut rows = cx
        .store
        .history(handle, page.before, page.limit.saturating_add(1))
        .await?;
    let more = rows.len() > page.limit;
    rows.truncate(page.limit);
    let next_before = rows.last().map(|c| c.version).filter(|_| more);
    let changes = rows
        .into_iter()
        .map(|c| change_view(c, false))
        .collect::<Result<Vec<_>, _>>()?;
    Reply::of(
        200,
        &ChangeList {
            handle: handle.to_owned(),
            version: current.version,
            changes,
            next_before,
        },
    )
}

/// The history entry of `version`.
async fn entry<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    raw: &str,
) -> Result<StoredChange, ApiError> {
    let version = parse_version(raw)?;
    cx.store
        .change(handle, version)
        .await?
        .ok_or_else(|| ApiError::not_found(Missing::Version, version.to_string()))
}

pub(super) async fn get<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    version: &str,
    query: &[(String, String)],
) -> Result<Reply, ApiError> {
    let with_configuration = wants_configuration(query)?;
    if with_configuration && !cx.principal.allows(Scope::Admin) {
        return Err(ApiError::InsufficientScope(Scope::Admin.as_str()));
    }
    let current = load(cx.store, handle).await?;
    let change = entry(cx, handle, version).await?;
    let configuration = match with_configuration {
        true => Some(stored_config(&change)?),
        false => None,
    };
    Reply::of(
        200,
        &ChangeDetail {
            handle: handle.to_owned(),
            current_version: current.version,
            change: change_view(change, true)?,
            configuration,
        },
    )
}

pub(super) async fn restore<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    version: &str,
) -> Result<Reply, ApiError> {
    let change = entry(cx, handle, version).await?;
    let restored = change.version;
    let old = stored_config(&change)?;
    let done = mutate_restoring(cx, handle, restored, |c, current| {
        if current == restored {
            return Err(already_current(restored));
        }
        // The old configuration by name only: the trust state stays what it is now.
        let mut next = old.clone();
        next.handle = c.handle.clone();
        let ignored = replace_keeping_trust(c, next, &cx.random);
        Ok(Edit::body(ignored))
    })
    .await?;
    let mut warnings = done.value;
    warnings.extend(done.compiled.warnings);
    Reply::of(
        200,
        &RestoreResult {
            version: done.version,
            restored_from: restored,
            warnings,
        },
    )
}
