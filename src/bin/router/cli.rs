//! Command-line parsing and dispatch; each command lives in its own module.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::audit::FailOn;
use crate::common::{print_json, CliError};
use crate::history::{HistoryArgs, RestoreArgs};
use crate::matrix::MatrixArgs;
use crate::preview::PreviewArgs;
use crate::push::PushArgs;
use crate::results::ResultsArgs;
use crate::takedown::TakedownArgs;

const ROOT_EXAMPLES: &str = "\
Examples:
  router validate rules/gharart
  router preview rules/gharart --entry festive --country IN --device mobile
  router matrix rules/gharart --entry festive --countries IN,AE,GB,US,unknown
  router audit rules/gharart
  router push rules/gharart --api http://127.0.0.1:8787 --token-file .dev/pat-gharart
  router history --api http://127.0.0.1:8787 --token-file .dev/pat-gharart
  router --json validate rules/gharart | jq '.diagnostics[] | select(.severity == \"error\")'

Every command takes --json: machine-readable output on standard output (indented on a
terminal, one line when piped); with --json, an error is {\"ok\": false, \"error\": {code,
message}} on standard output too.

Exit codes: 0 ok; 1 problems found; 2 the command could not run (see each command).";

/// Rule-file tool of the edge personalization router: check, preview, audit and publish
/// a handle's rule files with the same core the worker runs.
#[derive(Debug, Parser)]
#[command(name = "router", version, after_long_help = ROOT_EXAMPLES)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a handle's rule files: every problem with file, line, rule id and JSON path.
    #[command(after_long_help = concat!(
        "Errors fail the command; warnings (e.g. a destination that is not routable yet) do not.\n",
        "Each problem reads file:line:column: severity[code] json.path (id): message.\n\n",
        "Examples:\n",
        "  router validate rules/gharart\n",
        "  router --json validate rules/gharart\n\n",
        "Exit codes: 0 no errors (warnings allowed); 1 errors; 2 the command could not run."
    ))]
    Validate {
        /// The handle's rule directory, e.g. rules/gharart.
        dir: PathBuf,
    },
    /// Decide one visit offline, as the worker would: outcome, rule, campaign, location.
    #[command(after_long_help = concat!(
        "Facts not given are unknown (as for a visitor nobody could place). The location is\n",
        "final: tracking template applied, no ctx token (as in any preview).\n\n",
        "Examples:\n",
        "  router preview rules/gharart --entry festive --country IN --device mobile\n",
        "  router preview rules/gharart --entry festive --country IN --user-agent \\\n",
        "      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'\n",
        "  router preview rules/gharart --entry festive --country AE --lang ar --explain\n",
        "  router preview rules/gharart --entry festive --country IN --device desktop --variant story\n",
        "  router preview rules/gharart --entry festive --country IN --at 2026-11-06T12:00:00+05:30\n",
        "  router preview rules/gharart --entry festive --query utm_source=whatsapp\n\n",
        "Exit codes: 0 the visitor is redirected; 1 the visitor gets the worker's safe page (or\n",
        "the rule files have errors); 2 the command could not run (unknown entry, bad option)."
    ))]
    Preview(PreviewArgs),
    /// The route matrix of one entry: countries x devices, the table the API's route
    /// preview returns.
    #[command(after_long_help = concat!(
        "Each cell reads `rule → host/path` (or (default), (fallback), (safe page)); cells of a\n",
        "campaign rule name the campaign, whose variants are listed under the table. Without\n",
        "--countries: IN AE GB US DE, the countries the entry's rules name, and unknown.\n",
        "Without --devices: desktop, mobile, tablet (and crawler when a rule targets crawlers).\n\n",
        "Examples:\n",
        "  router matrix rules/gharart --entry festive\n",
        "  router matrix rules/gharart --entry festive --countries IN,AE,unknown --devices mobile,desktop\n",
        "  router --json matrix rules/gharart --entry diwali-sale --at 2026-11-06T12:00:00+05:30\n\n",
        "Exit codes: 0 every segment is redirected; 1 some segment gets the safe page (or the\n",
        "rule files have errors); 2 the command could not run."
    ))]
    Matrix(MatrixArgs),
    /// Audit the rules: priority collisions, shadowed rules, unroutable destinations,
    /// empty condition sets.
    #[command(after_long_help = concat!(
        "Findings are reported, not all of them are mistakes: a destination whose domain is still\n",
        "pending verification is unroutable on purpose until it is verified, and same-priority\n",
        "rules may rely on the id order. So by default the audit fails only on rules that can\n",
        "never win anywhere (shadowed everywhere); choose with --fail-on.\n\n",
        "Examples:\n",
        "  router audit rules/gharart\n",
        "  router audit rules/gharart --fail-on shadowed,unroutable\n",
        "  router --json audit rules/gharart | jq .summary\n\n",
        "Exit codes: 0 no finding of a --fail-on kind; 1 some (or the rule files have errors);\n",
        "2 the command could not run."
    ))]
    Audit {
        /// The handle's rule directory.
        dir: PathBuf,
        /// Finding kinds that make the command exit 1, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "shadowed-everywhere")]
        fail_on: Vec<FailOn>,
    },
    /// Publish rule files: to a running worker's management API, or to local KV.
    #[command(after_long_help = concat!(
        "The rule files are validated first; nothing is sent when they have errors.\n",
        "--api sends the merged configuration to PUT {URL}/v2/handles/{handle}/configuration\n",
        "(admin scope) with an Idempotency-Key, and prints the new version and the warnings. The\n",
        "API refusing the configuration exits 1; any other API or network error exits 2 (nothing\n",
        "changed; retry with the --idempotency-key it prints).\n",
        "--local writes the compiled snapshot to local KV (snapshot:<handle>) with wrangler, as\n",
        "`make dev` seeds it; a running `wrangler dev` picks it up within its snapshot TTL. It\n",
        "writes above the revision local KV holds (which also lifts a takedown); a lower\n",
        "--version is refused unless a higher --generation makes the step back deliberate.\n\n",
        "Examples:\n",
        "  router push rules/gharart --api http://127.0.0.1:8787 --token-file .dev/pat-gharart\n",
        "  ROUTER_TOKEN=gr_pat_... router push rules/gharart --api https://router.example.workers.dev\n",
        "  router push rules/gharart --local\n",
        "  router push rules/gharart --local --persist-to /tmp/state\n",
        "  router push rules/gharart --local --version 1000 --generation 1   # roll back on purpose\n\n",
        "Exit codes: 0 published; 1 the rule files have errors or the API refused them; 2 the\n",
        "command could not run (network, auth, wrangler)."
    ))]
    Push(PushArgs),
    /// A campaign's results from a running worker: exposed visitors, conversion rates
    /// with intervals, uplift, p-value, chance to beat control, and the sample-ratio check.
    #[command(after_long_help = concat!(
        "Reads GET {URL}/v2/handles/{handle}/campaigns/{campaign}/results (campaigns:read scope)\n",
        "and prints one row per variant for the headline event (--event, else purchase, else the\n",
        "event with the most converting visitors), then the sample-ratio check. --json prints the\n",
        "API's answer with \"ok\": false when the split is a sample-ratio mismatch.\n\n",
        "Examples:\n",
        "  router results --api http://127.0.0.1:8787 --token-file .dev/pat-gharart --campaign diwali-hero-ab\n",
        "  router --json results --api http://127.0.0.1:8787 --token-file .dev/pat-gharart \\\n",
        "      --campaign diwali-hero-ab --event signup | jq '.variants[] | {key, exposed_visitors}'\n\n",
        "Exit codes: 0 results printed; 1 printed, and the split is a sample-ratio mismatch (the\n",
        "results cannot be trusted); 2 the command could not run (network, auth, unknown campaign)."
    ))]
    Results(ResultsArgs),
    /// The change history of a handle's configuration on a running worker: who changed
    /// what, when, through which route.
    #[command(after_long_help = concat!(
        "Lists the newest entries first (scope history:read): version, time, who (the token\n",
        "subject, or cron), the route that wrote it, and the ids it added (+), removed (-) and\n",
        "changed (~). With a VERSION: that entry with every changed JSON path and its values.\n\n",
        "Examples:\n",
        "  router history --api http://127.0.0.1:8787 --token-file .dev/pat-gharart\n",
        "  router history --api http://127.0.0.1:8787 --token-file .dev/pat-gharart --limit 5 --before 12\n",
        "  router history 7 --api http://127.0.0.1:8787 --token-file .dev/pat-gharart\n",
        "  ROUTER_TOKEN=gr_pat_... router --json history --api https://router.example.workers.dev --handle gharart\n\n",
        "Exit codes: 0 listed; 2 the command could not run (network, auth, unknown version)."
    ))]
    History(HistoryArgs),
    /// Restore an earlier version of a handle's configuration as a new version (admin).
    #[command(after_long_help = concat!(
        "The old configuration goes through the trust rules of a push: every domain keeps the\n",
        "trust state it has now (a restore never verifies or approves a domain), a domain the\n",
        "handle no longer lists comes back pending. What was kept is printed as warnings\n",
        "(ignored_trust_field). Routers follow within SNAPSHOT_TTL_SECONDS.\n\n",
        "Examples:\n",
        "  router restore 7 --api http://127.0.0.1:8787 --token-file .dev/pat-gharart\n",
        "  router --json restore 7 --api http://127.0.0.1:8787 --token-file .dev/pat-gharart --idempotency-key k1\n\n",
        "Exit codes: 0 restored; 1 the old configuration does not validate any more; 2 the command\n",
        "could not run (network, auth, unknown version, already the current version)."
    ))]
    Restore(RestoreArgs),
    /// Take a handle down: a tombstone under its snapshot key, so every `/{handle}/*`
    /// answers the 404 page.
    #[command(after_long_help = concat!(
        "Running isolates honour the tombstone within their snapshot TTL, and a KV fault or a\n",
        "stale read never brings the handle back; only a newer publication does (`router push`).\n",
        "The management API answers 404 handle_not_found for a taken-down handle.\n\n",
        "Examples:\n",
        "  router takedown --handle gharart --local --reason 'abuse report 42'\n",
        "  router takedown --handle gharart --out tombstone.json --version $(date +%s)\n",
        "  router push rules/gharart --local            # lifts it\n\n",
        "Exit codes: 0 written; 2 the command could not run (wrangler, a revision not above\n",
        "the current one)."
    ))]
    Takedown(TakedownArgs),
    /// Print the JSON Schema of a rule file (committed as rules/schema.json).
    #[command(after_long_help = concat!(
        "Rule files name it with \"$schema\": \"../schema.json\" so editors complete and check them.\n\n",
        "Examples:\n",
        "  router schema > rules/schema.json\n",
        "  router schema --out rules/schema.json"
    ))]
    Schema {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Print the OpenAPI 3.1 document of the management API (committed as
    /// src/api/openapi.json, which the worker serves at /v2/openapi.json).
    #[command(after_long_help = concat!(
        "Generated from the route table and the request and reply types; a test keeps the\n",
        "committed file equal to it.\n\n",
        "Examples:\n",
        "  router openapi --out src/api/openapi.json"
    ))]
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Compile rule files into the snapshot JSON that KV holds under `snapshot:<handle>`.
    Snapshot {
        /// The handle's rule directory.
        dir: PathBuf,
        /// Snapshot version to stamp (default: the current Unix time, so re-seeding moves forward).
        #[arg(long)]
        version: Option<u64>,
        /// Snapshot generation to stamp (a higher one makes a lower version a deliberate
        /// rollback that running isolates honour).
        #[arg(long, default_value_t = 0)]
        generation: u64,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Grow the configuration to this many rules (benchmarks, load tests): generated
        /// rules over `--countries` countries and `--domains` destination domains.
        #[arg(long)]
        expand: Option<usize>,
        /// Countries the generated rules cover (with --expand; 1-40).
        #[arg(long, default_value_t = 40)]
        countries: usize,
        /// Generated destination domains (with --expand).
        #[arg(long, default_value_t = 500)]
        domains: usize,
        /// Append the edge form (the compiled rule set in binary, after the JSON), as
        /// publishers store the value: what an isolate loads fastest. Needs --out.
        #[arg(long, requires = "out")]
        edge_form: bool,
    },
    /// Mint tokens from the local secret (TOKEN_SECRET in the environment, else in --dev-vars).
    Token {
        #[command(subcommand)]
        kind: TokenCommand,
    },
    /// Create a personal access token for the management API: prints the token once and
    /// the SQL that stores its SHA-256 (never the token) in D1's api_tokens table.
    Pat {
        /// The handle the token may manage.
        #[arg(long)]
        handle: String,
        /// Space-separated scopes (e.g. "rules:read rules:write", or "admin").
        #[arg(long, default_value = "admin")]
        scopes: String,
        /// Who the token is for (recorded as the author of changes).
        #[arg(long, default_value = "developer")]
        sub: String,
        /// Lifetime in days (none: until revoked).
        #[arg(long)]
        days: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// A preview token: query overrides on /{handle}/{slug} take effect with `__preview=<token>`.
    #[command(after_long_help = concat!(
        "Examples:\n",
        "  router token preview --handle gharart\n",
        "  TOKEN=$(router token preview --handle gharart --ttl 600)\n",
        "  curl -s \"http://127.0.0.1:8787/gharart/festive?__preview=$TOKEN&__country=AE&__explain=1\""
    ))]
    Preview {
        /// The handle the token may preview.
        #[arg(long)]
        handle: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        /// Who the token is for (shown in the explain trace).
        #[arg(long)]
        sub: Option<String>,
        /// The wrangler dev vars file to read TOKEN_SECRET from.
        #[arg(long, default_value = ".dev.vars")]
        dev_vars: PathBuf,
    },
}

