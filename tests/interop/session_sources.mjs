#!/usr/bin/env node
// Writes a battery of sessions with the REAL Shopify Node session storages (npm), so that
// `shopify-sessions import-from` can be tested against exactly what they store.
//
// stdin: one JSON object {"battery": [SESSION...], "targets": [TARGET...]}
//   SESSION: a session's plain JSON (toObject() with ISO dates; onlineAccessInfo snake_case)
//   TARGET:  {"kind": K, "url": URL?, "path": PATH?, "prefix": P?, "expected": [SESSION...]?}
//     K = postgresql | mysql | sqlite | redis       Shopify's own adapters, real servers/files
//       | drizzle-postgresql | drizzle-mysql | drizzle-sqlite
//       | kv        the real KV adapter on an in-memory KVNamespace; dumped to PATH as
//                   wrangler's bulk JSON ([{"key","value"}]), what `wrangler kv bulk put` reads
//       | mongodb   the real MongoDB adapter, its collection replaced by one that keeps each
//                   document as BSON (serialize + deserialize, like a server); written to PATH
//                   as mongoexport writes: relaxed Extended JSON, one document a line
//       | mongodb-canonical   the same, canonical Extended JSON in one array (--jsonArray)
//   "expected": sessions to compare, with Node's Session.equals, against what the same
//   adapter loads back (so the test's precision rules are checked against the adapter).
// stdout: one JSON line {"ok": true, "results": {KIND: {"written": N, "equals": {ID: BOOL}}}}
//   or {"ok": false, "error": MESSAGE}. Diagnostics go to stderr.
//
// Versions are pinned in package.json; column names and units come from each adapter's
// dist/esm source at that version (see shopify_sessions/importers/ for the citations).

import {writeFileSync} from 'node:fs';

import {Session} from '@shopify/shopify-api';
import {PostgreSQLSessionStorage} from '@shopify/shopify-app-session-storage-postgresql';
import {MySQLSessionStorage} from '@shopify/shopify-app-session-storage-mysql';
import {SQLiteSessionStorage} from '@shopify/shopify-app-session-storage-sqlite';
import {RedisSessionStorage} from '@shopify/shopify-app-session-storage-redis';
import {KVSessionStorage} from '@shopify/shopify-app-session-storage-kv';
import {MongoDBSessionStorage} from '@shopify/shopify-app-session-storage-mongodb';
import {
  DrizzleSessionStorageMySQL,
  DrizzleSessionStoragePostgres,
  DrizzleSessionStorageSQLite,
} from '@shopify/shopify-app-session-storage-drizzle';
import {BSON, EJSON, ObjectId} from 'bson';
import {drizzle as drizzlePg} from 'drizzle-orm/node-postgres';
import {drizzle as drizzleMysql} from 'drizzle-orm/mysql2';
import {drizzle as drizzleSqliteProxy} from 'drizzle-orm/sqlite-proxy';
import * as pgCore from 'drizzle-orm/pg-core';
import * as mysqlCore from 'drizzle-orm/mysql-core';
import * as sqliteCore from 'drizzle-orm/sqlite-core';
import mysql from 'mysql2/promise';
import pg from 'pg';
import sqlite3 from 'sqlite3';

for (const name of ['log', 'info', 'debug', 'trace', 'dir', 'table']) {
  console[name] = (...args) => console.error(...args);
}

// A session's plain JSON -> a Node Session (dates back to Date objects).
function toSession(obj) {
  const params = {...obj};
  for (const key of ['expires', 'refreshTokenExpires']) {
    if (params[key]) params[key] = new Date(params[key]);
  }
  return new Session(params);
}

// --- Drizzle: the README's schemas, plus the columns the adapter writes ------------------
// (drizzle adapter 6.0.0, dist/esm/adapters/*.mjs sessionToRow: firstName ... refreshToken,
// refreshTokenExpires; the README shows only the first eight columns).

const pgSessionTable = pgCore.pgTable('session', {
  id: pgCore.text('id').primaryKey(),
  shop: pgCore.text('shop').notNull(),
  state: pgCore.text('state').notNull(),
  isOnline: pgCore.boolean('isOnline').default(false).notNull(),
  scope: pgCore.text('scope'),
  expires: pgCore.timestamp('expires', {mode: 'date'}),
  accessToken: pgCore.text('accessToken'),
  userId: pgCore.bigint('userId', {mode: 'number'}),
  firstName: pgCore.text('firstName'),
  lastName: pgCore.text('lastName'),
  email: pgCore.text('email'),
  accountOwner: pgCore.boolean('accountOwner'),
  locale: pgCore.text('locale'),
  collaborator: pgCore.boolean('collaborator'),
  emailVerified: pgCore.boolean('emailVerified'),
  refreshToken: pgCore.text('refreshToken'),
  refreshTokenExpires: pgCore.timestamp('refreshTokenExpires', {mode: 'date'}),
});
// what drizzle-kit generates for the table above
const PG_DDL = `CREATE TABLE IF NOT EXISTS "session" (
  "id" text PRIMARY KEY NOT NULL, "shop" text NOT NULL, "state" text NOT NULL,
  "isOnline" boolean DEFAULT false NOT NULL, "scope" text, "expires" timestamp,
  "accessToken" text, "userId" bigint, "firstName" text, "lastName" text, "email" text,
  "accountOwner" boolean, "locale" text, "collaborator" boolean, "emailVerified" boolean,
  "refreshToken" text, "refreshTokenExpires" timestamp)`;

