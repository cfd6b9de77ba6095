// tests/e2e/e2e.mjs: the web application in a real browser (Debian's chromium driven by
// playwright-core), against the real vigie running the demo city (docs/web.md, docs/testing.md).
// Every case prints "ok e2e <case>" or "FAIL e2e <case>: reason" (tests/run.sh counts them).
// Screenshots of every view go to $TEST_OUT/screenshots/. Cases:
//   - each view loads with no console error and no serious accessibility violation (axe-core);
//   - a value written through /write is on screen within one second;
//   - an entity chart shows seven days of demo history; CSV export of what is shown;
//   - the language switch (French default, English);
//   - login with an API key when auth is on; public displays without a key show public data only;
//   - a display page reconnects by itself after a server restart.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const require = createRequire(path.join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const VIGIE = process.env.VIGIE || path.join(root, 'vigie');
const OUT = process.env.TEST_OUT || path.join(root, 'build', 'test-output');
const SHOTS = path.join(OUT, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(SHOTS, { recursive: true });

let failed = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

class Vigie {
  constructor(args, data) {
    this.args = args;
    this.data = data || fs.mkdtempSync(path.join(os.tmpdir(), 'vigie-e2e-'));
    this.log = this.data + '.log';
  }
  async start(port) {
    this.port = port || (await freePort());
    this.base = `http://127.0.0.1:${this.port}`;
    const fd = fs.openSync(this.log, 'a');
    this.proc = spawn(VIGIE, [...this.args, '--data', this.data, '--listen', `127.0.0.1:${this.port}`],
      { stdio: ['ignore', fd, fd], cwd: root });
    for (let i = 0; i < 600; i++) {
      if (this.proc.exitCode !== null) throw new Error(`vigie exited: ${this.tail()}`);
      try {
        const r = await fetch(this.base + '/health');
        if (r.status === 200) return this;
      } catch { /* not yet */ }
      await sleep(100);
    }
    throw new Error('vigie did not start');
  }
  async waitLog(re, ms) {
    for (let t = 0; t < ms; t += 250) {
      if (re.test(fs.readFileSync(this.log, 'utf8'))) return;
      await sleep(250);
    }
    throw new Error(`log never matched ${re}`);
  }
  tail() {
    try { return fs.readFileSync(this.log, 'utf8').slice(-2000); } catch { return ''; }
  }
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const done = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await done;
  }
  async write(lines) {
    const r = await fetch(this.base + '/write?precision=ms', { method: 'POST', body: lines });
    if (r.status !== 204) throw new Error(`write: ${r.status} ${await r.text()}`);
  }
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

const openPages = new Set();

async function kase(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok e2e ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL e2e ${name}: ${String(e && e.stack || e).split('\n').slice(0, 4).join(' | ')}`);
  } finally { // a page left open keeps its live stream: browsers allow 6 connections per host
    for (const p of openPages) await p.close().catch(() => {});
    openPages.clear();
  }
}

// A page that records console errors and uncaught exceptions.
async function open(ctx, url, opts = {}) {
  const page = await ctx.newPage();
  openPages.add(page);
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') page.errors.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  await page.goto(url, { waitUntil: opts.waitUntil || 'load' });
  return page;
}

async function axe(page, label) {
  await page.evaluate(AXE); // through DevTools: the pages' CSP (script-src 'self') stays on
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, n: v.nodes.length, target: v.nodes[0]?.target?.join(' ') }));
  });
  const serious = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  fs.writeFileSync(path.join(SHOTS, `${label}.axe.json`), JSON.stringify(res, null, 1));
  check(serious.length === 0, `${label}: accessibility: ${JSON.stringify(serious)}`);
}

async function shot(page, label) {
  await page.screenshot({ path: path.join(SHOTS, `${label}.png`) });
}

function noErrors(page, label) {
  check(page.errors.length === 0, `${label}: console: ${page.errors.slice(0, 3).join(' || ')}`);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});

const demo = new Vigie(['demo', '--realtime', 'off']);
try {
  await demo.start();
  await demo.waitLog(/demo backfill: [\d.]+ M values in/, 240000);
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'fr-FR' });
  const B = demo.base;
  const NOISE = 'urn:ngsi-ld:NoiseLevelObserved:nation-03';

  await kase('overview', async () => {
    const page = await open(ctx, B + '/');
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid="kpi-noise"] [data-testid="kpi-value"]');
      return v && /\d/.test(v.textContent) &&
        document.querySelectorAll('[data-testid="map"] .leaflet-marker-icon, [data-testid="map"] path.leaflet-interactive').length > 10;
    }, null, { timeout: 15000 });
    for (const d of ['air', 'noise', 'mobility', 'energy', 'water', 'waste'])
      check(await page.locator(`[data-testid="kpi-${d}"]`).count() === 1, `no KPI tile for ${d}`);
    check(await page.evaluate(() => document.documentElement.lang) === 'fr', 'French is not the default');
    await sleep(1500); // trends and live connection
    await shot(page, 'overview');
    noErrors(page, 'overview');
    await axe(page, 'overview');
    await page.close();
  });

  await kase('value_on_screen_within_1s', async () => {
    const page = await open(ctx, `${B}/#/entity/${encodeURIComponent(NOISE)}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="live-status"]')?.dataset.state === 'live', null, { timeout: 15000 });
    await page.waitForSelector('[data-testid="attr-LAeq"]', { timeout: 15000 });
    await sleep(300);
    const t0 = Date.now();
    await demo.write(`NoiseLevelObserved,id=${NOISE} LAeq=97.3,LAmax=101.9 ${Date.now()}`);
    await page.waitForFunction(() => /97[,.]3/.test(document.querySelector('[data-testid="attr-LAeq"]')?.textContent || ''), null, { timeout: 1000, polling: 'raf' });
    const ms = Date.now() - t0;
    console.log(`   written value on screen after ${ms} ms`);
    noErrors(page, 'entity');
    await page.close();
  });

  await kase('chart_seven_days', async () => {
    const page = await open(ctx, `${B}/#/entity/${encodeURIComponent(NOISE)}`);
    await page.waitForSelector('[data-testid="chart"] canvas', { timeout: 15000 });
    await page.waitForFunction(() => window.__vigie?.chart?.points > 0, null, { timeout: 15000 });
    const c = await page.evaluate(() => window.__vigie.chart);
    const days = (c.lastTs - c.firstTs) / 86400000;
    check(days > 6.5, `the chart spans ${days.toFixed(2)} days`);
    check(c.points >= 100, `only ${c.points} points`);
    await shot(page, 'entity');
    const dl = page.waitForEvent('download', { timeout: 5000 });
    await page.click('[data-testid="export-csv"]');
    const file = await (await dl).path();
    const csv = fs.readFileSync(file, 'utf8').trim().split('\n');
    check(csv.length >= c.points / 2 && /LAeq/.test(csv[0]), `CSV: ${csv.length} lines, header ${csv[0]}`);
    noErrors(page, 'entity');
    await axe(page, 'entity');
    await page.close();
  });

  await kase('language_switch', async () => {
    const page = await open(ctx, B + '/');
    await page.waitForSelector('[data-testid="lang-switch"]');
    const before = await page.locator('nav').innerText();
    await page.click('[data-testid="lang-switch"]');
    await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: 3000 });
    const after = await page.locator('nav').innerText();
    check(before !== after, `nav text did not change: ${after}`);
    await shot(page, 'overview-en');
    await page.reload();
    await page.waitForSelector('[data-testid="lang-switch"]');
    check(await page.evaluate(() => document.documentElement.lang) === 'en', 'language not remembered');
    await page.click('[data-testid="lang-switch"]'); // back to French for the other cases
    await page.waitForFunction(() => document.documentElement.lang === 'fr');
    noErrors(page, 'language');
    await page.close();
  });

  const bad = await fetch(B + '/write?precision=ms', { method: 'POST', body: 'e2e,id=e2e-bad v=1 1\ne2e,id=e2e-bad v="<b>loud</b>" 2' });
  check(bad.status === 400, `a type conflict must be refused: ${bad.status}`); // the quarantined line for #/sources
  for (const [label, hash, sel] of [['domain-noise', '#/domain/noise', '[data-testid="small-multiples"] canvas'],
    ['sources', '#/sources', '[data-testid="quarantine-table"] code']]) {
    await kase(`view_${label}`, async () => {
      const page = await open(ctx, `${B}/${hash}`);
      await page.waitForSelector(sel, { timeout: 15000 });
      await sleep(1500);
      await shot(page, label);
      noErrors(page, label);
      await axe(page, label);
      await page.close();
    });
  }

  for (const [label, url] of [
    ['display-noise', `/display/noise?id=${encodeURIComponent(NOISE)}`],
    ['display-air', '/display/air?id=urn:ngsi-ld:AirQualityObserved:nation-01'],
    ['display-pool', '/display/pool?id=urn:ngsi-ld:SwimmingPool:reuilly&capacity=300'],
    ['widget-demo', '/widget-demo.html'],
  ]) {
    await kase(`view_${label}`, async () => {
      const page = await open(ctx, B + url);
      if (label === 'widget-demo') {
        await page.waitForFunction(() => document.querySelectorAll('iframe').length >= 2, null, { timeout: 10000 });
        const frame = page.frames().find((f) => f.url().includes('/display/'));
        check(frame, 'no display iframe');
        await frame.waitForFunction(() => /\d/.test(document.querySelector('[data-testid="display-value"]')?.textContent || ''), null, { timeout: 10000 });
      } else {
        await page.waitForFunction(() => /\d/.test(document.querySelector('[data-testid="display-value"]')?.textContent || ''), null, { timeout: 10000 });
      }
      await sleep(500);
      await shot(page, label);
      noErrors(page, label);
      await axe(page, label);
      await page.close();
    });
  }

  await kase('display_not_public', async () => {
    const page = await open(ctx, `${B}/display/city?ids=urn:ngsi-ld:HeatingPlant:hp-0001`);
    await sleep(2000);
    const txt = await page.locator('body').innerText();
    check(!/\d+[,.]\d/.test(txt.replace(/\d{1,2}:\d{2}/g, '')), `a non-public value is shown: ${txt.slice(0, 200)}`);
    await shot(page, 'display-not-public');
    await page.close();
  });

  await kase('display_reconnects_after_restart', async () => {
    const page = await open(ctx, `${B}/display/noise?id=${encodeURIComponent(NOISE)}`);
    await page.waitForFunction(() => window.__vigieDisplay?.state === 'live', null, { timeout: 10000 });
    const port = demo.port;
    await demo.stop();
    await page.waitForFunction(() => window.__vigieDisplay?.state !== 'live', null, { timeout: 40000 });
    await demo.start(port);
    await page.waitForFunction(() => window.__vigieDisplay?.state === 'live', null, { timeout: 40000 });
    await demo.write(`NoiseLevelObserved,id=${NOISE} LAeq=91.2,LAmax=93.1 ${Date.now()}`);
    // public displays show whole decibels
    await page.waitForFunction(() => /^\s*91\s*$/.test(document.querySelector('[data-testid="display-value"]')?.textContent || ''), null, { timeout: 3000 });
    await shot(page, 'display-after-restart');
    await page.close();
  });
  await ctx.close();
} catch (e) {
  failed++;
  console.log(`FAIL e2e setup: ${e.stack || e}\n${demo.tail()}`);
} finally {
  await demo.stop();
}

