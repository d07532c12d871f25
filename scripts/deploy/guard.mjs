#!/usr/bin/env node
// The production guard: a deployed configuration must never carry what only local
// development and the tests may use. `make deploy` runs it over the resolved production
// configuration before anything is created, bundled or uploaded; run it by hand over any
// wrangler configuration:
//
//   node scripts/deploy/guard.mjs wrangler.production.jsonc      exit 1 and one line per problem
//   node scripts/deploy/guard.mjs --dry-run --root . some.toml   (dry-run placeholder ids allowed)
//
// What it refuses, and why (the settings are documented in src/edge/settings.rs):
//   trust_forwarded_ip   TRUST_FORWARDED_IP other than "false": any visitor could pose as any address
//   geo_order            GEO_ORDER whose first source is not cf (the local `mmdb,cf`)
//   expose_counters      EXPOSE_COUNTERS other than "false": debug counters on visitor responses
//   faults               FAULTS set at all: fault injection is for the tests
//   dev_pat              a PAT (gr_pat_…) anywhere in the configuration, or the value of a .dev/pat-* file
//   dev_secret           TOKEN_SECRET/JWT_SECRET as plain [vars], or a value from .dev.vars anywhere
//   local_id             a KV or D1 id that is not an account's id ("edge-router-config", "edge-router-local")
//   local_url            a URL var pointing at loopback or not https (e.g. a test's DoH resolver)
//   env_sections         [env.*] sections (make deploy generates the production config; see README)
//
// No dependencies beyond node:* and the project's own wrangler (to read TOML and JSONC).

import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Ids written by `make deploy DRY_RUN=1`, where no account is asked. */
export const DRY_RUN_KV_ID = '0'.repeat(32);
export const DRY_RUN_D1_ID = '00000000-0000-0000-0000-000000000000';

const KV_ID = /^[0-9a-f]{32}$/;
const D1_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The placeholders of the committed wrangler.toml, named in the message. */
const KNOWN_LOCAL_IDS = new Set(['edge-router-config', 'edge-router-local']);
const PAT_PREFIX = 'gr_pat_';
const SECRET_NAMES = ['TOKEN_SECRET', 'JWT_SECRET'];
/** Vars whose values are URLs the worker fetches or sends visitors to. */
const URL_VARS = ['SAFE_FALLBACK_URL', 'DOH_RESOLVER_URL'];

const trimmed = (value) => (value === undefined || value === null ? '' : String(value).trim());

/** `true` for what the worker or a reader could take as switched on. */
const switchedOn = (value) => !['', 'false'].includes(trimmed(value));

/** The geo sources of GEO_ORDER as the worker parses them (src/engine/geo.rs). */
export function geoOrder(value) {
  const order = [];
  for (const name of trimmed(value).split(',')) {
    const source = name.trim().toLowerCase();
    if ((source === 'cf' || source === 'mmdb') && !order.includes(source)) order.push(source);
  }
  return order.length ? order : ['cf', 'mmdb'];
}

/** Every string in a configuration with its JSON path. */
function* strings(value, path = '$') {
  if (typeof value === 'string') yield [path, value];
  else if (Array.isArray(value)) for (const [i, item] of value.entries()) yield* strings(item, `${path}[${i}]`);
  else if (value && typeof value === 'object') for (const [key, item] of Object.entries(value)) yield* strings(item, `${path}.${key}`);
}

/** The development credentials of a checkout: .dev/pat-* values and .dev.vars secrets. */
export function localCredentials(root) {
  const found = [];
  const devDir = join(root, '.dev');
  if (existsSync(devDir)) {
    for (const name of readdirSync(devDir)) {
      if (!name.startsWith('pat-')) continue;
      const token = readFileSync(join(devDir, name), 'utf8').split('\n')[0].trim();
      if (token) found.push({ what: `the development PAT .dev/${name}`, value: token, kind: 'dev_pat' });
    }
  }
  const devVars = join(root, '.dev.vars');
  if (existsSync(devVars)) {
    for (const line of readFileSync(devVars, 'utf8').split('\n')) {
      const match = line.match(/^\s*([A-Z0-9_]+)\s*=\s*"?([^"]*)"?\s*$/);
      if (match && SECRET_NAMES.includes(match[1]) && match[2].length >= 16) {
        found.push({ what: `the local ${match[1]} from .dev.vars`, value: match[2], kind: 'dev_secret' });
      }
    }
  }
  return found;
}

/**
 * The problems of a production configuration (wrangler's raw form: what the file says).
 * `dryRun` allows the dry-run placeholder ids; `root` is where .dev/ and .dev.vars live;
 * `checkIds: false` checks a source configuration before its ids are looked up.
 */
