import { RecordBatchReader } from 'apache-arrow';
import { submit, waitForEnd } from '../helpers/client.ts';
import { startServer, tempDir } from '../helpers/server.ts';
import { startSnowflakeDouble } from '../snowflake-double/server.ts';
import { wasmMemory } from 'parquet-wasm/node';
const N = Number(process.argv[2] ?? 300000);
const gc = (globalThis as any).gc as () => void;
const double = await startSnowflakeDouble({ chunkRows: 20_000, syncWaitMs: 500 });
const dataDir = tempDir();
const server = await startServer({ JOBQL_POLL_BACKOFF_MS: '50,100,200', JOBQL_WAREHOUSE: 'snowflake', SNOWFLAKE_ACCESS_URL: double.url, SNOWFLAKE_ACCOUNT: 'testaccount', SNOWFLAKE_USER: 'jobql', SNOWFLAKE_PASSWORD: 'secret', SNOWFLAKE_HOME: dataDir }, dataDir);
const base = server.url.replace('/graphql', '');
const sql = `/* lazy result */ select range as id, (range % 100000)::decimal(18,0) as k, 'row ' || range || ' of the large result' as label, range / 3 as x, date '2000-01-01' + (range % 10000)::integer as day from range(${N}) order by id`;
const job = await waitForEnd(server.url, (await submit(server.url, sql)).id, 120000);
const m = () => { const u = process.memoryUsage(); return { heap: u.heapUsed >> 20, total: u.heapTotal >> 20, ext: u.external >> 20, ab: u.arrayBuffers >> 20, rss: u.rss >> 20, wasm: wasmMemory().buffer.byteLength >> 20 }; };
for (const f of (process.env.PROBE_FORMATS ?? 'ndjson,arrow,parquet').split(',')) {
  gc(); const before = m();
  let peakLive = 0; let peakHeapTotal = 0;
  const timer = setInterval(() => { gc(); const x = m(); peakLive = Math.max(peakLive, x.heap + x.ab); peakHeapTotal = Math.max(peakHeapTotal, x.total); }, 500);
  const t = Date.now();
  const r = await fetch(`${base}/jobs/${job.id}/result.${f}`);
  let rows = 0, bytes = 0;
  if (f === 'arrow') { for await (const b of await RecordBatchReader.from(r.body! as AsyncIterable<Uint8Array>)) rows += b.numRows; }
  else for await (const c of r.body!) bytes += c.length;
  clearInterval(timer); gc();
  console.log(f, rows, bytes, Date.now() - t, 'ms before', JSON.stringify(before), 'peak live heap+ab', peakLive, 'peak heapTotal', peakHeapTotal, 'after', JSON.stringify(m()));
}
await server.stop(); await double.stop();