/// Runs the tool.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli.command, json) {
        Ok(code) => code,
        Err(error) => {
            if json {
                let _ = print_json(&error.to_json());
            } else {
                eprintln!("error: {error}");
                if let CliError::Api {
                    details: Some(details),
                    ..
                } = &error
                {
                    print_details(details);
                }
            }
            ExitCode::from(error.exit_code())
        }
    }
}

/// The API's error details on standard error: located diagnostics one per line.
fn print_details(details: &serde_json::Value) {
    match details.as_array() {
        Some(items) => {
            for item in items {
                let file = item["file"].as_str().unwrap_or_default();
                let line = item["line"]
                    .as_u64()
                    .map(|l| format!(":{l}"))
                    .unwrap_or_default();
                let column = item["column"]
                    .as_u64()
                    .map(|c| format!(":{c}"))
                    .unwrap_or_default();
                let id = item["id"]
                    .as_str()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default();
                eprintln!(
                    "{file}{line}{column}: {}[{}] {}{id}: {}",
                    item["severity"].as_str().unwrap_or("error"),
                    item["code"].as_str().unwrap_or_default(),
                    item["path"].as_str().unwrap_or_default(),
                    item["message"].as_str().unwrap_or_default()
                );
            }
        }
        None => eprintln!("details: {details}"),
    }
}

