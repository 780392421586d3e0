#!/usr/bin/env node
// The Node half of tests/test_differential.py: observes the real @shopify/shopify-api 15.0.0
// classes (Session, AuthScopes) and the DynamoDB adapter 8.0.0's own serializeSession /
// deserializeSession (methods of a DynamoDBSessionStorage that never sends a request).
//
// stdin:  one JSON batch per line: {"now": MS, "tz": "UTC", "cases": [CASE, ...]}
// stdout: `{"ready":true}` once, then one line per batch: {"results": [OBSERVATION, ...]}
//
// CASE is one of
//   {"kind":"session", "params":{...}, "probes":PROBES}   new Session(params); dates {"$date":ms}
//   {"kind":"pa", "entries":[[k,v],...], "rud":BOOL, "probes":PROBES}   Session.fromPropertyArray
//   {"kind":"item", "item":{DynamoDB JSON}, "probes":PROBES}             adapter.deserializeSession
//   {"kind":"scopes", "a":SCOPES, "b":SCOPES}     SCOPES: string | array | null | {"$scopes":SCOPES}
// PROBES: {"withins":[ms...], "scopes":[SCOPES...]}; null in "scopes" means undefined.
// Date.now() is frozen at "now" and at instants around `expires` (see observeSession).
// Python builds the same observations (tests/support/differential.py); the shapes must match.

import {createInterface} from 'node:readline';

import {AuthScopes, Session} from '@shopify/shopify-api';
import {DynamoDBSessionStorage} from '@shopify/shopify-app-session-storage-dynamodb';

for (const name of ['log', 'info', 'debug', 'trace', 'dir', 'table', 'warn']) {
  console[name] = (...args) => console.error(...args);
}

// No request is ever sent: only the adapter's (de)serialisation methods are called.
const adapter = new DynamoDBSessionStorage({
  config: {region: 'us-east-1', credentials: {accessKeyId: 'x', secretAccessKey: 'x'}},
});

const FIELDS = [
  'id', 'shop', 'state', 'isOnline', 'scope', 'expires', 'accessToken', 'refreshToken',
  'refreshTokenExpires', 'onlineAccessInfo',
];
let now = 0;
Date.now = () => now;

function enc(value) {
  if (value instanceof Date) {
    const ms = value.getTime();
    return {$date: Number.isNaN(ms) ? null : ms};
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return {$nan: String(value)};
  if (typeof value === 'bigint') return {$bigint: value.toString()};
  if (value instanceof Set) return {$set: [...value].map(enc)};
  if (value instanceof Uint8Array) return {$bytes: Buffer.from(value).toString('base64')};
  if (Array.isArray(value)) return value.map(enc);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [key, inner] of Object.entries(value)) {
      if (inner !== undefined) out[key] = enc(inner);
    }
    return out;
  }
  return value;
}

function dec(value) {
  if (Array.isArray(value)) return value.map(dec);
  if (value && typeof value === 'object') {
    if ('$date' in value) return new Date(value.$date);
    const out = {};
    for (const [key, inner] of Object.entries(value)) out[key] = dec(inner);
    return out;
  }
  return value;
}

function scopesArg(spec) {
  if (spec === null) return undefined;
  if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
    return new AuthScopes(scopesArg(spec.$scopes));
  }
  return spec;
}

function attempt(fn) {
  try {
    return enc(fn());
  } catch (error) {
    return {error: 'node', message: String(error && error.message)};
  }
}

function view(session) {
  const out = {};
  for (const key of FIELDS) {
    const value = session[key];
    if (value !== undefined && value !== null) out[key] = enc(value);
  }
  return out;
}

function clone(session) {
  const params = {};
  for (const [key, value] of Object.entries(session)) params[key] = value;
  if (session.onlineAccessInfo && typeof session.onlineAccessInfo === 'object') {
    params.onlineAccessInfo = structuredClone(session.onlineAccessInfo);
  }
  return new Session(params);
}