const mysqlSessionTable = mysqlCore.mysqlTable('session', {
  id: mysqlCore.varchar('id', {length: 255}).primaryKey(),
  shop: mysqlCore.text('shop').notNull(),
  state: mysqlCore.text('state').notNull(),
  isOnline: mysqlCore.boolean('isOnline').default(false).notNull(),
  scope: mysqlCore.text('scope'),
  expires: mysqlCore.timestamp('expires', {mode: 'date'}),
  accessToken: mysqlCore.text('accessToken'),
  userId: mysqlCore.bigint('userId', {mode: 'number'}),
  firstName: mysqlCore.text('firstName'),
  lastName: mysqlCore.text('lastName'),
  email: mysqlCore.text('email'),
  accountOwner: mysqlCore.boolean('accountOwner'),
  locale: mysqlCore.text('locale'),
  collaborator: mysqlCore.boolean('collaborator'),
  emailVerified: mysqlCore.boolean('emailVerified'),
  refreshToken: mysqlCore.text('refreshToken'),
  refreshTokenExpires: mysqlCore.timestamp('refreshTokenExpires', {mode: 'date'}),
});
const MYSQL_DDL = `CREATE TABLE IF NOT EXISTS \`session\` (
  \`id\` varchar(255) NOT NULL, \`shop\` text NOT NULL, \`state\` text NOT NULL,
  \`isOnline\` boolean NOT NULL DEFAULT false, \`scope\` text,
  \`expires\` timestamp NULL DEFAULT NULL, \`accessToken\` text, \`userId\` bigint,
  \`firstName\` text, \`lastName\` text, \`email\` text, \`accountOwner\` boolean,
  \`locale\` text, \`collaborator\` boolean, \`emailVerified\` boolean, \`refreshToken\` text,
  \`refreshTokenExpires\` timestamp NULL DEFAULT NULL,
  CONSTRAINT \`session_id\` PRIMARY KEY(\`id\`)) DEFAULT CHARSET=utf8mb4`;

const sqliteSessionTable = sqliteCore.sqliteTable('session', {
  id: sqliteCore.text('id').primaryKey(),
  shop: sqliteCore.text('shop').notNull(),
  state: sqliteCore.text('state').notNull(),
  isOnline: sqliteCore.integer('isOnline', {mode: 'boolean'}).notNull().default(false),
  scope: sqliteCore.text('scope'),
  expires: sqliteCore.text('expires'),
  accessToken: sqliteCore.text('accessToken'),
  userId: sqliteCore.blob('userId', {mode: 'bigint'}),
  firstName: sqliteCore.text('firstName'),
  lastName: sqliteCore.text('lastName'),
  email: sqliteCore.text('email'),
  accountOwner: sqliteCore.integer('accountOwner', {mode: 'boolean'}),
  locale: sqliteCore.text('locale'),
  collaborator: sqliteCore.integer('collaborator', {mode: 'boolean'}),
  emailVerified: sqliteCore.integer('emailVerified', {mode: 'boolean'}),
  refreshToken: sqliteCore.text('refreshToken'),
  refreshTokenExpires: sqliteCore.text('refreshTokenExpires'),
});
const SQLITE_DDL = `CREATE TABLE IF NOT EXISTS \`session\` (
  \`id\` text PRIMARY KEY NOT NULL, \`shop\` text NOT NULL, \`state\` text NOT NULL,
  \`isOnline\` integer DEFAULT false NOT NULL, \`scope\` text, \`expires\` text,
  \`accessToken\` text, \`userId\` blob, \`firstName\` text, \`lastName\` text, \`email\` text,
  \`accountOwner\` integer, \`locale\` text, \`collaborator\` integer,
  \`emailVerified\` integer, \`refreshToken\` text, \`refreshTokenExpires\` text)`;

// --- sqlite3 as a promise-returning helper ----------------------------------------------

function openSqlite(path) {
  const db = new sqlite3.Database(path);
  const call = (method, sql, params = []) =>
    new Promise((resolve, reject) =>
      db[method](sql, params, (error, rows) => (error ? reject(error) : resolve(rows))),
    );
  return {
    run: (sql, params) => call('run', sql, params),
    all: (sql, params) => call('all', sql, params),
    close: () => new Promise((resolve) => db.close(() => resolve())),
    raw: db,
  };
}

// Drizzle's sqlite-proxy driver over the sqlite3 package: the rows are encoded by drizzle's
// own column classes (ISO text dates, 0/1 booleans, the userId blob), as with any driver.
function drizzleOverSqlite(db) {
  return drizzleSqliteProxy(async (sql, params, method) => {
    if (method === 'run') {
      await db.run(sql, params);
      return {rows: []};
    }
    const rows = await new Promise((resolve, reject) =>
      db.raw.all(sql, params, (error, found) => (error ? reject(error) : resolve(found))),
    );
    const arrays = rows.map((row) => Object.values(row));
    return {rows: method === 'get' ? arrays[0] : arrays};
  });
}

