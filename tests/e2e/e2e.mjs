// tests/e2e/e2e.mjs: the web application in a real browser (Debian's chromium driven by
// playwright-core), against the real vigie running the demo city (docs/web.md, docs/testing.md).
// Every case prints "ok e2e <case>" or "FAIL e2e <case>: reason" (tests/run.sh counts them).
// Screenshots of every view go to $TEST_OUT/screenshots/. Cases:
//   - each view loads with no console error and no serious accessibility violation (axe-core);
//   - a value written through /write is on screen within one second;
//   - an entity chart shows seven days of demo history; CSV export of what is shown;
//   - the language switch (French default, English);
//   - login with an API key when auth is on; public displays without a key show public data only;
//   - a display page reconnects by itself after a server restart;
//   - alerts (#/alerts): a threshold rule made by POST, a value written through /write raises an
//     alert that shows up (live event, else the refresh button), severity filter kept in the URL,
//     acknowledge with a comment, resolve, resolved history, the alert's map and chart, French
//     and English labels;
//   - forecast bands on the entity chart: checked against the server when ui/config announces
//     "forecast" (the toggle must be absent otherwise), and with a mocked answer (band drawn,
//     empty answer shown as its reason).
// E2E_PORT=N runs the demo server on port N and the auth server on N+1 (default: free ports);
// E2E_TMP=DIR holds the servers' data directories (default: the system's temporary directory).
// E2E_ONLY=a,b runs only the cases whose names start with a or b (front-end work).
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
const PORT0 = Number(process.env.E2E_PORT) || 0;
const TMP = process.env.E2E_TMP || os.tmpdir();
const ONLY = process.env.E2E_ONLY ? process.env.E2E_ONLY.split(',') : null;
fs.mkdirSync(TMP, { recursive: true });
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
    this.data = data || fs.mkdtempSync(path.join(TMP, 'vigie-e2e-'));
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
  if (ONLY && !ONLY.some((x) => name.startsWith(x))) return;
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
  await demo.start(PORT0 || undefined);
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


  // Alerts: a rule on one air station's PM2.5 (no other case writes it).
  const uiConfig = await (await fetch(B + '/api/v1/ui/config')).json();
  const features = Array.isArray(uiConfig.features) ? uiConfig.features : [];
  const AIR = 'urn:ngsi-ld:AirQualityObserved:nation-01';
  const RULE = 'e2e-pm25';
  await kase('alerts_view', async () => {
    check(features.includes('alerts'), `ui/config does not announce alerts: ${JSON.stringify(uiConfig)}`);
    const rule = {
      id: RULE, name: 'E2E PM2.5', kind: 'threshold', severity: 'critical',
      target: { type: 'AirQualityObserved', attr: 'pm25', ids: [AIR] },
      condition: { op: '>', raise: 150, clear: 100, for: '0s' },
      message: 'PM2.5 {value} µg/m³ at {entity}',
    };
    const rr = await fetch(B + '/api/v1/rules', { method: 'POST', body: JSON.stringify(rule), headers: { 'Content-Type': 'application/json' } });
    check(rr.status === 201, `POST rule: ${rr.status} ${await rr.text()}`);
    const page = await open(ctx, `${B}/#/alerts`);
    await page.waitForSelector('[data-testid="alerts-count"]:not(:empty)', { timeout: 15000 });
    // French labels (the default).
    check(await page.locator('h1').innerText() === 'Alertes', 'French title');
    check(await page.locator('label[for="al-sev"]').innerText() === 'Sévérité', 'French severity label');
    await page.waitForFunction(() => document.querySelector('[data-testid="live-status"]')?.dataset.state === 'live', null, { timeout: 15000 });
    const t0 = Date.now();
    await demo.write(`AirQualityObserved,id=${AIR} pm25=187.5 ${Date.now()}`);
    const row = `[data-testid="alert-row"][data-rule="${RULE}"]`;
    let how = 'live event';
    try {
      await page.waitForSelector(row, { timeout: 3000 });
    } catch { // no live `alert` event yet on this server: the refresh button
      how = 'refresh button';
      await page.click('[data-testid="alerts-refresh"]');
      await page.waitForSelector(row, { timeout: 5000 });
    }
    console.log(`   alert on screen after ${Date.now() - t0} ms (${how})`);
    const list = await (await fetch(`${B}/api/v1/alerts?rule=${RULE}`)).json();
    check(list.alerts.length === 1 && list.alerts[0].state === 'open', `alerts of the rule: ${JSON.stringify(list)}`);
    const id = list.alerts[0].id;
    const sel = `[data-testid="alert-row"][data-id="${id}"]`;
    check(/critique/.test(await page.locator(`${sel} [data-testid="alert-severity"]`).innerText()), 'severity word');
    check(/ouverte/.test(await page.locator(`${sel} [data-testid="alert-state"]`).innerText()), 'state word');
    check(await page.locator(`${sel} a[href="#/entity/${encodeURIComponent(AIR)}"]`).count() === 1, 'no link to the entity');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="nav-alert-count"]')?.textContent.match(/\d+/)?.[0]) >= 1, null, { timeout: 5000 });
    // Severity filter, kept in the URL.
    await page.selectOption('[data-testid="alerts-filter-severity"]', 'low');
    // the demo's own alerts may be low; this test's critical one must be gone from the list
    await page.waitForFunction((s) => !document.querySelector(s) &&
      document.querySelector('[data-testid="alerts-none"], [data-testid="alert-state"]'), sel, { timeout: 5000 });
    check(/severity=low/.test(page.url()), `URL: ${page.url()}`);
    await page.selectOption('[data-testid="alerts-filter-severity"]', 'critical');
    await page.waitForSelector(sel, { timeout: 5000 });
    check(/severity=critical/.test(page.url()), `URL: ${page.url()}`);
    await page.reload();
    await page.waitForSelector(sel, { timeout: 10000 });
    check(await page.locator('[data-testid="alerts-filter-severity"]').inputValue() === 'critical', 'filter not restored from the URL');
    // The alert's map and chart.
    await page.click(`${sel} [data-testid="alert-select"]`);
    await page.waitForFunction((aid) => window.__vigie.alertChart?.id === aid && window.__vigie.alertChart.points > 0, id, { timeout: 10000 });
    const ch = await page.evaluate(() => window.__vigie.alertChart);
    check(ch.from <= ch.raisedAt - 11 * 3600e3 && ch.to > ch.raisedAt, `chart window ${JSON.stringify(ch)}`);
    check(await page.locator('[data-testid="alert-chart"] canvas').count() > 0, 'no chart canvas');
    await page.waitForFunction((aid) => window.__vigie.alertMap?.id === aid && window.__vigie.alertMap.marker &&
      document.querySelector('[data-testid="alert-map"].leaflet-container canvas, [data-testid="alert-map"].leaflet-container svg'), id, { timeout: 10000 });
    const m = await page.evaluate(() => window.__vigie.alertMap);
    check(Math.abs(m.lat - 48.850135) < 1e-4 && Math.abs(m.lon - 2.395948) < 1e-4, `map at ${JSON.stringify(m)}`);
    await sleep(800);
    await shot(page, 'alerts');
    noErrors(page, 'alerts');
    await axe(page, 'alerts');
    // Acknowledge with a comment: the row says so, and who.
    await page.fill('[data-testid="alert-comment"]', 'e2e: vu, équipe prévenue');
    await page.click('[data-testid="alert-ack"]');
    await page.waitForSelector(`${sel}[data-state="acknowledged"]`, { timeout: 5000 });
    const ackText = await page.locator(`${sel} [data-testid="alert-ackby"]`).innerText();
    check(/acquittée par anonymous/.test(ackText), `ack row: ${ackText}`);
    check(/équipe prévenue/.test(await page.locator(sel).innerText()), 'comment not shown');
    await page.waitForSelector('[data-testid="alert-action-status"] .ok-box', { timeout: 5000 });
    // Resolve: gone from the active list, in the resolved history.
    await page.click('[data-testid="alert-resolve"]');
    await page.waitForSelector(sel, { state: 'detached', timeout: 5000 });
    await page.selectOption('[data-testid="alerts-filter-state"]', 'resolved');
    await page.waitForSelector(`${sel}[data-state="resolved"]`, { timeout: 5000 });
    check(/state=resolved/.test(page.url()), `URL: ${page.url()}`);
    check(/résolue par anonymous/.test(await page.locator(`${sel} [data-testid="alert-resolvedby"]`).innerText()), 'resolved by');
    const after = await (await fetch(`${B}/api/v1/alerts?rule=${RULE}&state=resolved`)).json();
    check(after.alerts[0].acknowledgedBy === 'anonymous' && /équipe/.test(after.alerts[0].comment || ''), `server state: ${JSON.stringify(after.alerts[0])}`);
    await sleep(500);
    await shot(page, 'alerts-resolved');
    await axe(page, 'alerts-resolved');
    // English labels.
    await page.click('[data-testid="lang-switch"]');
    await page.waitForFunction(() => document.documentElement.lang === 'en' && document.querySelector('h1')?.textContent === 'Alerts', null, { timeout: 5000 });
    await page.waitForSelector(`${sel}[data-state="resolved"]`, { timeout: 5000 });
    check(await page.locator('label[for="al-sev"]').innerText() === 'Severity', 'English severity label');
    check(/critical/.test(await page.locator(`${sel} [data-testid="alert-severity"]`).innerText()), 'English severity word');
    check(/resolved by anonymous/.test(await page.locator(`${sel} [data-testid="alert-resolvedby"]`).innerText()), 'English resolved by');
    await sleep(500);
    await shot(page, 'alerts-en');
    await page.click('[data-testid="lang-switch"]');
    await page.waitForFunction(() => document.documentElement.lang === 'fr');
    noErrors(page, 'alerts');
    await page.close();
    await fetch(`${B}/api/v1/rules/${RULE}`, { method: 'DELETE' });
  });

  await kase('forecast_toggle', async () => {
    const page = await open(ctx, `${B}/#/entity/${encodeURIComponent(NOISE)}`);
    const asked = [];
    page.on('request', (r) => { if (r.url().includes('/api/v1/forecast')) asked.push(r.url()); });
    await page.waitForFunction(() => window.__vigie?.chart?.points > 0, null, { timeout: 15000 });
    if (!features.includes('forecast')) {
      check(await page.locator('[data-testid="forecast-toggle"]').count() === 0, 'a forecast toggle without the feature');
      check(asked.length === 0, `forecast asked without the feature: ${asked[0]}`);
      console.log('   forecast not announced by the server: toggle absent');
    } else {
      await page.click('[data-testid="forecast-toggle"]');
      await page.waitForFunction(() => window.__vigie.forecast, null, { timeout: 15000 });
      const f = await page.evaluate(() => window.__vigie.forecast);
      check(f.points > 0, `no forecast points: ${JSON.stringify(f)} ${await page.locator('[data-testid="forecast-status"]').innerText()}`);
      check(f.bands > 0 && f.lastTs > Date.now() + 24 * 3600e3, `forecast: ${JSON.stringify(f)}`);
      check((await page.locator('[data-testid="forecast-status"]').innerText()).length > 10, 'no forecast text');
      await sleep(500);
      await shot(page, 'entity-forecast');
      await axe(page, 'entity-forecast');
    }
    noErrors(page, 'forecast');
    await page.close();
  });

  await kase('forecast_band_mocked', async () => {
    // The page's side of GET /api/v1/forecast with answers made up here: the band is drawn, and
    // an empty answer shows its reason (whatever the server announces).
    const mctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'fr-FR' });
    let empty = false;
    await mctx.route('**/api/v1/ui/config', async (route) => {
      const r = await route.fetch();
      const j = await r.json();
      j.features = [...new Set([...(j.features || []), 'forecast'])];
      await route.fulfill({ response: r, json: j });
    });
    await mctx.route((u) => u.pathname === '/api/v1/forecast', async (route) => {
      const u = new URL(route.request().url());
      const base = Math.ceil(Date.now() / 3600e3) * 3600e3;
      const points = empty ? [] : Array.from({ length: 72 }, (_, i) => {
        const v = 60 + 8 * Math.sin((i / 24) * 2 * Math.PI);
        return { at: new Date(base + i * 3600e3).toISOString(), value: v, lower: v - 4 - i / 12, upper: v + 4 + i / 12 };
      });
      await route.fulfill({ json: { id: u.searchParams.get('id'), attr: u.searchParams.get('attr'), model: 'holt-winters', step: '1h', level: 0.95, points, ...(empty ? { reason: 'not enough history (need 2 days)' } : {}) } });
    });
    try {
      const page = await mctx.newPage();
      openPages.add(page);
      page.errors = [];
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') page.errors.push(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
      await page.goto(`${B}/#/entity/${encodeURIComponent(NOISE)}`);
      await page.waitForFunction(() => window.__vigie?.chart?.points > 0, null, { timeout: 15000 });
      await page.click('[data-testid="forecast-toggle"]');
      await page.waitForFunction(() => window.__vigie.forecast?.points === 72, null, { timeout: 10000 });
      const f = await page.evaluate(() => window.__vigie.forecast);
      check(f.bands === 72 && f.lastTs - f.firstTs === 71 * 3600e3, `forecast drawn: ${JSON.stringify(f)}`);
      check(/holt-winters/.test(await page.locator('[data-testid="forecast-status"]').innerText()), 'forecast summary');
      check(await page.locator('.u-legend').innerText().then((s) => /prévision/.test(s) && /borne basse/.test(s)), 'legend');
      // The history itself is unchanged (export and table stay the history).
      const c = await page.evaluate(() => window.__vigie.chart);
      check(c.points >= 100, `history points: ${c.points}`);
      await sleep(500);
      await shot(page, 'entity-forecast-mocked');
      await axe(page, 'entity-forecast-mocked');
      empty = true;
      await page.click('[data-testid="forecast-toggle"]');
      await page.waitForFunction(() => window.__vigie.forecast === null, null, { timeout: 5000 });
      await page.click('[data-testid="forecast-toggle"]');
      await page.waitForFunction(() => window.__vigie.forecast && window.__vigie.forecast.points === 0, null, { timeout: 10000 });
      const txt = await page.locator('[data-testid="forecast-status"]').innerText();
      check(/Pas de prévision : not enough history/.test(txt), `empty forecast: ${txt}`);
      noErrors(page, 'forecast-mocked');
      await page.close();
    } finally {
      await mctx.close();
    }
  });

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
  const admin = spawnSync(VIGIE, ['apikey', 'create', '--tenant', 'default', '--scope', 'admin', '--label', 'e2e-admin', '--data', secure.data], { encoding: 'utf8' }).stdout.trim();
  await secure.start(PORT0 ? PORT0 + 1 : undefined);
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
  await kase('alerts_read_only', async () => {
    // A read key sees the alerts, never the acknowledge / resolve buttons.
    const auth = { Authorization: `Bearer ${admin}` };
    const cfg = await (await fetch(secure.base + '/api/v1/ui/config')).json();
    if (!(cfg.features || []).includes('alerts')) return;
    const rule = { id: 'e2e-ro', kind: 'threshold', severity: 'medium', target: { type: 'e2eProbe', attr: 'v' }, condition: { op: '>', raise: 10 } };
    const rr = await fetch(secure.base + '/api/v1/rules', { method: 'POST', body: JSON.stringify(rule), headers: { ...auth, 'Content-Type': 'application/json' } });
    check(rr.status === 201, `POST rule: ${rr.status}`);
    const w = await fetch(secure.base + '/write?precision=ms', { method: 'POST', body: `e2eProbe,id=probe-1 v=42 ${Date.now()}`, headers: auth });
    check(w.status === 204, `write: ${w.status}`);
    const sr = await ctx.request.post(secure.base + '/api/v1/session', { data: { key } }); // a read key's session
    check(sr.status() === 204, `session: ${sr.status()}`);
    const page = await open(ctx, secure.base + '/#/alerts');
    await page.waitForSelector('[data-testid="alert-row"][data-rule="e2e-ro"]', { timeout: 10000 });
    await page.click('[data-testid="alert-row"][data-rule="e2e-ro"] [data-testid="alert-select"]');
    await page.waitForSelector('[data-testid="alert-detail"] h2:has-text("n° ")', { timeout: 5000 });
    check(await page.locator('[data-testid="alert-ack"], [data-testid="alert-resolve"], [data-testid="alert-comment"]').count() === 0, 'write buttons for a read key');
    check(/lecture/.test(await page.locator('[data-testid="alert-detail"]').innerText()), 'no read-only notice');
    check(await page.locator('[data-testid="alert-noloc"]').count() === 1, 'an entity without location: no map');
    await shot(page, 'alerts-read-only');
    noErrors(page, 'alerts-read-only');
    await axe(page, 'alerts-read-only');
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
