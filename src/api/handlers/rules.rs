//! `.../personalization-rules` and `.../tracking-templates`.

use serde_json::Value;

use crate::api::body;
use crate::api::context::{Ctx, Reply};
use crate::api::documents::{current, load, mutate};
use crate::api::error::ApiError;
use crate::api::replies::{
    RuleDeleteResult, RuleList, RuleWriteResult, TemplateList, TemplateWriteResult,
};
use crate::api::rules::{
    delete_rule, put_rule, put_template as template_edit, rule_view, rule_views,
};
use crate::api::store::{Resolver, Store};
use crate::model::config::TemplateDoc;

pub(super) async fn list<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let (current, compiled) = current(cx.store, handle).await?;
    let list = RuleList {
        handle: handle.to_owned(),
        version: current.version,
        rules: rule_views(&current.config, &compiled),
        entries: current.config.entries,
    };
    Reply::of(200, &list)
}

pub(super) async fn put<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let value: Value = body::parse(body, cx.settings.max_body_bytes)?;
    let done = mutate(cx, handle, |c| Ok(put_rule(c, id, value.clone())?)).await?;
    let rule = done
        .config
        .rules
        .iter()
        .find(|r| r.id == id)
        .map(|r| rule_view(r, &done.compiled.warnings));
    let result = RuleWriteResult {
        version: done.version,
        created: done.value,
        rule,
    };
    Reply::of(if done.value { 201 } else { 200 }, &result)
}

pub(super) async fn delete<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let done = mutate(cx, handle, |c| Ok(delete_rule(c, id)?)).await?;
    Reply::of(
        200,
        &RuleDeleteResult {
            version: done.version,
            deleted: id.to_owned(),
        },
    )
}

pub(super) async fn list_templates<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    let list = TemplateList {
        handle: handle.to_owned(),
        version: current.version,
        default_template: current.config.default_template,
        templates: current.config.templates,
    };
    Reply::of(200, &list)
}

pub(super) async fn put_template<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let template: TemplateDoc = body::parse(body, cx.settings.max_body_bytes)?;
    let id = template.id.clone();
    let done = mutate(cx, handle, |c| Ok(template_edit(c, template.clone()))).await?;
    let result = TemplateWriteResult {
        version: done.version,
        created: done.value,
        template: done.config.templates.into_iter().find(|t| t.id == id),
    };
    Reply::of(if done.value { 201 } else { 200 }, &result)
}