// Auth on: the login page, then the dashboard with the key's session.
const secure = new Vigie(['serve', '--auth', 'on']);
try {
  const r = spawnSync(VIGIE, ['apikey', 'create', '--tenant', 'default', '--scope', 'read', '--data', secure.data], { encoding: 'utf8' });
  const key = r.stdout.trim();
  await secure.start();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await kase('login', async () => {
    const page = await open(ctx, secure.base + '/');
    await page.waitForSelector('[data-testid="login-key"]', { timeout: 10000 });
    await shot(page, 'login');
    await axe(page, 'login');
    await page.fill('[data-testid="login-key"]', 'vg_wrong');
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('[role="alert"]', { timeout: 5000 });
    page.errors = page.errors.filter((e) => !/401/.test(e)); // the refused key's answer
    await page.fill('[data-testid="login-key"]', key);
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('[data-testid="map"]', { timeout: 10000 });
    const cookies = await ctx.cookies();
    const c = cookies.find((x) => x.name === 'vigie_session');
    check(c && c.httpOnly && c.sameSite === 'Strict', `session cookie: ${JSON.stringify(c)}`);
    check(!fs.readFileSync(secure.log, 'utf8').includes(key), 'the key is in the log');
    noErrors(page, 'login');
    await page.close();
  });
  await ctx.close();
} catch (e) {
  failed++;
  console.log(`FAIL e2e auth-setup: ${e.stack || e}\n${secure.tail()}`);
} finally {
  await secure.stop();
}
await browser.close();
process.exit(failed ? 1 : 0);
