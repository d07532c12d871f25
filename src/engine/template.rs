//! Tracking templates: query parameters added to a destination, with placeholders, and an
//! explicit precedence between the three sources of parameters.
//!
//! Placeholders: `{handle} {entry} {rule} {campaign} {variant} {country} {device} {ctx}`.
//! A parameter whose value uses a placeholder that has no value for this visit (no
//! campaign, unknown country, no ctx token) is left out rather than sent empty.
//!
//! Precedence: for each parameter *name*, the first source in the template's precedence
//! list that has it supplies all its values (the template "has" every name it declares,
//! even one left out for want of a value, so a visitor cannot fill in `gh_variant`); the default is
//! `destination, template, visitor`: the route's own parameters are never changed, the
//! marketer's tags come next, and visitor parameters only fill names nobody else set. A
//! list without `visitor` forwards no visitor parameters.
//!
//! A parameter name that holds `{ctx}` in *any* of the handle's templates (the
//! `ctx_names` [`render`] is given) is always the router's, whatever the applied template
//! and its precedence: it carries the ctx token the router issued for this visit, or
//! nothing. It is never taken from the visitor or the destination, also under a
//! visitor-first template that does not use `{ctx}` itself (issue 10: a genuine token
//! planted beside `utm_source=whatsapp` used to be forwarded as is).
//!
//! Output order: kept destination parameters (their own order), then template parameters
//! (by name), then visitor parameters (their own order).

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::config::{ParamSource, TemplateDoc};

/// The default precedence.
pub const DEFAULT_PRECEDENCE: [ParamSource; 3] = [
    ParamSource::Destination,
    ParamSource::Template,
    ParamSource::Visitor,
];

/// A placeholder name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placeholder {
    /// The handle.
    Handle,
    /// The entry slug.
    Entry,
    /// The winning rule's id.
    Rule,
    /// The campaign id.
    Campaign,
    /// The assigned variant key.
    Variant,
    /// The visitor's country code.
    Country,
    /// The visitor's device category.
    Device,
    /// The signed ctx token.
    Ctx,
}

impl Placeholder {
    const ALL: [(&'static str, Placeholder); 8] = [
        ("handle", Self::Handle),
        ("entry", Self::Entry),
        ("rule", Self::Rule),
        ("campaign", Self::Campaign),
        ("variant", Self::Variant),
        ("country", Self::Country),
        ("device", Self::Device),
        ("ctx", Self::Ctx),
    ];

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

/// Why a template value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `{name}` where name is not a known placeholder.
    UnknownPlaceholder(String),
    /// A `{` without its `}`, or a `}` without its `{`.
    Unbalanced,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownPlaceholder(name) => write!(
                f,
                "unknown placeholder {{{name}}}; known: {{handle}} {{entry}} {{rule}} {{campaign}} {{variant}} {{country}} {{device}} {{ctx}}"
            ),
            Self::Unbalanced => f.write_str("unbalanced braces: placeholders are written {name}"),
        }
    }
}

impl std::error::Error for TemplateError {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Piece {
    Text(String),
    Hole(Placeholder),
}

/// Parses a template value into text and placeholders.
fn parse_value(value: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        match (rest.find('{'), rest.find('}')) {
            (None, None) => {
                pieces.push(Piece::Text(rest.to_owned()));
                break;
            }
            (Some(open), Some(close)) if open < close => {
                if open > 0 {
                    pieces.push(Piece::Text(rest[..open].to_owned()));
                }
                let name = &rest[open + 1..close];
                let hole = Placeholder::parse(name)
                    .ok_or_else(|| TemplateError::UnknownPlaceholder(name.to_owned()))?;
                pieces.push(Piece::Hole(hole));
                rest = &rest[close + 1..];
            }
            _ => return Err(TemplateError::Unbalanced),
        }
    }
    Ok(pieces)
}

