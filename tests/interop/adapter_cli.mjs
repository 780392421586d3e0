#!/usr/bin/env node
// Drives the real @shopify/shopify-app-session-storage-dynamodb adapter over JSON Lines.
//
// stdin:  one JSON request per line.
// stdout: `{"ready":true}` once, then exactly one JSON response per request line.
//         Nothing else is ever written to stdout; diagnostics go to stderr.
//
// Configuration (argv wins over env):
//   --endpoint URL   | INTEROP_ENDPOINT_URL   (required)
//   --region NAME    | INTEROP_REGION         (default us-east-1)
//   --table NAME     | INTEROP_TABLE          (default: the adapter's default, shopify_sessions)
//   --index NAME     | INTEROP_INDEX          (default: the adapter's default, shop_index)
//
// Requests (each may carry "rid", echoed back in the response; store, load, find, delete and
// deleteMany may carry "table": another table, same index, through its own adapter instance):
//   {"op":"store","session":OBJ}                  -> {"ok":true,"result":true}
//   {"op":"load","id":ID,"expect":OBJ?}           -> {"ok":true,"result":OBJ|null,"equals":BOOL|null}
//   {"op":"find","shop":SHOP}                     -> {"ok":true,"result":[ids...]}
//   {"op":"delete","id":ID}                       -> {"ok":true,"result":BOOL}
//   {"op":"deleteMany","ids":[...]}               -> {"ok":true,"result":BOOL}
//   {"op":"timed","what":W,"args":{...},"repeat":N}
//        W in store|load|find|delete|deleteMany, args as for that op
//                                                 -> {"ok":true,"result":LAST,"ms":[...]}
//   {"op":"createTable"}                          -> {"ok":true,"result":true}
//   errors                                        -> {"ok":false,"error":"message"}

import {createInterface} from 'node:readline';
import {performance} from 'node:perf_hooks';

import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {Session} from '@shopify/shopify-api';
import {DynamoDBSessionStorage} from '@shopify/shopify-app-session-storage-dynamodb';

// Keep stdout exclusively for protocol lines, whatever a library may try to log.
for (const name of ['log', 'info', 'debug', 'trace', 'dir', 'table']) {
  console[name] = (...args) => console.error(...args);
}

