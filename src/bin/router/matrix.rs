//! `router matrix`: the route preview table of the API (`GET .../route-preview`, built by
//! `api::matrix::matrix`), offline from the rule files, as a text table or its JSON.

use std::path::PathBuf;

use edge_router::analysis::matrix::{matrix as build, Cell, Matrix, MatrixError, MAX_COUNTRIES};
use edge_router::engine::device::DeviceCategory;
use edge_router::Outcome;
use url::Url;

use crate::common::{
    check_entry, exit, parse_at, print_json, rules_or_report, write_out, CliError, CmdResult,
};
use crate::preview::no_variant_words;

/// What `router matrix` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MatrixArgs {
    /// The handle's rule directory.
    pub(crate) dir: PathBuf,
    /// The entry slug.
    #[arg(long)]
    pub(crate) entry: String,
    /// Countries (rows), comma-separated ISO codes; `unknown` for no known country.
    #[arg(long, value_delimiter = ',')]
    pub(crate) countries: Vec<String>,
    /// Devices (columns), comma-separated: desktop, mobile, tablet, crawler, other.
    #[arg(long, value_delimiter = ',')]
    pub(crate) devices: Vec<String>,
    /// Decide at this RFC 3339 time instead of now.
    #[arg(long)]
    pub(crate) at: Option<String>,
}

/// Decides every cell; exit 1 when a segment gets the safe page.
pub(crate) fn matrix(args: &MatrixArgs, json: bool) -> CmdResult {
    let rules = match rules_or_report(&args.dir, json) {
        Ok(rules) => rules,
        Err(reported) => return reported,
    };
    check_entry(&rules, &args.entry)?;
    let mut devices = Vec::with_capacity(args.devices.len());
    for raw in &args.devices {
        devices.push(DeviceCategory::parse(raw).ok_or_else(|| {
            CliError::Usage(format!(
                "--devices: {raw:?} is not one of desktop, mobile, tablet, crawler, other"
            ))
        })?);
    }
    if args.countries.len() > MAX_COUNTRIES {
        return Err(CliError::Usage(format!(
            "--countries: at most {MAX_COUNTRIES} countries (the unknown country counts as one)"
        )));
    }
    let at = parse_at(args.at.as_deref())?;
    let table = build(
        &rules.compiled.ruleset,
        &args.entry,
        &args.countries,
        &devices,
        at,
    )
    .map_err(|e| match e {
        MatrixError::TooManyDevices(_) => CliError::Usage(format!("--devices: {e}")),
        MatrixError::UnknownEntry(_) => CliError::Usage(e.to_string()),
        MatrixError::InvalidCountry(_) | MatrixError::TooManyCountries(_) => {
            CliError::Usage(format!("--countries: {e}"))
        }
    })?;
    let routable = table.cells.iter().all(|c| c.outcome != Outcome::SafePage);
    if json {
        print_json(&table)?;
    } else {
        write_out(format_args!("{}", render(&table)));
    }
    Ok(exit(routable))
}

/// `host/path` of a URL, shortened to `max` characters.
fn short(url: &str, max: usize) -> String {
    let text = match Url::parse(url) {
        Ok(u) => format!("{}{}", u.host_str().unwrap_or_default(), u.path()),
        Err(_) => url.to_owned(),
    };
    let text = text.strip_suffix('/').unwrap_or(&text).to_owned();
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// What one cell shows: who decided, and where visitors go.
fn cell_text(cell: &Cell) -> String {
    let who = match (&cell.rule, cell.outcome) {
        (Some(rule), Outcome::Rule) => rule.clone(),
        (_, Outcome::EntryDefault) => "(default)".to_owned(),
        (_, Outcome::HandleFallback) => "(fallback)".to_owned(),
        (_, Outcome::SafePage) => return "(safe page)".to_owned(),
        (rule, _) => rule.clone().unwrap_or_default(),
    };
    let whither = match (&cell.campaign, &cell.destination) {
        (Some(c), _) if c.variants.is_some() => format!("campaign {}", c.id),
        (_, Some(destination)) => short(destination, 34),
        _ => String::new(),
    };
    format!("{who} → {whither}")
}

/// The table, campaign details and notes, as text.
pub(crate) fn render(table: &Matrix) -> String {
    let mut out = format!(
        "{}/{} at {}\n\n",
        table.handle,
        table.entry,
        table.at.to_rfc3339()
    );
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(table.countries.len() + 1);
    let mut header = vec!["country".to_owned()];
    header.extend(table.devices.iter().map(|d| d.to_string()));
    rows.push(header);
    for (i, country) in table.countries.iter().enumerate() {
        let mut row = vec![country.clone().unwrap_or_else(|| "unknown".to_owned())];
        let cells = table
            .cells
            .iter()
            .skip(i * table.devices.len())
            .take(table.devices.len());
        row.extend(cells.map(cell_text));
        rows.push(row);
    }
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(text, width)| {
                let pad = width.saturating_sub(text.chars().count());
                format!("{text}{}", " ".repeat(pad))
            })
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    let mut campaigns: Vec<&str> = Vec::new();
    for cell in &table.cells {
        let Some(c) = &cell.campaign else { continue };
        if campaigns.contains(&c.id.as_str()) {
            continue;
        }
        campaigns.push(&c.id);
        out.push_str(&format!("\ncampaign {} ({})", c.id, c.status));
        match (&c.variants, &c.no_variant) {
            (Some(variants), _) => {
                out.push('\n');
                for v in variants {
                    let whither = v.location.as_deref().unwrap_or("the safe page");
                    out.push_str(&format!("  {:>3}%  {:<12} → {whither}\n", v.weight, v.key));
                }
            }
            (None, Some(why)) => {
                out.push_str(&format!(": no variant, {}\n", no_variant_words(why)));
            }
            (None, None) => out.push('\n'),
        }
    }
    if !table.omitted_countries.is_empty() {
        out.push_str(&format!(
            "\nleft out (at most {MAX_COUNTRIES} countries): {}\n",
            table.omitted_countries.join(", ")
        ));
    }
    out
}