/// Checks a template value: the API and compile report these errors with their path.
///
/// # Errors
/// [`TemplateError`] for an unknown placeholder or unbalanced braces.
pub fn check_value(value: &str) -> Result<(), TemplateError> {
    parse_value(value).map(|_| ())
}

/// A compiled tracking template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    id: String,
    params: Vec<(String, Vec<Piece>)>,
    precedence: Vec<ParamSource>,
}

/// The values placeholders take for one visit.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderValues<'a> {
    /// Handle.
    pub handle: &'a str,
    /// Entry slug.
    pub entry: &'a str,
    /// Winning rule, if a rule won.
    pub rule: Option<&'a str>,
    /// Campaign, when a variant was assigned.
    pub campaign: Option<&'a str>,
    /// Variant key, when assigned.
    pub variant: Option<&'a str>,
    /// Country code, when known.
    pub country: Option<&'a str>,
    /// Device category.
    pub device: Option<&'a str>,
    /// Signed ctx token, when one is issued.
    pub ctx: Option<&'a str>,
}

impl RenderValues<'_> {
    fn get(&self, hole: Placeholder) -> Option<&str> {
        let value = match hole {
            Placeholder::Handle => Some(self.handle),
            Placeholder::Entry => Some(self.entry),
            Placeholder::Rule => self.rule,
            Placeholder::Campaign => self.campaign,
            Placeholder::Variant => self.variant,
            Placeholder::Country => self.country,
            Placeholder::Device => self.device,
            Placeholder::Ctx => self.ctx,
        };
        value.filter(|v| !v.is_empty())
    }
}

impl Template {
    /// Compiles a template document.
    ///
    /// # Errors
    /// The first [`TemplateError`] among its values, with the parameter name.
    pub fn compile(doc: &TemplateDoc) -> Result<Self, (String, TemplateError)> {
        let mut params = Vec::with_capacity(doc.params.len());
        for (name, value) in &doc.params {
            let pieces = parse_value(value).map_err(|e| (name.clone(), e))?;
            params.push((name.clone(), pieces));
        }
        let precedence = doc
            .precedence
            .clone()
            .unwrap_or_else(|| DEFAULT_PRECEDENCE.to_vec());
        Ok(Template {
            id: doc.id.clone(),
            params,
            precedence,
        })
    }

    /// The template's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the template sets a parameter of this name.
    pub fn sets_param(&self, name: &str) -> bool {
        self.params.iter().any(|(n, _)| n == name)
    }

    /// Names of the parameters whose values hold a placeholder (computed by the router).
    pub fn computed_params(&self) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(|(_, pieces)| pieces.iter().any(|p| matches!(p, Piece::Hole(_))))
            .map(|(name, _)| name.as_str())
    }

    /// Whether the precedence ranks the visitor's parameters before the template's.
    pub fn lets_visitor_win(&self) -> bool {
        let rank = |source| self.precedence.iter().position(|s| *s == source);
        matches!((rank(ParamSource::Visitor), rank(ParamSource::Template)), (Some(v), Some(t)) if v < t)
    }

    /// Whether any parameter carries the ctx token.
    pub fn uses_ctx(&self) -> bool {
        self.params
            .iter()
            .any(|(_, pieces)| pieces.contains(&Piece::Hole(Placeholder::Ctx)))
    }

    fn render_params(&self, values: &RenderValues<'_>) -> Vec<(String, String)> {
        self.params
            .iter()
            .filter_map(|(name, pieces)| {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => out.push_str(text),
                        Piece::Hole(hole) => out.push_str(values.get(*hole)?),
                    }
                }
                Some((name.clone(), out))
            })
            .collect()
    }

    /// Names of the parameters whose values hold `{ctx}` (the router's, in every source).
    pub fn ctx_params(&self) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(|(_, pieces)| pieces.contains(&Piece::Hole(Placeholder::Ctx)))
            .map(|(name, _)| name.as_str())
    }
}

