//! `.../personalization-rules` and `.../tracking-templates`.

use serde_json::{json, Value};

use crate::api::body;
use crate::api::context::{to_json, Ctx, Reply};
use crate::api::documents::{current, load, mutate};
use crate::api::error::ApiError;
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
    Ok(Reply::ok(json!({
        "handle": handle, "version": current.version,
        "entries": to_json(&current.config.entries)?,
        "rules": to_json(&rule_views(&current.config, &compiled))?,
    })))
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
    Ok(Reply::new(
        if done.value { 201 } else { 200 },
        json!({ "version": done.version, "created": done.value, "rule": to_json(&rule)? }),
    ))
}

pub(super) async fn delete<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let done = mutate(cx, handle, |c| Ok(delete_rule(c, id)?)).await?;
    Ok(Reply::ok(json!({ "version": done.version, "deleted": id })))
}

pub(super) async fn list_templates<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    Ok(Reply::ok(json!({
        "handle": handle, "version": current.version,
        "default_template": current.config.default_template,
        "templates": to_json(&current.config.templates)?,
    })))
}

pub(super) async fn put_template<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let template: TemplateDoc = body::parse(body, cx.settings.max_body_bytes)?;
    let id = template.id.clone();
    let done = mutate(cx, handle, |c| Ok(template_edit(c, template.clone()))).await?;
    let stored = done.config.templates.iter().find(|t| t.id == id);
    Ok(Reply::new(
        if done.value { 201 } else { 200 },
        json!({ "version": done.version, "created": done.value, "template": to_json(&stored)? }),
    ))
}