export function check(config, { dryRun = false, root = process.cwd(), checkIds = true } = {}) {
  const problems = [];
  const problem = (code, message) => problems.push({ code, message });
  const vars = config.vars ?? {};

  if (config.env && Object.keys(config.env).length) {
    problem('env_sections', `[env.${Object.keys(config.env).join('], [env.')}] in the configuration: make deploy generates the production configuration from the top level (README, "Deploying"); put production values at the top level and local ones in .dev.vars`);
  }
  if (switchedOn(vars.TRUST_FORWARDED_IP)) {
    problem('trust_forwarded_ip', `TRUST_FORWARDED_IP = ${JSON.stringify(vars.TRUST_FORWARDED_IP)}: production takes the client address from CF-Connecting-IP alone; trusting X-Forwarded-For lets any visitor pose as any address (local dev only, via .dev.vars)`);
  }
  if ('GEO_ORDER' in vars && geoOrder(vars.GEO_ORDER)[0] !== 'cf') {
    problem('geo_order', `GEO_ORDER = ${JSON.stringify(vars.GEO_ORDER)}: production reads request.cf first ("cf,mmdb"); the MaxMind DB first is local dev's order, because offline wrangler fills request.cf with a placeholder`);
  }
  if (switchedOn(vars.EXPOSE_COUNTERS)) {
    problem('expose_counters', `EXPOSE_COUNTERS = ${JSON.stringify(vars.EXPOSE_COUNTERS)}: debug counters (X-Kv-Reads) are for benchmarks, never on visitors' responses`);
  }
  if (trimmed(vars.FAULTS) !== '') {
    problem('faults', `FAULTS = ${JSON.stringify(vars.FAULTS)}: fault injection is for the tests only`);
  }
  for (const name of SECRET_NAMES) {
    if (name in vars) {
      problem('dev_secret', `${name} is a plain var: it would be readable in the dashboard and the config; set it with \`wrangler secret put ${name}\``);
    }
  }
  for (const name of URL_VARS) {
    if (!(name in vars)) continue;
    let url;
    try {
      url = new URL(trimmed(vars[name]));
    } catch {
      problem('local_url', `${name} = ${JSON.stringify(vars[name])} is not a URL`);
      continue;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const loopback = host === 'localhost' || host.endsWith('.localhost') || host === '::1' || host === '0.0.0.0' || /^127\./.test(host);
    if (url.protocol !== 'https:' || loopback) {
      problem('local_url', `${name} = ${JSON.stringify(vars[name])}: production needs an https URL that is not loopback (a local test server?)`);
    }
  }

  const credentials = localCredentials(root);
  for (const [path, value] of strings(config)) {
    if (value.includes(PAT_PREFIX)) {
      problem('dev_pat', `${path} carries a PAT (${PAT_PREFIX}…): tokens are never configuration; the deploy mints its own and revokes it`);
    }
    for (const credential of credentials) {
      if (value.includes(credential.value)) problem(credential.kind, `${path} carries ${credential.what}`);
    }
  }

  if (checkIds) {
    const idProblem = (id, pattern, dryRunId, kind) => {
      const value = trimmed(id);
      if (value === dryRunId) return dryRun ? null : 'the dry-run placeholder';
      if (KNOWN_LOCAL_IDS.has(value)) return 'the local placeholder';
      return pattern.test(value) ? null : `not a ${kind} id`;
    };
    for (const ns of config.kv_namespaces ?? []) {
      const why = idProblem(ns.id, KV_ID, DRY_RUN_KV_ID, 'KV namespace');
      if (why) problem('local_id', `KV namespace ${ns.binding}: id ${JSON.stringify(ns.id ?? null)} is ${why}, not this account's namespace (make deploy looks it up or creates it)`);
    }
    for (const db of config.d1_databases ?? []) {
      const why = idProblem(db.database_id, D1_ID, DRY_RUN_D1_ID, 'D1 database');
      if (why) problem('local_id', `D1 database ${db.binding}: database_id ${JSON.stringify(db.database_id ?? null)} is ${why}, not this account's database (make deploy looks it up or creates it)`);
    }
  }
  return problems;
}

/** Dev credentials found in the files of a bundle directory (what would be uploaded). */
export function scanBundle(dir, { root = process.cwd() } = {}) {
  const credentials = localCredentials(root);
  const problems = [];
  if (!credentials.length) return problems;
  const walk = (path) => {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path)) walk(join(path, name));
      return;
    }
    const bytes = readFileSync(path);
    for (const credential of credentials) {
      if (bytes.includes(Buffer.from(credential.value))) {
        problems.push({ code: credential.kind, message: `the bundle ${path} contains ${credential.what}` });
      }
    }
  };
  walk(dir);
  return problems;
}

/** Reads a wrangler configuration (TOML, JSON or JSONC) as written, with wrangler's own reader. */
export async function readConfig(path) {
  const { experimental_readRawConfig } = await import('wrangler');
  const { rawConfig } = experimental_readRawConfig({ config: resolve(path) });
  return rawConfig;
}

async function main(argv) {
  let dryRun = false;
  let root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dry-run') dryRun = true;
    else if (argv[i] === '--root') root = resolve(argv[++i]);
    else files.push(argv[i]);
  }
  if (!files.length) {
    console.error('usage: node scripts/deploy/guard.mjs [--dry-run] [--root DIR] CONFIG...');
    return 2;
  }
  let failed = false;
  for (const file of files) {
    const problems = check(await readConfig(file), { dryRun, root });
    for (const p of problems) console.error(`${file}: ${p.code}: ${p.message}`);
    if (problems.length) failed = true;
    else console.error(`${file}: fit for production`);
  }
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
