// common/live.js: client of GET /api/v1/live (Server-Sent Events), framework-free.
//
//   const live = new Live({
//     params: {type, id, attr, public: 1},   // optional filters (comma-separated strings)
//     heartbeat: 15,                         // seconds asked of the server
//     onHello(info) {},    // {boot, now}: (re)connected; re-read /latest to miss nothing
//     onUpdates(rows) {},  // [[id, type, attr, ts, value], ...] in arrival order
//     onReset() {},        // the server lost our place: re-read /latest
//     onState(state) {},   // 'connecting' | 'live' | 'offline'
//     onAlert(ev) {},      // `event: alert`: {event: raised|acknowledged|resolved|escalated, alert}
//   });
//   live.start(); ... live.stop();
//
// The browser's EventSource reconnects by itself and resumes with Last-Event-ID. On top of
// that, a watchdog closes and reopens the stream when no event at all (heartbeats included)
// arrived for 2 x heartbeat, and a closed stream (e.g. HTTP error) is retried with backoff.

import { url } from './api.js';

export class Live {
  constructor(opts = {}) {
    this.opts = opts;
    this.heartbeat = Math.min(60, Math.max(1, opts.heartbeat || 15));
    this.path = opts.path || '/api/v1/live';
    this.es = null;
    this.state = 'offline';
    this.lastEventAt = 0;
    this.watchdog = null;
    this.retryTimer = null;
    this.retryDelay = 1000;
    this.stopped = true;
    this.boot = null;
  }

  start() {
    this.stopped = false;
    this.open();
    if (!this.watchdog) {
      this.watchdog = setInterval(() => this.check(), 1000);
    }
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    this.watchdog = null;
    clearTimeout(this.retryTimer);
    this.close();
    this.setState('offline');
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    if (this.opts.onState) this.opts.onState(s);
  }

  close() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  open() {
    this.close();
    clearTimeout(this.retryTimer);
    this.setState('connecting');
    const params = { ...(this.opts.params || {}), heartbeat: this.heartbeat };
    const es = new EventSource(url(this.path, params), { withCredentials: true });
    this.es = es;
    this.lastEventAt = Date.now();
    const seen = () => {
      this.lastEventAt = Date.now();
    };
    es.addEventListener('hello', (ev) => {
      seen();
      this.retryDelay = 1000;
      let info = {};
      try {
        info = JSON.parse(ev.data);
      } catch {
        info = {};
      }
      this.boot = info.boot || null;
      this.setState('live');
      if (this.opts.onHello) this.opts.onHello(info);
    });
    es.addEventListener('m', (ev) => {
      seen();
      let rows;
      try {
        rows = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (this.opts.onUpdates && Array.isArray(rows)) this.opts.onUpdates(rows);
    });
    es.addEventListener('alert', (ev) => {
      seen();
      let a;
      try {
        a = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (this.opts.onAlert && a && typeof a === 'object') this.opts.onAlert(a);
    });
    es.addEventListener('hb', seen);
    es.addEventListener('reset', () => {
      seen();
      if (this.opts.onReset) this.opts.onReset();
    });
    es.onerror = () => {
      if (this.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (HTTP error, wrong content type): retry ourselves.
        this.close();
        this.setState('offline');
        this.retryTimer = setTimeout(() => {
          if (!this.stopped) this.open();
        }, this.retryDelay);
        this.retryDelay = Math.min(30000, this.retryDelay * 2);
      } else {
        this.setState('connecting');
      }
    };
  }

  check() {
    if (this.stopped || !this.es) return;
    if (Date.now() - this.lastEventAt > 2 * this.heartbeat * 1000) {
      this.open(); // silent for too long: the connection is probably dead
    }
  }
}