fn run(command: Command, json: bool) -> crate::common::CmdResult {
    match command {
        Command::Validate { dir } => crate::validate::validate(&dir, json),
        Command::Preview(args) => crate::preview::preview(&args, json),
        Command::Matrix(args) => crate::matrix::matrix(&args, json),
        Command::Audit { dir, fail_on } => crate::audit::audit(&dir, &fail_on, json),
        Command::Push(args) => crate::push::push(&args, json),
        Command::Results(args) => crate::results::results(&args, json),
        Command::History(args) => crate::history::history(&args, json),
        Command::Restore(args) => crate::history::restore(&args, json),
        Command::Takedown(args) => crate::takedown::takedown(&args, json),
        Command::Schema { out } => crate::validate::schema(out.as_deref()),
        Command::Openapi { out } => crate::validate::openapi(out.as_deref()),
        Command::Snapshot {
            dir,
            version,
            generation,
            out,
            expand,
            countries,
            domains,
            edge_form,
        } => {
            let grow = expand.map(|rules| (rules, countries, domains));
            let out = out.as_deref().map(|path| (path, edge_form));
            crate::push::snapshot(&dir, (version, generation), out, grow, json)
        }
        Command::Token {
            kind:
                TokenCommand::Preview {
                    handle,
                    ttl,
                    sub,
                    dev_vars,
                },
        } => crate::token::preview(&handle, ttl, sub, &dev_vars, json),
        Command::Pat {
            handle,
            scopes,
            sub,
            days,
        } => crate::token::pat(&handle, &scopes, &sub, days, json),
    }
}