// The same six changes Python makes (tests/support/differential.py, MUTATIONS); null: n/a.
const MUTATIONS = [
  (s) => { s.state = `${s.state}~`; return s; },
  (s) => { s.accessToken = `${s.accessToken || ''}~`; return s; },
  (s) => { s.isOnline = !s.isOnline; return s; },
  (s) => (s.expires ? ((s.expires = new Date(s.expires.getTime() + 1)), s) : null),
  (s) => (s.onlineAccessInfo ? ((s.onlineAccessInfo.expires_in = (s.onlineAccessInfo.expires_in || 0) + 1), s) : null),
  (s) => {
    const user = s.onlineAccessInfo && s.onlineAccessInfo.associated_user;
    if (!user || user.id === undefined || user.id === null) return null;
    user.email = `${user.email || ''}~`;
    return s;
  },
];

function other(session, build) {
  let built;
  try {
    built = build();
  } catch (error) {
    return {error: 'node', message: String(error && error.message)};
  }
  return {fields: view(built), equals: attempt(() => session.equals(built))};
}

function observeSession(session, probes) {
  const expires = session.expires instanceof Date ? session.expires.getTime() : NaN;
  const instants = [probes.now];
  if (!Number.isNaN(expires)) {
    for (const delta of [-501, -500, -499, -1, 0, 1]) instants.push(expires + delta);
  }
  const expired = [];
  const active = [];
  for (const instant of instants) {
    now = instant;
    for (const within of probes.withins) expired.push(attempt(() => session.isExpired(within)));
    for (const spec of probes.scopes) {
      active.push(attempt(() => session.isActive(scopesArg(spec))));
      for (const within of probes.withins) {
        active.push(attempt(() => session.isActive(scopesArg(spec), within)));
      }
    }
  }
  now = probes.now;
  const obs = {
    fields: view(session),
    instants,
    expired,
    active,
    included: probes.scopes.map((spec) => attempt(() => session.isScopeIncluded(scopesArg(spec)))),
    changed: probes.scopes.map((spec) => attempt(() => session.isScopeChanged(scopesArg(spec)))),
    pa: attempt(() => session.toPropertyArray()),
    paUser: attempt(() => session.toPropertyArray(true)),
    item: attempt(() => adapter.serializeSession(session)),
  };
  obs.reread = obs.item.error ? null : other(session, () => adapter.deserializeSession(obs.item));
  obs.fromPa = obs.paUser.error
    ? null
    : other(session, () => Session.fromPropertyArray(obs.paUser, true));
  obs.fromPaNoUser = obs.pa.error
    ? null
    : other(session, () => Session.fromPropertyArray(obs.pa, false));
  obs.mutants = MUTATIONS.map((mutate) => attempt(() => {
    const mutant = mutate(clone(session));
    return mutant === null ? null : session.equals(mutant);
  }));
  return obs;
}

function observeScopes(spec) {
  const a = scopesArg(spec.a);
  const b = scopesArg(spec.b);
  return attempt(() => {
    const left = a instanceof AuthScopes ? a : new AuthScopes(a);
    const right = b instanceof AuthScopes ? b : new AuthScopes(b);
    return {
      a: {string: left.toString(), array: left.toArray()},
      b: {string: right.toString(), array: right.toArray()},
      aHasB: left.has(b),
      bHasA: right.has(a),
      aEqualsB: left.equals(b),
      bEqualsA: right.equals(a),
    };
  });
}

function observe(item, batch) {
  const probes = {...(item.probes || {withins: [0], scopes: [null]}), now: batch.now};
  now = batch.now;
  let session;
  try {
    if (item.kind === 'scopes') return observeScopes(item);
    if (item.kind === 'session') session = new Session(dec(item.params));
    else if (item.kind === 'pa') session = Session.fromPropertyArray(item.entries, item.rud);
    else if (item.kind === 'item') session = adapter.deserializeSession(item.item);
    else throw new Error(`unknown case kind ${item.kind}`);
  } catch (error) {
    return {error: 'node', message: String(error && error.message)};
  }
  return observeSession(session, probes);
}

process.stdout.write(`${JSON.stringify({ready: true})}\n`);
const lines = createInterface({input: process.stdin, crlfDelay: Infinity});
for await (const line of lines) {
  if (!line.trim()) continue;
  const batch = JSON.parse(line);
  process.env.TZ = batch.tz || 'UTC';
  const results = batch.cases.map((item) => observe(item, batch));
  process.stdout.write(`${JSON.stringify({results})}\n`);
}
