// bench/live.mjs: the web application's targets (docs/web.md, bench/README.md), on the demo city.
//   1. first meaningful render of the overview (map markers + KPI tiles) in a fresh Chromium
//      profile (cold cache), RUNS times;
//   2. 5,000 live updates per second to one open dashboard page for SECONDS s: does the page keep
//      up (values applied vs values published, lag of the newest applied value)?
//   3. 100 concurrent SSE clients (raw HTTP streams from this process) under the same load:
//      values delivered per client and end-to-end latency (write sent -> event received).
// Usage: node bench/live.mjs   (make bench-ui). Environment: VIGIE (./vigie), BENCH_DIR,
// LIVE_RATE (5000), LIVE_SECONDS (20), LIVE_CLIENTS (100), RENDER_RUNS (5), CHROMIUM.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(path.join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');

const VIGIE = process.env.VIGIE || path.join(root, 'vigie');
const DIR = process.env.BENCH_DIR || path.join(fs.existsSync('/work') ? '/work' : os.tmpdir(), 'vigie-bench-live');
const RATE = +(process.env.LIVE_RATE || 5000);
const SECONDS = +(process.env.LIVE_SECONDS || 20);
const CLIENTS = +(process.env.LIVE_CLIENTS || 100);
const RUNS = +(process.env.RENDER_RUNS || 5);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PORT = 18480;
const BASE = `http://127.0.0.1:${PORT}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (a, p) => (a.length ? a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN);

function request(method, p, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(BASE + p, { method, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function metric(name) {
  const r = await request('GET', '/metrics');
  const m = r.body.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? +m[1] : NaN;
}

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return +f[11] + +f[12]; // utime + stime, in clock ticks (100/s)
}

// Writes RATE values/s for SECONDS s (to tenant when given): lines of `type`, ids from ids().
async function drive(type, ids, attr, tenant) {
  const perReq = 100;
  const reqs = Math.round(RATE / perReq);
  const t0 = Date.now();
  let sent = 0, k = 0;
  const pending = [];
  for (let tick = 0; tick < SECONDS * reqs; tick++) {
    const due = t0 + (tick * 1000) / reqs;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const now = Date.now();
    let body = '';
    for (let i = 0; i < perReq; i++, k++) body += `${type},id=${ids(k)} ${attr}=${(now % 1e6) / 10} ${now}\n`;
    pending.push(request('POST', `/write?precision=ms${tenant ? `&tenant=${tenant}` : ''}`, body).then((r) => {
      if (r.status !== 204) throw new Error(`write: ${r.status} ${r.body}`);
    }));
    sent += perReq;
  }
  await Promise.all(pending);
  return { sent, seconds: (Date.now() - t0) / 1000 };
}

async function startVigie() {
  fs.mkdirSync(DIR, { recursive: true });
  const data = path.join(DIR, 'demo-data');
  fs.rmSync(data, { recursive: true, force: true }); // the demo city as `vigie demo` makes it
  const log = fs.openSync(path.join(DIR, 'vigie.log'), 'a');
  const p = spawn(VIGIE, ['demo', '--data', data, '--listen', `127.0.0.1:${PORT}`, '--access-log', '/dev/null'],
    { stdio: ['ignore', log, log], cwd: root });
  for (let i = 0; ; i++) {
    if (i > 1200) throw new Error('vigie demo did not finish its backfill in 10 min');
    await sleep(500);
    const txt = fs.readFileSync(path.join(DIR, 'vigie.log'), 'utf8');
    if (/demo backfill: [\d.]+ M values in|demo backfill: already done/.test(txt)) break;
  }
  await sleep(1000);
  return p;
}

async function firstRender(browser) {
  const out = [];
  for (let r = 0; r < RUNS; r++) {
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 900 } }); // new profile: cold cache
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(BASE + '/', { waitUntil: 'commit' });
    const ms = await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid="kpi-noise"] [data-testid="kpi-value"]');
      const marks = document.querySelectorAll('[data-testid="map"] .leaflet-marker-icon, [data-testid="map"] path.leaflet-interactive');
      return v && /\d/.test(v.textContent) && marks.length > 10 ? performance.now() : false;
    }, null, { polling: 'raf', timeout: 30000 }).then((h) => h.jsonValue());
    out.push(ms);
    if (errors.length) console.log('page errors:', errors.slice(0, 3));
    await ctx.close();
  }
  return out;
}

async function onePage(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(BASE + '/');
  await page.waitForFunction(() => window.__vigie && document.querySelector('[data-testid="live-status"]')?.dataset.state === 'live', null, { timeout: 30000 });
  await sleep(1500);
  const u0 = await page.evaluate(() => window.__vigie.updates);
  const p0 = await metric('vigie_live_values_total');
  const lags = [];
  const sampler = setInterval(async () => {
    try { lags.push(await page.evaluate(() => window.__vigie.lagMs + (Date.now() - window.__vigie.lastUpdateAt))); } catch { /* closing */ }
  }, 1000);
  const ids = (k) => `urn:ngsi-ld:HeatingPlant:hp-${String((k % 1200) + 1).padStart(4, '0')}`;
  const d = await drive('HeatingPlant', ids, 'supplyTemperature');
  await sleep(2000);
  clearInterval(sampler);
  const u1 = await page.evaluate(() => window.__vigie.updates);
  const p1 = await metric('vigie_live_values_total');
  await ctx.close();
  return { ...d, published: p1 - p0, applied: u1 - u0, lagP50: pct(lags, 0.5), lagMax: Math.max(...lags) };
}

function sseClient(filter) {
  const st = { values: 0, lat: [], open: false, req: null };
  st.req = http.get(`${BASE}/api/v1/live?${filter}`, (res) => {
    st.open = res.statusCode === 200;
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!ev.startsWith('event: m')) continue;
        const now = Date.now();
        const data = JSON.parse(ev.slice(ev.indexOf('data: ') + 6, ev.indexOf('\n', ev.indexOf('data: '))));
        st.values += data.length;
        for (const v of data) if (Math.random() < 0.02) st.lat.push(now - v[3]);
      }
    });
  });
  st.req.on('error', () => { st.open = false; });
  return st;
}

async function manyClients(pid) {
  // A tenant of its own: the demo city's data (and the first-render figure) stay as they are.
  const clients = Array.from({ length: CLIENTS }, () => sseClient('tenant=bench&heartbeat=5'));
  await sleep(2000);
  const opened = clients.filter((c) => c.open).length;
  const c0 = cpuTicks(pid);
  const ids = (k) => `bench-${k % 1000}`;
  const d = await drive('BenchSensor', ids, 'v', 'bench');
  await sleep(2000);
  const cpu = (cpuTicks(pid) - c0) / 100 / d.seconds;
  const got = clients.map((c) => c.values);
  const lat = clients.flatMap((c) => c.lat);
  clients.forEach((c) => c.req.destroy());
  return { ...d, opened, minValues: Math.min(...got), maxValues: Math.max(...got),
    latP50: pct(lat, 0.5), latP99: pct(lat, 0.99), latMax: lat.reduce((m, x) => Math.max(m, x), 0), cpu };
}

const vigie = await startVigie();
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
try {
  const lines = [];
  const fr = await firstRender(browser);
  lines.push(`first render (overview, cold cache, ${RUNS} runs): median ${pct(fr, 0.5).toFixed(0)} ms, max ${Math.max(...fr).toFixed(0)} ms [${fr.map((x) => x.toFixed(0)).join(', ')}]`);
  const op = await onePage(browser);
  lines.push(`one page, ${RATE} values/s for ${SECONDS} s: sent ${op.sent} in ${op.seconds.toFixed(1)} s, published ${op.published}, applied by the page ${op.applied} (${(100 * op.applied / op.published).toFixed(1)} %), lag p50 ${op.lagP50} ms, max ${op.lagMax} ms`);
  const mc = await manyClients(vigie.pid);
  lines.push(`${CLIENTS} SSE clients (${mc.opened} open), ${RATE} values/s for ${SECONDS} s: sent ${mc.sent}, per client min ${mc.minValues} max ${mc.maxValues}, latency p50 ${mc.latP50} ms p99 ${mc.latP99} ms max ${mc.latMax} ms, vigie CPU ${(100 * mc.cpu).toFixed(0)} % of one core`);
  console.log(lines.join('\n'));
  fs.mkdirSync(path.join(DIR, 'results'), { recursive: true });
  fs.writeFileSync(path.join(DIR, 'results', 'live.txt'), lines.join('\n') + '\n');
} finally {
  await browser.close();
  vigie.kill('SIGTERM');
}