/// Builds the final location: the destination with its own, the template's and the
/// visitor's parameters merged by precedence. Only the query changes; scheme, host and
/// path are the destination's, so the result is exactly as routable as the destination.
///
/// `ctx_names` are the names that hold `{ctx}` in any of the handle's templates: in the
/// result they carry the applied template's rendering of the issued token or are left
/// out, whatever the precedence says (the applied template's own `{ctx}` names count
/// too, given or not).
///
/// A destination with an opaque path (`mailto:x`, `t:x `: never routable, since routable
/// means https) is returned as it is: setting its query would also strip trailing spaces
/// from its path (WHATWG URL), so no parameter is added.
pub fn render(
    destination: &Url,
    template: Option<&Template>,
    visitor: &[(String, String)],
    values: &RenderValues<'_>,
    ctx_names: &[String],
) -> Url {
    if destination.cannot_be_a_base() {
        return destination.clone();
    }
    let own: Vec<(String, String)> = destination
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (mut rendered, precedence) = match template {
        Some(t) => (t.render_params(values), t.precedence.as_slice()),
        None => (Vec::new(), &DEFAULT_PRECEDENCE[..]),
    };
    // Names are few (at most 32 from the visitor, a template's and the destination's own):
    // small vectors scanned in order cost a visit less than hashing every name.
    let own_ctx: Vec<&str> = template
        .into_iter()
        .flat_map(Template::ctx_params)
        .collect();
    let is_locked = |name: &str| ctx_names.iter().any(|n| n == name) || own_ctx.contains(&name);
    // A ctx name carries the token or nothing: not a static value the applied template
    // happens to give the same name.
    rendered.retain(|(name, _)| !is_locked(name) || own_ctx.contains(&name.as_str()));
    let sources: [(ParamSource, &[(String, String)]); 3] = [
        (ParamSource::Destination, &own),
        (ParamSource::Template, &rendered),
        (ParamSource::Visitor, visitor),
    ];
    let mut owner = Owners::default();
    for name in ctx_names
        .iter()
        .map(String::as_str)
        .chain(own_ctx.iter().copied())
    {
        owner.claim(name, ParamSource::Template);
    }
    for wanted in precedence {
        if *wanted == ParamSource::Template {
            // The template claims every name it declares, rendered or not: a parameter
            // left out for want of a value is not refilled by a later source.
            for name in template
                .iter()
                .flat_map(|t| t.params.iter().map(|(name, _)| name.as_str()))
            {
                owner.claim(name, ParamSource::Template);
            }
        }
        for (source, pairs) in &sources {
            if source == wanted {
                for (name, _) in pairs.iter() {
                    owner.claim(name, *source);
                }
            }
        }
    }
    let mut kept: Vec<(&str, &str)> = Vec::new();
    for (source, pairs) in &sources {
        let owned = pairs
            .iter()
            .filter(|(name, _)| owner.of(name) == Some(*source));
        kept.extend(owned.map(|(k, v)| (k.as_str(), v.as_str())));
    }
    let mut url = destination.clone();
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    url
}

/// Which source owns each parameter name: the first claim wins.
#[derive(Default)]
struct Owners<'a>(Vec<(&'a str, ParamSource)>);

impl<'a> Owners<'a> {
    fn claim(&mut self, name: &'a str, source: ParamSource) {
        if self.of(name).is_none() {
            self.0.push((name, source));
        }
    }

