// compare_duckdb.mjs — DuckDB's side of bench/compare (run.sh drives it;
// @duckdb/node-api is installed under bench/compare/node_modules by run.sh).
//
//   node compare_duckdb.mjs COLUMNS.txt DATA.csv SEGMENTS.sql OUTDIR THREADS
//
// Loads the CSV into an in-memory table `subs` (read_csv with every column
// typed from COLUMNS.txt; money as integer fen, dates as days since
// 1970-01-01, bools 0/1, the key normalized as the schema's msisdn-cn says,
// empty cells NULL) and indexes the key; creates the view seg_tags from
// SEGMENTS.sql; then times tag-all (per-tag counts) and the select with 1
// thread and with THREADS threads (SET threads), best of 3, and point
// lookups of every tag (p50/p99).  Figures go to standard output as
// "name value" lines; OUTDIR/duckdb.masks, duckdb.counts and duckdb.select
// hold the answers (the formats of compare_cp's).
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [colsPath, csvPath, segPath, outdir, threadsArg] = process.argv.slice(2);
if (!outdir) {
  console.error('usage: node compare_duckdb.mjs COLUMNS.txt DATA.csv SEGMENTS.sql OUTDIR THREADS');
  process.exit(2);
}
const threads = Number(threadsArg || 2);
const out = (name, value) => console.log(`${name} ${value}`);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const sq = (s) => `'${s.replace(/'/g, "''")}'`;

const cols = readFileSync(colsPath, 'utf8').trim().split('\n').map((l) => {
  const [name, type] = l.trim().split(/\s+/);
  return { name, type };
});
const readType = { key: 'VARCHAR', text: 'VARCHAR', int: 'BIGINT', float: 'DOUBLE',
  money: 'DECIMAL(18,2)', date: 'DATE', bool: 'VARCHAR' };
const convert = ({ name, type }) => {
  switch (type) {
    case 'money': return `CAST(${name} * 100 AS BIGINT) AS ${name}`;
    case 'date': return `datediff('day', DATE '1970-01-01', ${name}) AS ${name}`;
    case 'bool': return `CASE WHEN ${name} IN ('1', 'true', 'Y', '是') THEN 1 `
      + `WHEN ${name} IN ('0', 'false', 'N', '否') THEN 0 END AS ${name}`;
    case 'key': return `CASE WHEN length(${name}) >= 13 THEN CASE `
      + `WHEN ${name} LIKE '+86%' THEN substr(${name}, 4) WHEN ${name} LIKE '0086%' THEN substr(${name}, 5) `
      + `WHEN ${name} LIKE '86%' THEN substr(${name}, 3) ELSE ${name} END ELSE ${name} END AS ${name}`;
    default: return name;
  }
};

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const require = createRequire(import.meta.url);
out('duckdb_version', require('@duckdb/node-api/package.json').version);

// load
let t0 = now();
let c0 = cpu();
const columns = cols.map((c) => `${sq(c.name)}: ${sq(readType[c.type])}`).join(', ');
await con.run(`CREATE TABLE subs AS SELECT ${cols.map(convert).join(', ')} FROM read_csv(${sq(csvPath)}, `
  + `header = true, delim = ',', quote = '"', nullstr = '', auto_detect = false, columns = {${columns}})`);
await con.run('CREATE UNIQUE INDEX subs_key ON subs(msisdn)');
out('load_s', (now() - t0).toFixed(4));
out('load_cpu_s', (cpu() - c0).toFixed(4));

await con.run(`CREATE VIEW seg_tags AS ${readFileSync(segPath, 'utf8')}`);
const described = (await con.runAndReadAll('DESCRIBE seg_tags')).getRows().map((r) => String(r[0]));
const tags = described.slice(2);
const countsSql = `SELECT count(*), ${tags.map((t) => `sum(${t})`).join(', ')} FROM seg_tags`;
const selectSql = 'SELECT msisdn FROM seg_tags WHERE arpu_drop = 1 '
  + 'ORDER BY churn_score DESC NULLS LAST, msisdn LIMIT 10000';

async function best(sql, runs) {
  let b = { wall: 1e30, cpu: 0, rows: null };
  for (let r = 0; r < runs; r++) {
    const w0 = now();
    const u0 = cpu();
    const res = await con.runAndReadAll(sql);
    const rows = res.getRows();
    const w = now() - w0;
    if (w < b.wall) b = { wall: w, cpu: cpu() - u0, rows };
  }
  return b;
}

for (const [label, n] of [['1', 1], ['N', threads]]) {
  await con.run(`SET threads = ${n}`);
  const tagAll = await best(countsSql, 3);
  out(`tagall${label}_s`, tagAll.wall.toFixed(4));
  out(`tagall${label}_cpu_s`, tagAll.cpu.toFixed(4));
  if (label === 'N') {
    const r = tagAll.rows[0].map((v) => String(v));
    writeFileSync(`${outdir}/duckdb.counts`,
      `profiles ${r[0]}\n${tags.map((t, i) => `seg.${t} ${r[i + 1]}`).join('\n')}\n`);
  }
  const sel = await best(selectSql, 3);
  out(`select${label}_s`, sel.wall.toFixed(4));
  if (label === 'N')
    writeFileSync(`${outdir}/duckdb.select`, sel.rows.map((r) => `${r[0]}\n`).join(''));
}
out('threads', threads);

// every subscriber's tags, written by DuckDB itself
const mask = tags.map((t, i) => `${t} * ${2 ** i}`).join(' + ');
await con.run(`COPY (SELECT msisdn, ${mask} AS mask FROM seg_tags ORDER BY msisdn) `
  + `TO ${sq(`${outdir}/duckdb.masks`)} (FORMAT csv, HEADER false, DELIMITER ' ', QUOTE '')`);

// point lookups with every tag: a few hundred (each reads a wide row of a
// column store: milliseconds)
const LOOKUPS = Number(process.env.DUCKDB_LOOKUPS || 300);
const keys = (await con.runAndReadAll('SELECT msisdn FROM subs USING SAMPLE 1000 ROWS'))
  .getRows().map((r) => String(r[0]));
const stmt = await con.prepare('SELECT * FROM seg_tags WHERE msisdn = $1');
const lat = [];
let x = 88172645463325252n;
for (let i = 0; i < LOOKUPS; i++) {
  x ^= (x << 13n) & 0xffffffffffffffffn;
  x ^= x >> 7n;
  x ^= (x << 17n) & 0xffffffffffffffffn;
  const k = keys[Number(x % BigInt(keys.length))];
  const w0 = now();
  stmt.bindVarchar(1, k);
  const res = await stmt.runAndReadAll();
  if (res.getRows().length !== 1) throw new Error(`point lookup of ${k}: no row`);
  lat.push(now() - w0);
}
lat.sort((a, b) => a - b);
out('point_p50_us', (lat[Math.floor(lat.length / 2)] * 1e6).toFixed(3));
out('point_p99_us', (lat[Math.floor(lat.length * 0.99)] * 1e6).toFixed(3));
con.closeSync();
