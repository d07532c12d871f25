#!/usr/bin/env node
// `make deploy`: takes the worker to a Cloudflare account with the project's own wrangler.
//
//   node scripts/deploy/main.mjs [--dry-run] [--config wrangler.toml] [--mmdb FILE]
//                                [--url https://…] [--rules rules] [--handles "a b"] [--no-push]
//                                [--outdir build/deploy]
//
// 1. reads wrangler.toml (wrangler's own reader) and refuses local-only settings (guard.mjs)
//    before asking the account anything;
// 2. looks up every resource the bindings name, by name, and creates what is missing:
//    KV namespaces (title "<worker>-<binding>", lower case), D1 databases (database_name),
//    queues (producers, consumers and their dead-letter queues);
// 3. writes wrangler.production.jsonc next to wrangler.toml: the top level with this
//    account's ids (git-ignored, regenerated on every run; the local configuration is never
//    written), and runs the guard over it;
// 4. bundles with `wrangler deploy --dry-run --outdir` and scans the bundle for development
//    credentials; with --dry-run it stops here, having listed the migrations and checked the
//    rule files, without any account (offline, part of `make test`);
// 5. refuses to go on unless TOKEN_SECRET and JWT_SECRET are secrets of the worker (prints the
//    `wrangler secret put` lines), applies D1 migrations remotely, refuses if a development
//    PAT is a live token in production, seeds geo:mmdb into KV when --mmdb is given, deploys;
// 6. pushes rules/<handle> for every handle through the management API with a PAT minted for
//    the push (admin scope, 15 minutes, revoked when the push is over, whatever happened).
//
// The push goes to the workers.dev URL `wrangler deploy` prints, or to --url (needed with
// workers_dev = false).
//
// Re-running is safe: lookups before creates, migrations skip what is applied, the push
// replaces the configuration as a whole. Environment: WRANGLER (default
// node_modules/.bin/wrangler), ROUTER_BIN (default target/debug/router),
// DEPLOY_PUSH_ATTEMPTS (6), DEPLOY_RETRY_MS (first wait between push attempts, 2000).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { check, scanBundle, readConfig, DRY_RUN_KV_ID, DRY_RUN_D1_ID } from './guard.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The production configuration, next to the source one; `.dry-run` for dry runs. */
export const PRODUCTION_FILE = 'wrangler.production.jsonc';
export const DRY_RUN_FILE = 'wrangler.production.dry-run.jsonc';
/** Secrets the worker needs (src/edge/settings.rs). */
const REQUIRED_SECRETS = ['TOKEN_SECRET', 'JWT_SECRET'];
/** Where the worker reads the MaxMind DB (src/edge/store.rs), and KV's value limit. */
const MMDB_KEY = 'geo:mmdb';
const MMDB_BINDING = 'CONFIG';
const KV_VALUE_LIMIT = 25 * 1024 * 1024;
/** The D1 binding holding api_tokens (migrations/0001_management_api.sql). */
const API_DB_BINDING = 'DB';
const PUSH_PAT_SECONDS = 15 * 60;
/** Binding kinds naming account resources that this script does not create. */
const NOT_CREATED = ['r2_buckets', 'hyperdrive', 'vectorize', 'analytics_engine_datasets', 'dispatch_namespaces', 'pipelines', 'secrets_store_secrets', 'workflows'];

class Refusal extends Error {}

const say = (line = '') => process.stderr.write(`${line}\n`);
const step = (line) => say(`\n== ${line}`);

// ---------------------------------------------------------------------------------------
// What the configuration declares.

