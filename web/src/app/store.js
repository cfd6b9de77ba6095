// app/store.js: the in-memory state of the city: every entity with the latest value of each
// of its series, filled from GET /api/v1/latest and kept current by the live stream.
// Views subscribe with store.subscribe(fn): fn(dirtyIds: Set|null) is called at most once per
// animation frame (null = everything changed, e.g. after a full reload).

import { api } from '../common/api.js';
import { mainAttr } from './domains.js';

class Store {
  constructor() {
    this.byType = new Map(); // type -> [entity]
    this.entities = new Map(); // id -> {id, type, tags, attrs: Map(attr -> {ts, value}), loc, lastTs, main}
    this.loaded = false;
    this.listeners = new Set();
    this.dirty = new Set();
    this.all = false;
    this.frame = 0;
    this.stats = { updates: 0, lastUpdateAt: 0, lagMs: 0 };
    this.loading = null;
  }

  entity(id, type, tags) {
    let e = this.entities.get(id);
    if (!e) {
      e = { id, type, tags: tags || {}, attrs: new Map(), loc: null, lastTs: 0, main: null };
      this.entities.set(id, e);
      let l = this.byType.get(type);
      if (!l) this.byType.set(type, (l = []));
      l.push(e);
    } else if (tags) {
      e.tags = tags;
    }
    return e;
  }

  /** Entity label: its name tag, else the last part of its id. */
  label(e) {
    if (e.tags && e.tags.name) return e.tags.name;
    const i = e.id.lastIndexOf(':');
    return i >= 0 ? e.id.slice(i + 1) : e.id;
  }

  set(e, attr, ts, value) {
    const cur = e.attrs.get(attr);
    if (cur && cur.ts > ts) return false; // older than what we hold
    if (cur) {
      cur.ts = ts;
      cur.value = value;
    } else {
      e.attrs.set(attr, { ts, value });
      if (attr !== 'location' && !e.main) e.main = mainAttr(e);
    }
    if (attr === 'location') {
      if (value && typeof value.lat === 'number') e.loc = value;
    } else if (ts > e.lastTs && !attr.includes('@')) {
      e.lastTs = ts;
    }
    return true;
  }

  /** Full reload from /api/v1/latest. Resolves when done. Concurrent calls share one fetch. */
  load() {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        // One object per entity (a third of the per-series answer's size); the server sends a
        // preload of this exact URL with the page (src/api/h_ui.c).
        const j = await api('/api/v1/latest?by=entity');
        performance.mark('vigie:latest-json');
        const fresh = new Map();
        const old = this.entities;
        this.entities = fresh;
        this.byType = new Map();
        for (const x of j.entities || []) {
          const e = this.entity(x.id, x.type, x.tags);
          for (const a in x.values) this.set(e, a, x.values[a][0], x.values[a][1]);
        }
        for (const e of fresh.values()) e.main = mainAttr(e);
        // Keep live values newer than the snapshot (they arrived while fetching).
        for (const [id, oe] of old) {
          const ne = fresh.get(id);
          if (!ne) continue;
          for (const [a, v] of oe.attrs) this.set(ne, a, v.ts, v.value);
        }
        this.loaded = true;
        if (!this.firstLoadAt) this.firstLoadAt = performance.now();
        this.markAll();
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Applies live rows [[id, type, attr, ts, value], ...]. */
  apply(rows) {
    let n = 0;
    let last = 0;
    for (const r of rows) {
      const [id, type, attr, ts, value] = r;
      let e = this.entities.get(id);
      if (!e) e = this.entity(id, type, null);
      if (this.set(e, attr, ts, value)) {
        n++;
        if (ts > last) last = ts;
        if (!this.all) this.dirty.add(id);
      }
    }
    if (n) {
      const now = Date.now();
      this.stats.updates += n;
      this.stats.lastUpdateAt = now;
      this.stats.lagMs = now - last;
      this.schedule();
    }
  }

  markAll() {
    this.all = true;
    this.dirty.clear();
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const d = this.all ? null : this.dirty;
    this.all = false;
    this.dirty = new Set();
    for (const fn of this.listeners) {
      try {
        fn(d);
      } catch (e) {
        // A view failing must not stop the others; keep it visible to developers.
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

export const store = new Store();
