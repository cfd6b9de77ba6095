// display/feed.js: the data of a public display. Only public endpoints:
//   GET /api/v1/public/latest?id=…           the state (once per id), again on hello and reset
//   GET /api/v1/live?public=1&id=…&attr=…    Server-Sent Events: hello, m, hb, reset
// The stream is watched: no event for 2 × heartbeat closes and reopens it; an EventSource that
// gives up (server down, error status) is reopened with a growing delay, forever, so that a
// server restart is survived without reloading the page.

export class Feed {
  // opts: ids (full entity ids), attrs (attributes wanted, for the stream filter), heartbeat (s),
  // refresh (s, 0 = none: re-read the state that often as a safety net), and callbacks
  // onLatest(id, series[] | null), onValue(id, type, attr, ts, value), onState('live'|'connecting').
  constructor(opts) {
    this.o = opts;
    this.hb = Math.min(60, Math.max(1, opts.heartbeat || 15));
    this.es = null;
    this.lastEvent = 0;
    this.state = 'connecting';
    this.retryMs = 1000;
    this.reopenTimer = 0;
    this.latestTimer = 0;
    this.skew = 0; // server clock - local clock, ms
    this.streamIds = opts.ids.slice();
  }

  now() {
    return Date.now() + this.skew;
  }

  start() {
    this.loadLatest();
    this.watchdog = setInterval(() => this.watch(), 1000);
    if (this.o.refresh > 0) setInterval(() => this.loadLatest(), this.o.refresh * 1000);
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.o.onState(s);
  }

  // Read the state of every id; an id answered with no series is not public. A failed request
  // (network, server restarting) is tried again a few seconds later.
  async loadLatest() {
    clearTimeout(this.latestTimer);
    const pending = [];
    for (const id of this.o.ids) {
      pending.push(
        fetch(`/api/v1/public/latest?id=${encodeURIComponent(id)}`, {
          headers: { Accept: 'application/json' },
          cache: 'no-store',
        })
          .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
          .then((j) => ({ id, series: Array.isArray(j.series) ? j.series : [] }))
          .catch(() => ({ id, failed: true }))
      );
    }
    const res = await Promise.all(pending);
    let failed = false;
    const open = [];
    for (const r of res) {
      if (r.failed) failed = true;
      else {
        this.o.onLatest(r.id, r.series);
        if (r.series.length) open.push(r.id);
      }
    }
    if (failed) {
      this.setState('connecting');
      this.latestTimer = setTimeout(() => this.loadLatest(), 5000);
      if (!this.es && !this.reopenTimer && this.streamIds.length) this.open();
      return;
    }
    // Only the public ids are streamed; nothing public at all: no stream.
    const ids = open.length ? open : [];
    const changed = ids.join(',') !== this.streamIds.join(',');
    this.streamIds = ids;
    if (!ids.length) {
      this.close();
      return;
    }
    if (!this.es || changed) this.open();
  }

  close() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
    clearTimeout(this.reopenTimer);
    this.reopenTimer = 0;
  }

  open() {
    this.close();
    const q = new URLSearchParams({ public: '1', heartbeat: String(this.hb) });
    if (this.streamIds.length) q.set('id', this.streamIds.join(','));
    if (this.o.attrs && this.o.attrs.length) q.set('attr', this.o.attrs.join(','));
    const es = new EventSource(`/api/v1/live?${q}`);
    this.es = es;
    this.lastEvent = Date.now();
    es.addEventListener('hello', (e) => {
      this.seen(e);
      this.retryMs = 1000;
      this.setState('live');
      this.loadLatest();
    });
    es.addEventListener('reset', (e) => {
      this.seen(e);
      this.loadLatest();
    });
    es.addEventListener('hb', (e) => this.seen(e));
    es.addEventListener('m', (e) => {
      this.seen(e);
      let rows;
      try {
        rows = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!Array.isArray(rows)) return;
      for (const r of rows) {
        if (Array.isArray(r) && r.length >= 5) this.o.onValue(r[0], r[1], r[2], r[3], r[4]);
      }
    });
    es.onerror = () => {
      if (this.es !== es) return;
      this.setState('connecting');
      // CONNECTING: the browser retries on its own. CLOSED: it gave up; we do not.
      if (es.readyState === EventSource.CLOSED) this.reopenLater();
    };
  }

  seen(e) {
    this.lastEvent = Date.now();
    if (this.state !== 'live') this.setState('live');
    if (e && e.data && (e.type === 'hello' || e.type === 'hb')) {
      try {
        const j = JSON.parse(e.data);
        if (typeof j.now === 'number') this.skew = j.now - Date.now();
      } catch {
        /* a heartbeat without a clock is still a heartbeat */
      }
    }
  }

  reopenLater() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
    clearTimeout(this.reopenTimer);
    const ms = this.retryMs;
    this.retryMs = Math.min(15000, this.retryMs * 2);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = 0;
      if (this.streamIds.length) this.open();
    }, ms);
  }

  // Silence for 2 × heartbeat: the connection is dead even if the browser has not noticed.
  watch() {
    if (!this.es) return;
    if (Date.now() - this.lastEvent > 2 * this.hb * 1000) {
      this.setState('connecting');
      this.reopenLater();
    }
  }
}