/** The account resources a configuration's bindings name, by kind. */
export function resourcesOf(config) {
  const worker = config.name;
  if (!worker) throw new Refusal('the configuration has no `name`: the worker needs one');
  const kv = (config.kv_namespaces ?? []).map((ns) => ({
    binding: ns.binding,
    title: `${worker}-${ns.binding}`.toLowerCase().replace(/_/g, '-'),
  }));
  const d1 = (config.d1_databases ?? []).map((db) => {
    if (!db.database_name) throw new Refusal(`D1 binding ${db.binding} has no database_name: make deploy finds databases by name`);
    return { binding: db.binding, name: db.database_name, migrationsDir: db.migrations_dir ?? 'migrations' };
  });
  const queueNames = [
    ...(config.queues?.producers ?? []).map((p) => p.queue),
    ...(config.queues?.consumers ?? []).flatMap((c) => [c.queue, c.dead_letter_queue]),
  ].filter(Boolean);
  const queues = [...new Set(queueNames)];
  const crons = config.triggers?.crons ?? [];
  const notCreated = NOT_CREATED.filter((key) => (Array.isArray(config[key]) ? config[key].length : config[key]));
  return { worker, kv, d1, queues, crons, notCreated };
}

/** The production configuration: the source's top level with the account's ids. */
export function productionConfig(source, ids) {
  const config = structuredClone(source);
  delete config.env;
  if (source.kv_namespaces) {
    config.kv_namespaces = source.kv_namespaces.map(({ preview_id, remote, ...ns }) => ({ ...ns, id: ids.kv[ns.binding] }));
  }
  if (source.d1_databases) {
    config.d1_databases = source.d1_databases.map(({ preview_database_id, remote, ...db }) => ({ ...db, database_id: ids.d1[db.binding] }));
  }
  return config;
}

function renderProduction(config, sourceName) {
  return [
    `// Generated by \`make deploy\` (scripts/deploy/main.mjs) from ${sourceName} with this account's ids.`,
    `// Do not edit: change ${sourceName} and run \`make deploy\` again. Git-ignored; see README, "Deploying".`,
    JSON.stringify(config, null, 2),
    '',
  ].join('\n');
}

/** The D1 migration files of a database, in the order wrangler applies them. */
export function migrationFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => name.endsWith('.sql')).sort();
}

/** The workers.dev URL `wrangler deploy` printed, if any. */
export function deployedUrl(output) {
  const match = output.match(/https:\/\/[a-z0-9.-]+\.workers\.dev\b/i);
  return match ? match[0] : null;
}

// ---------------------------------------------------------------------------------------
// Running tools.

/** Runs a command; resolves {code, stdout, stderr}. Standard input is closed: wrangler then
 *  takes its non-interactive path (no prompts; migrations apply without asking). */
function run(command, args, { cwd, env = {}, echo = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_UPDATE_NOTIFIER: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (echo) process.stderr.write(d);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (echo) process.stderr.write(d);
    });
    child.on('error', (e) => reject(new Refusal(`cannot run ${command}: ${e.message}`)));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** wrangler from package-lock.json (or $WRANGLER), in the configuration's directory. */
function wranglerRunner(cwd) {
  const bin = process.env.WRANGLER ?? join(ROOT, 'node_modules', '.bin', 'wrangler');
  const wrangler = async (args, { echo = false, allowFail = false } = {}) => {
    say(`$ wrangler ${args.join(' ')}`);
    const result = await run(bin, args, { cwd, echo });
    if (result.code !== 0 && !allowFail) {
      if (!echo) process.stderr.write(result.stdout + result.stderr);
      throw new Refusal(`\`wrangler ${args[0]} ${args[1] ?? ''}\` failed (exit ${result.code})`);
    }
    return result;
  };
  wrangler.json = async (args) => JSON.parse(jsonPart((await wrangler(args)).stdout));
  return wrangler;
}

