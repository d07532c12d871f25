#!/usr/bin/env node
// A stand-in for `wrangler` with a pretend Cloudflare account, for tests/e2e/deploy.test.mjs.
// It answers the commands scripts/deploy/main.mjs uses the way wrangler 4.86 does (same JSON
// on standard output, same failure messages), keeps the account in the JSON file named by
// FAKE_WRANGLER_STATE, and records every call with the configuration it was given.
// FAKE_BUNDLE_EXTRA: text to put into the dry-run bundle (to plant a credential).

import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const statePath = process.env.FAKE_WRANGLER_STATE;
if (!statePath) {
  console.error('fake wrangler: FAKE_WRANGLER_STATE is not set');
  process.exit(2);
}

const emptyState = () => ({ kv: [], d1: [], queues: [], workers: [], secrets: {}, tokens: [], migrations: {}, kvPuts: [], deploys: [], calls: [] });
const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : emptyState();
const save = () => writeFileSync(statePath, JSON.stringify(state, null, 2));

const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const flag = (name) => argv.includes(name);
const configFile = option('--config') ?? 'wrangler.toml';
state.calls.push({ argv, config: configFile, stdin: process.stdin.isTTY ? 'tty' : 'closed' });

const out = (text) => process.stdout.write(`${text}\n`);
const fail = (text, code = 1) => {
  save();
  process.stderr.write(`✘ [ERROR] ${text}\n`);
  process.exit(code);
};

/** The configuration the command was given; JSONC (what the deploy generates) only. */
function config() {
  const text = readFileSync(resolve(configFile), 'utf8');
  if (!configFile.endsWith('.jsonc') && !configFile.endsWith('.json')) {
    fail(`fake wrangler: this command needs the production configuration, got ${configFile}`, 3);
  }
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ''));
}

function d1ByName(name) {
  const cfg = config();
  const binding = (cfg.d1_databases ?? []).find((d) => d.database_name === name || d.binding === name);
  if (!binding) fail(`Couldn't find DB with name '${name}'`);
  const db = state.d1.find((d) => d.uuid === binding.database_id);
  if (!db) fail(`A request to the Cloudflare API failed: database ${binding.database_id} not found [code: 7404]`);
  return { db, binding };
}

function kvByBinding(binding) {
  const ns = (config().kv_namespaces ?? []).find((k) => k.binding === binding);
  if (!ns || !state.kv.some((k) => k.id === ns.id)) fail(`namespace of binding ${binding} not found [code: 10013]`);
  return ns.id;
}

/** The few statements the deploy sends to api_tokens. */
function execute(sql) {
  const values = (text) => [...text.matchAll(/'((?:[^']|'')*)'|(-?\d+|NULL)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/''/g, "'") : m[2] === 'NULL' ? null : Number(m[2])));
  let match;
  if ((match = sql.match(/^INSERT INTO api_tokens \(hash, handle, scopes, sub, expires_at, revoked, created_at\) VALUES \((.*)\);?$/s))) {
    const [hash, handle, scopes, sub, expires_at, revoked, created_at] = values(match[1]);
    state.tokens.push({ hash, handle, scopes, sub, expires_at, revoked, created_at });
    return [];
  }
  if ((match = sql.match(/^UPDATE api_tokens SET revoked = 1 WHERE hash (?:= |IN \()(.*?)\)?;?$/s))) {
    const hashes = values(match[1]);
    for (const t of state.tokens) if (hashes.includes(t.hash)) t.revoked = 1;
    return [];
  }
  if ((match = sql.match(/^SELECT handle FROM api_tokens WHERE hash IN \((.*)\) AND revoked = 0;?$/s))) {
    const hashes = values(match[1]);
    return state.tokens.filter((t) => hashes.includes(t.hash) && !t.revoked).map((t) => ({ handle: t.handle }));
  }
  fail(`fake wrangler: unexpected SQL ${sql}`, 3);
}