    fn of(&self, name: &str) -> Option<ParamSource> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn template(params: &[(&str, &str)], precedence: Option<Vec<ParamSource>>) -> Template {
        let params: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Template::compile(&TemplateDoc {
            id: "t".into(),
            params,
            precedence,
        })
        .unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    /// Fuzzing found it (fuzz/corpus/template): on an opaque path, setting the query
    /// stripped the path's trailing space, so rendering changed more than the query.
    #[test]
    fn opaque_path_destinations_are_returned_unchanged() {
        let values = RenderValues {
            handle: "h",
            entry: "e",
            rule: Some("r"),
            campaign: None,
            variant: None,
            country: Some("IN"),
            device: Some("mobile"),
            ctx: None,
        };
        let t = template(&[("utm_source", "{handle}")], None);
        for raw in ["t0tl:s/:x ?TT", "mailto:someone@gharart.com ", "t:x "] {
            let url = Url::parse(raw).unwrap();
            assert!(url.cannot_be_a_base(), "{raw}");
            let out = render(&url, Some(&t), &pairs(&[("v", "1")]), &values, &[]);
            assert_eq!(out, url, "{raw}");
        }
        let https = Url::parse("https://www.gharart.com/festive").unwrap();
        let out = render(&https, Some(&t), &[], &values, &[]);
        assert_eq!(out.as_str(), "https://www.gharart.com/festive?utm_source=h");
    }

    fn values() -> RenderValues<'static> {
        RenderValues {
            handle: "gharart",
            entry: "festive",
            rule: Some("in-mobile"),
            campaign: Some("diwali-ab"),
            variant: Some("b"),
            country: Some("IN"),
            device: Some("mobile"),
            ctx: Some("v1.abc.def"),
        }
    }

    #[test]
    fn parses_placeholders() {
        assert_eq!(check_value("plain"), Ok(()));
        assert_eq!(check_value("{country}-{device}"), Ok(()));
        assert_eq!(
            check_value("{nope}"),
            Err(TemplateError::UnknownPlaceholder("nope".into()))
        );
        assert_eq!(check_value("{country"), Err(TemplateError::Unbalanced));
        assert_eq!(check_value("country}"), Err(TemplateError::Unbalanced));
        assert_eq!(check_value("}{country}"), Err(TemplateError::Unbalanced));
        assert_eq!(check_value(""), Ok(()));
    }

    #[test]
    fn default_precedence_keeps_destination_then_template_then_visitor() {
        let t = template(
            &[
                ("utm_source", "edge"),
                ("utm_content", "{country}-{device}"),
                ("page", "t"),
            ],
            None,
        );
        let dest = Url::parse("https://shop.example.com/in?page=d&x=1").unwrap();
        let visitor = pairs(&[
            ("utm_source", "instagram"),
            ("ref", "friend"),
            ("page", "v"),
        ]);
        let url = render(&dest, Some(&t), &visitor, &values(), &[]);
        assert_eq!(
            url.as_str(),
            "https://shop.example.com/in?page=d&x=1&utm_content=IN-mobile&utm_source=edge&ref=friend"
        );
    }

    #[test]
    fn visitor_first_precedence_lets_incoming_tags_win() {
        let precedence = vec![
            ParamSource::Visitor,
            ParamSource::Destination,
            ParamSource::Template,
        ];
        let t = template(&[("utm_source", "edge")], Some(precedence));
        let dest = Url::parse("https://shop.example.com/").unwrap();
        let url = render(
            &dest,
            Some(&t),
            &pairs(&[("utm_source", "instagram")]),
            &values(),
            &[],
        );
        assert_eq!(url.query(), Some("utm_source=instagram"));
    }

    #[test]
    fn without_visitor_in_precedence_nothing_is_forwarded() {
        let t = template(
            &[("a", "1")],
            Some(vec![ParamSource::Destination, ParamSource::Template]),
        );
        let dest = Url::parse("https://shop.example.com/").unwrap();
        let url = render(&dest, Some(&t), &pairs(&[("b", "2")]), &values(), &[]);
        assert_eq!(url.query(), Some("a=1"));
    }

    #[test]
    fn missing_placeholder_values_leave_the_parameter_out() {
        let t = template(
            &[
                ("v", "{variant}"),
                ("c", "{campaign}:{variant}"),
                ("s", "static"),
            ],
            None,
        );
        let dest = Url::parse("https://shop.example.com/").unwrap();
        let none = RenderValues {
            handle: "h",
            entry: "e",
            ..Default::default()
        };
        assert_eq!(
            render(&dest, Some(&t), &[], &none, &[]).query(),
            Some("s=static")
        );
    }