function writeLine(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([A-Za-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument: ${arg}`);
    const key = m[1];
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new Error(`missing value for --${key}`);
    }
    out[key] = value;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const endpoint = args.endpoint ?? process.env.INTEROP_ENDPOINT_URL;
const region = args.region ?? process.env.INTEROP_REGION ?? 'us-east-1';
const tableName = args.table ?? process.env.INTEROP_TABLE ?? 'shopify_sessions';
const indexName = args.index ?? process.env.INTEROP_INDEX ?? 'shop_index';
if (!endpoint) {
  console.error('adapter_cli: --endpoint or INTEROP_ENDPOINT_URL is required');
  process.exit(2);
}

const clientConfig = {
  endpoint,
  region,
  credentials: {accessKeyId: 'test', secretAccessKey: 'test'},
};

// The adapter's constructor: new DynamoDBSessionStorage({sessionTableName, shopIndexName, config})
// where config is a DynamoDBClientConfig handed to `new DynamoDBClient({...config})`.
const storage = new DynamoDBSessionStorage({
  sessionTableName: tableName,
  shopIndexName: indexName,
  config: clientConfig,
});
// Separate plain client for table administration (the adapter has no such call).
const adminClient = new DynamoDBClient(clientConfig);
// One adapter per table a request names (a process shared by tests on tables of their own).
const storages = new Map([[tableName, storage]]);

function storageFor(req) {
  if (req.table === undefined) return storage;
  const name = requireString(req.table, 'table');
  if (!storages.has(name)) {
    storages.set(
      name,
      new DynamoDBSessionStorage({
        sessionTableName: name,
        shopIndexName: indexName,
        config: clientConfig,
      }),
    );
  }
  return storages.get(name);
}

const DATE_KEYS = ['expires', 'refreshTokenExpires'];

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function requireString(value, what) {
  if (typeof value !== 'string') throw new Error(`${what} must be a string`);
  return value;
}

// Plain JSON form (Node item form, ISO date strings) -> Session.
function toSession(obj) {
  if (!isPlainObject(obj)) throw new Error('session must be a JSON object');
  const params = {...obj};
  for (const key of DATE_KEYS) {
    const value = params[key];
    if (typeof value === 'string' || typeof value === 'number') {
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) {
        throw new Error(`invalid date in ${key}: ${JSON.stringify(value)}`);
      }
      params[key] = date;
    }
  }
  return new Session(params);
}

function dropUndefined(value) {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(dropUndefined);
  if (isPlainObject(value)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = dropUndefined(v);
    }
    return out;
  }
  return value;
}

// Session -> plain JSON form: toObject() with dates as ISO strings, undefined keys removed.
function fromSession(session) {
  const obj = session.toObject();
  for (const key of DATE_KEYS) {
    if (obj[key] instanceof Date) obj[key] = obj[key].toISOString();
  }
  return dropUndefined(obj);
}

async function opStore(req) {
  return storageFor(req).storeSession(toSession(req.session));
}

async function opLoad(req) {
  const id = requireString(req.id, 'id');
  const loaded = await storageFor(req).loadSession(id);
  let equals = null;
  if (req.expect !== undefined && req.expect !== null) {
    equals = loaded ? loaded.equals(toSession(req.expect)) : false;
  }
  return {result: loaded ? fromSession(loaded) : null, equals};
}

async function opFind(req) {
  const shop = requireString(req.shop, 'shop');
  const sessions = await storageFor(req).findSessionsByShop(shop);
  return sessions.map((s) => s.id);
}

async function opDelete(req) {
  return storageFor(req).deleteSession(requireString(req.id, 'id'));
}

async function opDeleteMany(req) {
  if (!Array.isArray(req.ids)) throw new Error('ids must be an array of strings');
  req.ids.forEach((id, i) => requireString(id, `ids[${i}]`));
  return storageFor(req).deleteSessions(req.ids);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function opCreateTable() {
  try {
    await adminClient.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          {AttributeName: 'id', AttributeType: 'S'},
          {AttributeName: 'shop', AttributeType: 'S'},
        ],
        KeySchema: [{AttributeName: 'id', KeyType: 'HASH'}],
        GlobalSecondaryIndexes: [
          {
            IndexName: indexName,
            KeySchema: [{AttributeName: 'shop', KeyType: 'HASH'}],
            Projection: {ProjectionType: 'KEYS_ONLY'},
            ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1},
          },
        ],
        ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1},
      }),
    );
  } catch (err) {
    if (err?.name !== 'ResourceInUseException') throw err;
  }
  // Poll ourselves: the SDK's waitUntilTableExists has a 20 s minimum delay and ignores GSIs.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const {Table: table} = await adminClient.send(
      new DescribeTableCommand({TableName: tableName}),
    );
    const indexesActive = (table?.GlobalSecondaryIndexes ?? []).every(
      (gsi) => gsi.IndexStatus === 'ACTIVE',
    );
    if (table?.TableStatus === 'ACTIVE' && indexesActive) return true;
    if (Date.now() > deadline) {
      throw new Error(`table ${tableName} not ACTIVE after 60 s (status ${table?.TableStatus})`);
    }
    await sleep(25);
  }
}

// Operations that can be timed; each returns the value reported as "result".
const TIMEABLE = {
  store: opStore,
  load: async (req) => (await opLoad(req)).result,
  find: opFind,
  delete: opDelete,
  deleteMany: opDeleteMany,
};

async function opTimed(req) {
  const fn = Object.hasOwn(TIMEABLE, req.what) ? TIMEABLE[req.what] : undefined;
  if (!fn) {
    throw new Error(`timed: unknown "what" ${JSON.stringify(req.what)}; expected one of ${Object.keys(TIMEABLE).join(', ')}`);
  }
  const opArgs = req.args ?? {};
  if (!isPlainObject(opArgs)) throw new Error('timed: args must be an object');
  const repeat = req.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error('timed: repeat must be a positive integer');
  const ms = [];
  let result;
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    result = await fn(opArgs);
    ms.push(performance.now() - start);
  }
  return {result, ms};
}

async function handle(req) {
  if (!isPlainObject(req)) throw new Error('request must be a JSON object');
  switch (req.op) {
    case 'store':
      return {result: await opStore(req)};
    case 'load':
      return opLoad(req);
    case 'find':
      return {result: await opFind(req)};
    case 'delete':
      return {result: await opDelete(req)};
    case 'deleteMany':
      return {result: await opDeleteMany(req)};
    case 'timed':
      return opTimed(req);
    case 'createTable':
      return {result: await opCreateTable()};
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

function errorMessage(err) {
  if (err instanceof Error) {
    const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
    return `${name}${err.message}`;
  }
  return String(err);
}

async function processLine(line) {
  if (!line.trim()) return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    writeLine({ok: false, error: `invalid JSON request: ${errorMessage(err)}`});
    return;
  }
  const rid = isPlainObject(req) && 'rid' in req ? {rid: req.rid} : {};
  try {
    const body = await handle(req);
    writeLine({...rid, ok: true, ...body});
  } catch (err) {
    console.error(`adapter_cli: request failed: ${err?.stack ?? err}`);
    writeLine({...rid, ok: false, error: errorMessage(err)});
  }
}

process.on('unhandledRejection', (err) => {
  console.error(`adapter_cli: unhandled rejection: ${err?.stack ?? err}`);
});
process.on('uncaughtException', (err) => {
  console.error(`adapter_cli: uncaught exception: ${err?.stack ?? err}`);
});

// Requests are answered strictly in order, one at a time.
let queue = Promise.resolve();
const rl = createInterface({input: process.stdin, crlfDelay: Infinity});
rl.on('line', (line) => {
  queue = queue.then(() => processLine(line));
});
rl.on('close', () => {
  queue.finally(() => {
    adminClient.destroy();
    process.exit(0);
  });
});

writeLine({ready: true});
