#!/usr/bin/env node
// The bench's warm Node process for concurrent calls: the real
// @shopify/shopify-app-session-storage-dynamodb adapter, N calls at once with Promise.all.
//
// stdin:  one JSON request per line; stdout: `{"ready":true}`, then one JSON answer per line.
// Requests (each answer carries "ms": performance.now() around the Promise.all only):
//   {"op":"prepare","sessions":[OBJ...]}   -> {"ok":true,"count":N}   (Session objects, kept)
//   {"op":"loadAll","ids":[...]}           -> {"ok":true,"ms":MS,"found":N}
//   {"op":"storeAll"}                      -> {"ok":true,"ms":MS,"stored":N}   (the prepared)
//   {"op":"findAll","shops":[...]}         -> {"ok":true,"ms":MS,"counts":[N...]}
//   errors                                 -> {"ok":false,"error":"message"}
// Argv: --endpoint URL --table NAME --index NAME.
//
// The adapter and @shopify/shopify-api come from tests/interop/node_modules, both through
// require(), so the adapter and this script share one Session class.

import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';
import {createInterface} from 'node:readline';

const require = createRequire(new URL('../tests/interop/package.json', import.meta.url));
const {DynamoDBSessionStorage} = require('@shopify/shopify-app-session-storage-dynamodb');
const {Session} = require('@shopify/shopify-api');

for (const name of ['log', 'info', 'debug', 'trace', 'dir', 'table']) {
  console[name] = (...args) => console.error(...args);
}

function option(name) {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : undefined;
  if (value === undefined) {
    console.error(`node_bulk: --${name} is required`);
    process.exit(2);
  }
  return value;
}

const storage = new DynamoDBSessionStorage({
  sessionTableName: option('table'),
  shopIndexName: option('index'),
  config: {
    endpoint: option('endpoint'),
    region: 'us-east-1',
    credentials: {accessKeyId: 'test', secretAccessKey: 'test'},
  },
});

let prepared = [];

function toSession(obj) {
  const params = {...obj};
  for (const key of ['expires', 'refreshTokenExpires']) {
    if (typeof params[key] === 'string') params[key] = new Date(params[key]);
  }
  return new Session(params);
}

async function timed(fn) {
  const start = performance.now();
  const result = await fn();
  return {ms: performance.now() - start, result};
}

async function handle(req) {
  switch (req.op) {
    case 'prepare':
      prepared = req.sessions.map(toSession);
      return {count: prepared.length};
    case 'loadAll': {
      const {ms, result} = await timed(() =>
        Promise.all(req.ids.map((id) => storage.loadSession(id))),
      );
      return {ms, found: result.filter((s) => s !== undefined).length};
    }
    case 'storeAll': {
      const {ms, result} = await timed(() =>
        Promise.all(prepared.map((s) => storage.storeSession(s))),
      );
      return {ms, stored: result.filter(Boolean).length};
    }
    case 'findAll': {
      const {ms, result} = await timed(() =>
        Promise.all(req.shops.map((shop) => storage.findSessionsByShop(shop))),
      );
      return {ms, counts: result.map((sessions) => sessions.length)};
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

// One request at a time, in order.
let queue = Promise.resolve();
const rl = createInterface({input: process.stdin, crlfDelay: Infinity});
rl.on('line', (line) => {
  queue = queue.then(async () => {
    try {
      const body = await handle(JSON.parse(line));
      process.stdout.write(`${JSON.stringify({ok: true, ...body})}\n`);
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ok: false, error: String(err?.stack ?? err)})}\n`);
    }
  });
});
rl.on('close', () => {
  queue.finally(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ready: true})}\n`);