/** The JSON document in a command's output (wrangler may print lines around it). */
function jsonPart(text) {
  const start = text.search(/^[[{]/m);
  if (start < 0) throw new Refusal(`expected JSON from wrangler, got: ${text.slice(0, 300)}`);
  return text.slice(start);
}

/** Who runs the deploy (the push PAT's subject, recorded as the author of the change). */
function operator() {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

const sqlText = (value) => `'${String(value).replace(/'/g, "''")}'`;

// ---------------------------------------------------------------------------------------
// The account: look up, or create.

async function lookupOrCreate(wrangler, plan, sourceArgs) {
  const ids = { kv: {}, d1: {} };
  if (plan.kv.length) {
    const list = async () => wrangler.json(['kv', 'namespace', 'list', ...sourceArgs]);
    let namespaces = await list();
    for (const { binding, title } of plan.kv) {
      let found = namespaces.find((ns) => ns.title === title);
      if (!found) {
        say(`KV namespace "${title}" (binding ${binding}) does not exist: creating it`);
        await wrangler(['kv', 'namespace', 'create', title, '--update-config=false', ...sourceArgs]);
        namespaces = await list();
        found = namespaces.find((ns) => ns.title === title);
        if (!found) throw new Refusal(`KV namespace "${title}" was created but is not listed`);
      } else {
        say(`KV namespace "${title}" (binding ${binding}): ${found.id}`);
      }
      ids.kv[binding] = found.id;
    }
  }
  if (plan.d1.length) {
    const list = async () => wrangler.json(['d1', 'list', '--json', ...sourceArgs]);
    let databases = await list();
    for (const { binding, name } of plan.d1) {
      let found = databases.find((db) => db.name === name);
      if (!found) {
        say(`D1 database "${name}" (binding ${binding}) does not exist: creating it`);
        const location = process.env.D1_LOCATION ? ['--location', process.env.D1_LOCATION] : [];
        await wrangler(['d1', 'create', name, ...location, '--update-config=false', ...sourceArgs]);
        databases = await list();
        found = databases.find((db) => db.name === name);
        if (!found) throw new Refusal(`D1 database "${name}" was created but is not listed`);
      } else {
        say(`D1 database "${name}" (binding ${binding}): ${found.uuid}`);
      }
      ids.d1[binding] = found.uuid;
    }
  }
  for (const queue of plan.queues) {
    const info = await wrangler(['queues', 'info', queue, ...sourceArgs], { allowFail: true });
    if (info.code === 0) {
      say(`queue "${queue}" exists`);
      continue;
    }
    if (!/does not exist/.test(info.stdout + info.stderr)) {
      process.stderr.write(info.stdout + info.stderr);
      throw new Refusal(`cannot tell whether queue "${queue}" exists`);
    }
    say(`queue "${queue}" does not exist: creating it`);
    await wrangler(['queues', 'create', queue, ...sourceArgs]);
  }
  return ids;
}

async function missingSecrets(wrangler, prodArgs, worker) {
  const listed = await wrangler(['secret', 'list', '--format', 'json', ...prodArgs], { allowFail: true });
  if (listed.code !== 0) {
    if (/not found/i.test(listed.stdout + listed.stderr)) return { missing: REQUIRED_SECRETS, why: `the worker "${worker}" does not exist yet` };
    process.stderr.write(listed.stdout + listed.stderr);
    throw new Refusal('cannot list the worker\'s secrets');
  }
  const names = new Set(JSON.parse(jsonPart(listed.stdout)).map((s) => s.name));
  return { missing: REQUIRED_SECRETS.filter((name) => !names.has(name)), why: `the worker "${worker}" has no such secret` };
}

// ---------------------------------------------------------------------------------------
// Pushing a handle's rules with a PAT minted for the purpose.

async function pushHandle({ wrangler, prodArgs, apiDb, router, rulesDir, handle, url }) {
  const sub = `deploy:${operator()}`;
  const minted = await run(router, ['--json', 'pat', '--handle', handle, '--scopes', 'admin', '--sub', sub]);
  if (minted.code !== 0) throw new Refusal(`router pat failed: ${minted.stdout}${minted.stderr}`);
  const { token, hash } = JSON.parse(minted.stdout);
  if (createHash('sha256').update(token).digest('hex') !== hash) throw new Refusal('router pat printed a hash that is not the SHA-256 of its token');
  const now = Math.floor(Date.now() / 1000);
  const insert = `INSERT INTO api_tokens (hash, handle, scopes, sub, expires_at, revoked, created_at) VALUES (${sqlText(hash)}, ${sqlText(handle)}, 'admin', ${sqlText(sub)}, ${now + PUSH_PAT_SECONDS}, 0, ${sqlText(new Date(now * 1000).toISOString())});`;
  const revoke = `UPDATE api_tokens SET revoked = 1 WHERE hash = ${sqlText(hash)};`;
  say(`minting a PAT for the push of ${handle} (admin, expires in ${PUSH_PAT_SECONDS / 60} min, revoked after the push; only its SHA-256 is stored)`);
  await wrangler(['d1', 'execute', apiDb, '--remote', '--json', '--yes', '--command', insert, ...prodArgs]);
  try {
    const attempts = Number(process.env.DEPLOY_PUSH_ATTEMPTS ?? 6);
    let wait = Number(process.env.DEPLOY_RETRY_MS ?? 2000);
    const key = `deploy-${handle}-${randomBytes(12).toString('hex')}`;
    for (let attempt = 1; ; attempt++) {
      say(`$ router push ${relative(process.cwd(), join(rulesDir, handle)) || '.'} --api ${url} --idempotency-key ${key}   (attempt ${attempt})`);
      const pushed = await run(router, ['--json', 'push', join(rulesDir, handle), '--api', url, '--idempotency-key', key], { env: { ROUTER_TOKEN: token } });
      let answer = {};
      try {
        answer = JSON.parse(pushed.stdout);
      } catch {
        /* not JSON: reported below */
      }
      if (pushed.code === 0) {
        say(`pushed ${handle}: version ${answer.version}${answer.replayed ? ' (replayed)' : ''}, request ${answer.request_id}`);
        return answer;
      }
      const error = answer.error ?? {};
      const retryable = error.code === 'unreachable' || (error.status ?? 0) >= 500;
      if (!retryable || attempt >= attempts) {
        throw new Refusal(`router push of ${handle} failed: ${error.message ?? (pushed.stdout + pushed.stderr).trim()}`);
      }
      say(`  ${error.code}${error.status ? ` (${error.status})` : ''}: retrying in ${wait / 1000} s with the same idempotency key`);
      await sleep(wait);
      wait *= 2;
    }
  } finally {
    const revoked = await wrangler(['d1', 'execute', apiDb, '--remote', '--json', '--yes', '--command', revoke, ...prodArgs], { allowFail: true });
    if (revoked.code === 0) say(`revoked the push PAT of ${handle}`);
    else say(`WARNING: could not revoke the push PAT of ${handle} (it expires by itself within ${PUSH_PAT_SECONDS / 60} min); revoke it now:\n  wrangler d1 execute ${apiDb} --remote --command "${revoke}" ${prodArgs.join(' ')}`);
  }
}

// ---------------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { dryRun: false, config: 'wrangler.toml', push: true, handles: null, mmdb: null, url: null, outdir: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Refusal(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--dry-run') options.dryRun = true;
    else if (arg === '--config') options.config = value();
    else if (arg === '--mmdb') options.mmdb = value() || null;
    else if (arg === '--url') options.url = value() || null;
    else if (arg === '--handles') options.handles = value().split(/[\s,]+/).filter(Boolean);
    else if (arg === '--rules') options.rules = value();
    else if (arg === '--outdir') options.outdir = value();
    else if (arg === '--no-push') options.push = false;
    else throw new Refusal(`unknown argument ${arg}`);
  }
  return options;
}

function checkMmdb(path) {
  if (!existsSync(path)) throw new Refusal(`--mmdb ${path}: no such file`);
  const size = statSync(path).size;
  if (size > KV_VALUE_LIMIT) throw new Refusal(`--mmdb ${path} has ${size} bytes; a KV value holds at most 25 MiB (a country database fits, GeoLite2-City does not)`);
  const tail = readFileSync(path).subarray(Math.max(0, size - 128 * 1024));
  if (!tail.includes(Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1'))) throw new Refusal(`--mmdb ${path} is not a MaxMind DB (no metadata marker)`);
  return size;
}

async function deploy(options) {
  const configPath = resolve(options.config);
  const dir = dirname(configPath);
  const sourceName = basename(configPath);
  const rulesDir = resolve(options.rules ?? join(dir, 'rules'));
  const router = process.env.ROUTER_BIN ?? join(ROOT, 'target', 'debug', 'router');
  const wrangler = wranglerRunner(dir);
  const sourceArgs = ['--config', sourceName];

  step(`reading ${relative(process.cwd(), configPath) || sourceName}${options.dryRun ? ' (dry run: no account is asked)' : ''}`);
  const source = await readConfig(configPath);
  // Development credentials (.dev/pat-*, .dev.vars) are those of the checkout being deployed.
  const early = check(source, { root: dir, checkIds: false });
  if (early.length) return refuseGuard(early, sourceName);
  const plan = resourcesOf(source);
  say(`worker ${plan.worker}: KV ${plan.kv.map((k) => `${k.binding}="${k.title}"`).join(', ') || 'none'}; D1 ${plan.d1.map((d) => `${d.binding}="${d.name}"`).join(', ') || 'none'}; queues ${plan.queues.join(', ') || 'none'}; crons ${plan.crons.map((c) => `"${c}"`).join(', ') || 'none'}`);
  if (plan.notCreated.length) say(`note: make deploy does not create the resources of ${plan.notCreated.join(', ')}; create them before deploying`);
  const handles = options.handles ?? (existsSync(rulesDir) ? readdirSync(rulesDir).filter((n) => statSync(join(rulesDir, n)).isDirectory()) : []);
  if (options.push && handles.length && !options.url && source.workers_dev === false) {
    throw new Refusal('workers_dev = false: say where the worker answers, for the push: WORKER_URL=https://… (or PUSH=0)');
  }
  if (options.mmdb) say(`geo:mmdb from ${options.mmdb}: ${checkMmdb(options.mmdb)} bytes`);

  step(options.dryRun ? 'ids (dry run: placeholders)' : 'looking up (or creating) the account\'s resources');
  const ids = options.dryRun
    ? { kv: Object.fromEntries(plan.kv.map((k) => [k.binding, DRY_RUN_KV_ID])), d1: Object.fromEntries(plan.d1.map((d) => [d.binding, DRY_RUN_D1_ID])) }
    : await lookupOrCreate(wrangler, plan, sourceArgs);
  const production = productionConfig(source, ids);
  const prodName = options.dryRun ? DRY_RUN_FILE : PRODUCTION_FILE;
  const prodPath = join(dir, prodName);
  writeFileSync(prodPath, renderProduction(production, sourceName));
  say(`wrote ${prodName}`);
  const prodArgs = ['--config', prodName];

  step('production guard');
  const reread = await readConfig(prodPath);
  const problems = check(reread, { dryRun: options.dryRun, root: dir });
  if (problems.length) return refuseGuard(problems, prodName);
  say('no local-only setting');

  step('bundling (wrangler deploy --dry-run)');
  const outdir = resolve(options.outdir ?? join(ROOT, 'build', 'deploy'));
  rmSync(outdir, { recursive: true, force: true });
  await wrangler(['deploy', '--dry-run', '--outdir', outdir, ...prodArgs], { echo: true });
  const leaks = scanBundle(outdir, { root: dir });
  if (leaks.length) return refuseGuard(leaks, 'the bundle');
  say(`bundle in ${relative(process.cwd(), outdir)}: no development credential in it`);

  step('D1 migrations');
  for (const db of plan.d1) {
    const files = migrationFiles(join(dir, db.migrationsDir));
    say(`${db.binding} ("${db.name}"), ${db.migrationsDir}/: ${files.join(', ') || 'none'}`);
  }

  const pushing = options.push && handles.length > 0;
  if (pushing) {
    step('rules');
    for (const handle of handles) {
      const validated = await run(router, ['validate', join(rulesDir, handle)]);
      process.stderr.write(validated.stdout + validated.stderr);
      if (validated.code !== 0) throw new Refusal(`${join(rulesDir, handle)} does not validate: nothing was deployed`);
    }
  }
  if (options.dryRun) {
    say(`would push: ${pushing ? handles.join(', ') : 'nothing'} (a PAT minted per handle, revoked after the push)`);
    step('dry run complete: nothing was created, uploaded or pushed');
    return 0;
  }

  step('secrets');
  const { missing, why } = await missingSecrets(wrangler, prodArgs, plan.worker);
  if (missing.length) {
    say(`refusing to deploy: ${why}: ${missing.join(', ')}. Set each to a fresh random value, then run make deploy again:`);
    for (const name of missing) {
      say(`  node -e "process.stdout.write(require('crypto').randomBytes(32).toString('hex'))" | ${relative(process.cwd(), join(ROOT, 'node_modules', '.bin', 'wrangler'))} secret put ${name} --config ${relative(process.cwd(), prodPath)}`);
    }
    return 1;
  }
  say(`${REQUIRED_SECRETS.join(', ')} are set`);

  step('D1 migrations (remote)');
  for (const db of plan.d1) {
    if (!migrationFiles(join(dir, db.migrationsDir)).length) continue;
    await wrangler(['d1', 'migrations', 'apply', db.name, '--remote', ...prodArgs], { echo: true });
  }

  const apiDb = plan.d1.find((d) => d.binding === API_DB_BINDING)?.name;
  const devPats = devPatHashes(dir);
  if (apiDb && devPats.length) {
    const list = devPats.map((p) => sqlText(p.hash)).join(', ');
    const rows = await wrangler.json(['d1', 'execute', apiDb, '--remote', '--json', '--yes', '--command', `SELECT handle FROM api_tokens WHERE hash IN (${list}) AND revoked = 0;`, ...prodArgs]);
    const live = rows.flatMap((r) => r.results ?? []);
    if (live.length) {
      say(`refusing to deploy: a development PAT (${devPats.map((p) => p.file).join(', ')}) is a live token in production D1; revoke it:`);
      say(`  wrangler d1 execute ${apiDb} --remote --command "UPDATE api_tokens SET revoked = 1 WHERE hash IN (${list});" ${prodArgs.join(' ')}`);
      return 1;
    }
    say('no development PAT is accepted by production');
  }

  if (options.mmdb) {
    step(`seeding ${MMDB_KEY}`);
    await wrangler(['kv', 'key', 'put', MMDB_KEY, '--path', resolve(options.mmdb), '--binding', MMDB_BINDING, '--remote', ...prodArgs]);
  }

  step('deploying');
  const deployed = await wrangler(['deploy', ...prodArgs], { echo: true });
  const url = options.url ?? deployedUrl(deployed.stdout + deployed.stderr);

  if (!pushing) {
    step(`deployed${url ? ` to ${url}` : ''}; no rules pushed`);
    return 0;
  }
  if (!url) throw new Refusal('the deploy printed no workers.dev URL: run again with WORKER_URL=https://<where the worker answers>');
  if (!apiDb) throw new Refusal(`no D1 binding ${API_DB_BINDING} (api_tokens) to mint the push PAT in`);
  step(`pushing rules to ${url}`);
  for (const handle of handles) {
    await pushHandle({ wrangler, prodArgs, apiDb, router, rulesDir, handle, url });
  }
  step(`deployed to ${url}; pushed ${handles.join(', ')}`);
  return 0;
}

/** SHA-256 of each development PAT of this checkout. */
function devPatHashes(root) {
  const dir = join(root, '.dev');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith('pat-'))
    .map((name) => {
      const token = readFileSync(join(dir, name), 'utf8').split('\n')[0].trim();
      return token && { file: `.dev/${name}`, hash: createHash('sha256').update(token).digest('hex') };
    })
    .filter(Boolean);
}

function refuseGuard(problems, where) {
  say(`refusing to deploy: ${where} is not fit for production:`);
  for (const p of problems) say(`  ${p.code}: ${p.message}`);
  return 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    process.exitCode = await deploy(parseArgs(process.argv.slice(2)));
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    say(`deploy: ${error.message}`);
    process.exitCode = 1;
  }
}