    /// Regression: a template parameter left out for want of a value (no variant) was
    /// refilled from the visitor's query, so `?gh_variant=story` planted a variant.
    #[test]
    fn declared_names_are_not_refilled_by_later_sources() {
        let t = template(&[("gh_variant", "{variant}"), ("utm_source", "edge")], None);
        let dest = Url::parse("https://shop.example.com/").unwrap();
        let visitor = pairs(&[("gh_variant", "story"), ("ref", "x")]);
        let none = RenderValues {
            handle: "h",
            entry: "e",
            ..Default::default()
        };
        assert_eq!(
            render(&dest, Some(&t), &visitor, &none, &[]).query(),
            Some("utm_source=edge&ref=x")
        );
    }

    #[test]
    fn ctx_is_always_the_routers() {
        let t = template(
            &[("gh_ctx", "{ctx}")],
            Some(vec![
                ParamSource::Visitor,
                ParamSource::Destination,
                ParamSource::Template,
            ]),
        );
        let dest = Url::parse("https://shop.example.com/?gh_ctx=dest").unwrap();
        let forged = pairs(&[("gh_ctx", "forged")]);
        let with = render(&dest, Some(&t), &forged, &values(), &[]);
        assert_eq!(with.query(), Some("gh_ctx=v1.abc.def"));
        let without = render(
            &dest,
            Some(&t),
            &forged,
            &RenderValues {
                ctx: None,
                ..values()
            },
            &[],
        );
        assert_eq!(
            without.query(),
            None,
            "no ctx issued: the name is dropped everywhere"
        );
    }

    /// Issue 10: under a visitor-first template that does not use `{ctx}` itself, a
    /// visitor's `gh_ctx` (a genuine token copied from someone else's redirect) was
    /// forwarded because only the applied template's ctx names were locked.
    #[test]
    fn ctx_names_of_other_templates_are_the_routers_too() {
        let visitor_first = Some(vec![
            ParamSource::Visitor,
            ParamSource::Destination,
            ParamSource::Template,
        ]);
        let t = template(&[("gh_rule", "{rule}")], visitor_first);
        let dest = Url::parse("https://shop.example.com/?gh_ctx=dest&d=1").unwrap();
        let planted = pairs(&[("gh_ctx", "v1.genuine.token"), ("utm_source", "whatsapp")]);
        let ctx_names = ["gh_ctx".to_owned()];
        for ctx in [None, Some("v1.abc.def")] {
            let values = RenderValues { ctx, ..values() };
            let url = render(&dest, Some(&t), &planted, &values, &ctx_names);
            assert_eq!(
                url.query(),
                Some("d=1&gh_rule=in-mobile&utm_source=whatsapp"),
                "the applied template computes no ctx: the name is left out ({ctx:?})"
            );
        }
        let before = render(&dest, Some(&t), &planted, &values(), &[]);
        assert!(
            before.query().unwrap_or_default().contains("gh_ctx"),
            "without the handle's ctx names the visitor's value wins: {before}"
        );
    }

    #[test]
    fn no_template_forwards_visitor_parameters_not_on_the_destination() {
        let dest = Url::parse("https://shop.example.com/p?a=1#top").unwrap();
        let url = render(
            &dest,
            None,
            &pairs(&[("a", "x"), ("b", "2")]),
            &values(),
            &[],
        );
        assert_eq!(url.as_str(), "https://shop.example.com/p?a=1&b=2#top");
    }

    #[test]
    fn hostile_values_are_encoded_not_injected() {
        let dest = Url::parse("https://shop.example.com/").unwrap();
        let url = render(
            &dest,
            None,
            &pairs(&[
                ("x", "a\r\nSet-Cookie: y=1"),
                ("r", "https://evil.example/"),
            ]),
            &values(),
            &[],
        );
        assert_eq!(url.host_str(), Some("shop.example.com"));
        assert!(!url.as_str().contains('\r') && !url.as_str().contains('\n'));
    }
}