// --- stand-ins for what cannot run here: Cloudflare KV and a MongoDB server --------------

class MemoryKVNamespace {
  map = new Map();
  async get(key, options) {
    const value = this.map.get(key);
    if (value === undefined) return null;
    const type = typeof options === 'string' ? options : options?.type;
    return type === 'json' ? JSON.parse(value) : value;
  }
  async put(key, value) {
    this.map.set(key, String(value));
  }
  async delete(key) {
    this.map.delete(key);
  }
}

class BsonCollection {
  docs = [];
  async findOneAndReplace(filter, replacement, {upsert}) {
    const index = this.docs.findIndex((doc) => doc.id === filter.id);
    const _id = index >= 0 ? this.docs[index]._id : new ObjectId();
    const stored = BSON.deserialize(BSON.serialize({_id, ...replacement}));
    if (index >= 0) this.docs[index] = stored;
    else if (upsert) this.docs.push(stored);
    return null;
  }
  async findOne(filter) {
    return this.docs.find((doc) => doc.id === filter.id) ?? null;
  }
}

function mongoStorage(collection) {
  // the real class, without its constructor's connect(): its methods use `this.collection`
  // (client.db(name).collection(name)) after `await this.ready`
  const storage = Object.create(MongoDBSessionStorage.prototype);
  storage.ready = Promise.resolve();
  storage.dbName = 'sessions';
  storage.options = {sessionCollectionName: 'shopify_sessions'};
  storage.client = {db: () => ({collection: () => collection})};
  return storage;
}

// --- targets ----------------------------------------------------------------------------

async function withTarget(target, work) {
  switch (target.kind) {
    case 'postgresql': {
      const storage = new PostgreSQLSessionStorage(target.url);
      try { return await work(storage); } finally { await storage.disconnect(); }
    }
    case 'mysql': {
      const storage = new MySQLSessionStorage(target.url);
      try { return await work(storage); } finally { await storage.disconnect(); }
    }
    case 'sqlite': {
      const storage = new SQLiteSessionStorage(target.path);
      try { return await work(storage); } finally { await storage.db?.db?.close?.(); }
    }
    case 'redis': {
      const opts = target.prefix ? {sessionKeyPrefix: target.prefix} : {};
      const storage = new RedisSessionStorage(target.url, opts);
      try { return await work(storage); } finally { await storage.disconnect(); }
    }
    case 'drizzle-postgresql': {
      const pool = new pg.Pool({connectionString: target.url});
      await pool.query(PG_DDL);
      try {
        return await work(new DrizzleSessionStoragePostgres(drizzlePg(pool), pgSessionTable));
      } finally { await pool.end(); }
    }
    case 'drizzle-mysql': {
      const pool = mysql.createPool(target.url);
      await pool.query(MYSQL_DDL);
      try {
        return await work(
          new DrizzleSessionStorageMySQL(drizzleMysql(pool), mysqlSessionTable),
        );
      } finally { await pool.end(); }
    }
    case 'drizzle-sqlite': {
      const db = openSqlite(target.path);
      await db.run(SQLITE_DDL);
      try {
        return await work(
          new DrizzleSessionStorageSQLite(drizzleOverSqlite(db), sqliteSessionTable),
        );
      } finally { await db.close(); }
    }
    case 'kv': {
      const namespace = new MemoryKVNamespace();
      const result = await work(new KVSessionStorage(namespace));
      const dump = [...namespace.map].map(([key, value]) => ({key, value}));
      writeFileSync(target.path, JSON.stringify(dump, null, 2));
      return result;
    }
    case 'mongodb':
    case 'mongodb-canonical': {
      const collection = new BsonCollection();
      const result = await work(mongoStorage(collection));
      const relaxed = target.kind === 'mongodb';
      const text = relaxed
        ? collection.docs.map((doc) => EJSON.stringify(doc, {relaxed: true})).join('\n') + '\n'
        : EJSON.stringify(collection.docs, {relaxed: false}, 2);
      writeFileSync(target.path, text);
      return result;
    }
    default:
      throw new Error(`unknown target kind ${target.kind}`);
  }
}

async function writeTarget(target, battery) {
  return withTarget(target, async (storage) => {
    for (const obj of battery) {
      await storage.storeSession(toSession(obj));
    }
    const equals = {};
    for (const obj of target.expected ?? []) {
      const loaded = await storage.loadSession(obj.id);
      equals[obj.id] = Boolean(loaded) && toSession(obj).equals(loaded);
    }
    return {written: battery.length, equals};
  });
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = {};
  for (const target of request.targets) {
    try {
      results[target.kind] = await writeTarget(target, request.battery);
    } catch (error) {
      throw new Error(`${target.kind}: ${error?.stack ?? error}`);
    }
  }
  process.stdout.write(`${JSON.stringify({ok: true, results})}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stdout.write(`${JSON.stringify({ok: false, error: String(error?.message ?? error)})}\n`);
    process.exit(1);
  },
);