const [a, b, c] = argv;
if (a === 'kv' && b === 'namespace' && c === 'list') {
  out(JSON.stringify(state.kv.map((k) => ({ id: k.id, title: k.title, supports_url_encoding: true })), null, '  '));
} else if (a === 'kv' && b === 'namespace' && c === 'create') {
  const title = argv[3];
  if (state.kv.some((k) => k.title === title)) fail(`A KV namespace with the title "${title}" already exists.`);
  const id = randomBytes(16).toString('hex');
  state.kv.push({ id, title });
  out(`🌀 Creating namespace with title "${title}"\n✨ Success!\nTo access your new KV Namespace in your Worker, add the following snippet to your configuration file:\n[[kv_namespaces]]\nbinding = "${title}"\nid = "${id}"`);
} else if (a === 'd1' && b === 'list') {
  if (!flag('--json')) fail('fake wrangler: d1 list without --json', 3);
  out(JSON.stringify(state.d1.map((d) => ({ uuid: d.uuid, name: d.name, created_at: d.created_at, version: 'production', num_tables: 0, file_size: 12288 })), null, 2));
} else if (a === 'd1' && b === 'create') {
  const name = argv[2];
  if (state.d1.some((d) => d.name === name)) fail(`A database with that name already exists [code: 7502]`);
  const uuid = randomUUID();
  state.d1.push({ uuid, name, created_at: new Date().toISOString() });
  out(`✅ Successfully created DB '${name}'\nCreated your new D1 database.\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "${name}"\ndatabase_id = "${uuid}"`);
} else if (a === 'queues' && b === 'info') {
  const name = argv[2];
  if (!state.queues.includes(name)) fail(`Queue "${name}" does not exist. To create it, run: wrangler queues create ${name}`);
  out(`Queue Name: ${name}\nQueue ID: ${name}-id\nNumber of Producers: 0\nNumber of Consumers: 0`);
} else if (a === 'queues' && b === 'create') {
  const name = argv[2];
  if (state.queues.includes(name)) fail(`A queue with this name already exists [code: 11009]`);
  state.queues.push(name);
  out(`🌀 Creating queue '${name}'\n✅ Created queue '${name}'`);
} else if (a === 'secret' && b === 'list') {
  const worker = config().name;
  if (!state.workers.includes(worker)) fail(`Worker "${worker}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.`);
  out(JSON.stringify((state.secrets[worker] ?? []).map((name) => ({ name, type: 'secret_text' })), null, '  '));
} else if (a === 'd1' && b === 'migrations' && c === 'apply') {
  if (!flag('--remote')) fail('fake wrangler: migrations apply without --remote', 3);
  const { db, binding } = d1ByName(argv[3]);
  const dir = resolve(binding.migrations_dir ?? 'migrations');
  const applied = (state.migrations[db.uuid] ??= []);
  const pending = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().filter((f) => !applied.includes(f));
  if (!pending.length) out('✅ No migrations to apply!');
  else {
    out(`Migrations to be applied:\n${pending.map((f) => `│ ${f} │`).join('\n')}`);
    applied.push(...pending);
    out(pending.map((f) => `│ ${f} │ ✅ │`).join('\n'));
  }
} else if (a === 'd1' && b === 'execute') {
  if (!flag('--remote') || !flag('--json')) fail('fake wrangler: d1 execute without --remote --json', 3);
  d1ByName(argv[2]);
  const results = execute(option('--command'));
  out(JSON.stringify([{ results, success: true, meta: { changes: 0 } }], null, 2));
} else if (a === 'kv' && b === 'key' && c === 'put') {
  if (!flag('--remote')) fail('fake wrangler: kv key put without --remote', 3);
  const namespace = kvByBinding(option('--binding'));
  const path = option('--path');
  state.kvPuts.push({ key: argv[3], namespace, size: statSync(path).size });
  out(`Writing the contents of ${path} to the key "${argv[3]}" on namespace ${namespace}.`);
} else if (a === 'deploy' && flag('--dry-run')) {
  const cfg = config();
  const outdir = option('--outdir');
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'index.js'), `export default {}; // fake bundle of ${cfg.main}\n${process.env.FAKE_BUNDLE_EXTRA ?? ''}\n`);
  out('Total Upload: 1.00 KiB / gzip: 0.50 KiB\n--dry-run: exiting now.');
} else if (a === 'deploy') {
  const cfg = config();
  for (const ns of cfg.kv_namespaces ?? []) if (!state.kv.some((k) => k.id === ns.id)) fail(`KV namespace '${ns.id}' is not valid. [code: 10041]`);
  for (const db of cfg.d1_databases ?? []) if (!state.d1.some((d) => d.uuid === db.database_id)) fail(`D1 database '${db.database_id}' not found [code: 7404]`);
  const queues = [...(cfg.queues?.producers ?? []).map((p) => p.queue), ...(cfg.queues?.consumers ?? []).map((q) => q.queue)];
  for (const q of queues) if (!state.queues.includes(q)) fail(`Queue "${q}" does not exist. To create it, run: wrangler queues create ${q}`);
  if (!state.workers.includes(cfg.name)) state.workers.push(cfg.name);
  state.deploys.push({ name: cfg.name, vars: cfg.vars, kv: cfg.kv_namespaces, d1: cfg.d1_databases, queues: cfg.queues, crons: cfg.triggers?.crons ?? [] });
  out(`Total Upload: 1.00 KiB / gzip: 0.50 KiB\nUploaded ${cfg.name} (1.23 sec)\nDeployed ${cfg.name} triggers (0.45 sec)\n  https://${cfg.name}.fake-account.workers.dev\n${(cfg.triggers?.crons ?? []).map((cr) => `  schedule: ${cr}`).join('\n')}\nCurrent Version ID: ${randomUUID()}`);
} else {
  fail(`fake wrangler: unsupported command: wrangler ${argv.join(' ')}`, 3);
}
save();
