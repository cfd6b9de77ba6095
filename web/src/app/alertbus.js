// app/alertbus.js: what the dashboard shares about alerts: whether the server has them
// (ui/config features), the number of open alerts (the nav badge, the overview tile) and the
// change notifications (live `event: alert`, or a view that acknowledged or resolved one).
//
//   alertBus.setConfig(config)    reads config.features / config.scope
//   alertBus.enabled              the server announces "alerts": calling the API is safe
//   alertBus.canWrite             the caller's scope allows POST .../ack and .../resolve
//   alertBus.openCount            open + acknowledged alerts (null until read)
//   alertBus.refresh()            re-reads the count (debounced), then notifies
//   alertBus.setCount(n)          a count read by a view (notifies with event null)
//   alertBus.changed(ev)          something changed (ev: live {event, alert} or null)
//   alertBus.subscribe(fn)        fn({count, event}) after each change; returns unsubscribe

import { api } from '../common/api.js';

export function hasFeature(config, name) {
  return !!(config && Array.isArray(config.features) && config.features.includes(name));
}

class AlertBus {
  constructor() {
    this.enabled = false;
    this.canWrite = false;
    this.openCount = null;
    this.listeners = new Set();
    this.timer = 0;
    this.inflight = null;
    this.waiting = [];
  }

  setConfig(c) {
    this.enabled = hasFeature(c, 'alerts') || !!(c && c.alerts === true);
    // Auth off: the server answers "admin". A read key cannot acknowledge.
    this.canWrite = !!(c && (c.scope === 'write' || c.scope === 'admin'));
  }

  /** Re-reads the open count (one request at a time, at most every 500 ms). */
  refresh(event = null) {
    if (!this.enabled) return Promise.resolve(this.openCount);
    clearTimeout(this.timer);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.timer = setTimeout(async () => {
        const waiting = this.waiting;
        this.waiting = [];
        try {
          if (!this.inflight) this.inflight = api('/api/v1/alerts', { params: { state: 'open', limit: 1 } });
          const j = await this.inflight;
          this.openCount = j && typeof j.total === 'number' ? j.total : this.openCount;
        } catch {
          // keep the last count; the views show their own errors
        } finally {
          this.inflight = null;
        }
        this.notify(event);
        for (const r of waiting) r(this.openCount);
      }, event ? 150 : 0);
    });
  }

  /** A view read the count itself (GET /api/v1/alerts?state=open with no other filter). */
  setCount(n) {
    if (n === this.openCount) return;
    this.openCount = n;
    this.notify(null);
  }

  changed(event) {
    this.refresh(event || { event: 'changed' });
  }

  notify(event) {
    for (const fn of this.listeners) {
      try {
        fn({ count: this.openCount, event });
      } catch (e) {
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

export const alertBus = new AlertBus();
