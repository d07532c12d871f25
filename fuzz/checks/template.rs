//! Tracking templates: arbitrary parameter names, values with placeholders, destinations
//! and visitor parameters. Rendering only ever changes the query.

use std::collections::BTreeMap;

use edge_router::engine::template::{render, RenderValues, Template};
use edge_router::model::config::{ParamSource, TemplateDoc};

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1e}');
    let destination = parts.next().unwrap_or_default();
    let Ok(url) = url::Url::parse(destination) else {
        return;
    };
    let mut params = BTreeMap::new();
    let mut visitor = Vec::new();
    for (i, part) in parts.enumerate() {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        if i % 2 == 0 {
            params.insert(name.to_owned(), value.to_owned());
        } else {
            visitor.push((name.to_owned(), value.to_owned()));
        }
    }
    let precedence = match data.len() % 3 {
        0 => None,
        1 => Some(vec![
            ParamSource::Visitor,
            ParamSource::Destination,
            ParamSource::Template,
        ]),
        _ => Some(vec![ParamSource::Template, ParamSource::Destination]),
    };
    let doc = TemplateDoc {
        id: "t".into(),
        params,
        precedence,
    };
    let template = Template::compile(&doc).ok();
    let values = RenderValues {
        handle: "h",
        entry: "e",
        rule: Some("r"),
        campaign: Some("c"),
        variant: Some("v"),
        country: Some("IN"),
        device: Some("mobile"),
        ctx: Some("v1.a.b"),
    };
    // The names that hold {ctx} in this template, plus one no template of the handle
    // computes here but another would: neither ever carries a visitor's value.
    let mut ctx_names: Vec<String> = template
        .iter()
        .flat_map(|t| t.ctx_params().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    ctx_names.push("gh_ctx".to_owned());
    let out = render(&url, template.as_ref(), &visitor, &values, &ctx_names);
    for (name, value) in out.query_pairs() {
        if ctx_names.iter().any(|n| *n == name) {
            assert!(
                value.contains("v1.a.b"),
                "{name}={value}: a ctx parameter carries the router's token or nothing"
            );
        }
    }
    assert_eq!(out.scheme(), url.scheme());
    assert_eq!(out.host_str(), url.host_str());
    assert_eq!(out.port(), url.port());
    assert_eq!(out.path(), url.path());
    assert!(!out.as_str().contains(['\r', '\n']));
}
