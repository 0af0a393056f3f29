// Runs SQL statements through DuckDB and prints canonical JSON for the Parquet tests.
// Usage: node duckdb_query.mjs <tools-node_modules-dir>  (stdin: JSON array of SQL strings)
// Output: JSON array, one entry per statement: {columns, types, rows} or {error}.
// Canonical values: integers as decimal strings (no BigInt precision loss), NaN/±Infinity
// as strings, -0 as "-0", blobs as {"hex": ...}, timestamps as epoch microseconds strings,
// lists as arrays, structs as objects.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

const require = createRequire(path.join(path.resolve(process.argv[2]), 'noop.js'));
const duck = require('@duckdb/node-api');

function conv(v) {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'bigint': return v.toString();
    case 'number':
      if (Number.isNaN(v)) return 'NaN';
      if (v === Infinity) return 'Infinity';
      if (v === -Infinity) return '-Infinity';
      if (Object.is(v, -0)) return '-0';
      return v;
    case 'boolean': case 'string': return v;
  }
  if (v instanceof duck.DuckDBBlobValue) return { hex: Buffer.from(v.bytes).toString('hex') };
  if (v instanceof duck.DuckDBListValue || v instanceof duck.DuckDBArrayValue) return v.items.map(conv);
  if (v instanceof duck.DuckDBStructValue) {
    const o = {};
    for (const [k, x] of Object.entries(v.entries)) o[k] = conv(x);
    return o;
  }
  if (v instanceof duck.DuckDBMapValue) return v.entries.map(e => ({ key: conv(e.key), value: conv(e.value) }));
  if ('micros' in v) return v.micros.toString();
  if ('millis' in v) return v.millis.toString();
  if ('nanos' in v) return v.nanos.toString();
  if ('days' in v && Object.keys(v).length === 1) return String(v.days);
  return v.toString();
}

const statements = JSON.parse(fs.readFileSync(0, 'utf8'));
const instance = await duck.DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
const out = [];
for (const sql of statements) {
  try {
    const reader = await conn.runAndReadAll(sql);
    const columns = reader.columnNames();
    const types = reader.columnTypes().map(t => t.toString());
    const rows = reader.getRows().map(r => r.map(conv));
    out.push({ columns, types, rows });
  } catch (e) {
    out.push({ error: String(e && e.message || e) });
  }
}
process.stdout.write(JSON.stringify(out));
