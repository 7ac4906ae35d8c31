// The map: a canvas with the base map (roads and district outlines as vector lines, drawn once into an offscreen
// canvas per view), incidents (accuracy circles, priority colours, clustered with report counts) and units (status
// colours). No tiles, no network beyond /api/map/base. Redraws are coalesced to at most a few per second so a city
// of units reporting every second costs little main-thread time.

export const UNIT_COLOURS = {
  available: '#1a7f37', dispatched: '#c2410c', on_scene: '#7c3aed', off_duty: '#6b7280',
};
export const PRIORITY_COLOURS = ['#dc2626', '#ea580c', '#ca8a04', '#2563eb', '#4b5563'];

const REDRAW_MS = 250;
const CLUSTER_PX = 14;

export class MapView {
  constructor(canvas, { onSelect }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.onSelect = onSelect;
    this.base = { roads: [], districts: [] };
    this.incidents = new Map();
    this.units = new Map();
    this.selected = null;
    this.view = { lat: 37.5665, lon: 126.978, mPerPx: 8 };
    this.baseCache = null;
    this.dirty = true;
    this.lastDraw = 0;
    this.timer = null;
    // What the last frame showed, for tests and the summary line: incident ids and unit statuses.
    this.drawn = { incidents: new Set(), units: new Map() };
    this.drawMs = 0;
    this.dpr = window.devicePixelRatio || 1;
    this.installInput();
    new ResizeObserver(() => { this.baseCache = null; this.invalidate(true); }).observe(canvas);
  }

  setBase(base) {
    this.base = base;
    const pts = base.roads.flat().concat(base.districts.flat());
    if (pts.length) {
      const lons = pts.map((p) => p[0]);
      const lats = pts.map((p) => p[1]);
      const [minLon, maxLon, minLat, maxLat] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
      this.view.lat = (minLat + maxLat) / 2;
      this.view.lon = (minLon + maxLon) / 2;
      const w = Math.max(this.canvas.clientWidth, 100);
      const h = Math.max(this.canvas.clientHeight, 100);
      const wm = (maxLon - minLon) * 111320 * Math.cos((this.view.lat * Math.PI) / 180);
      const hm = (maxLat - minLat) * 111320;
      this.view.mPerPx = Math.max(wm / w, hm / h) * 1.05 || 8;
    }
    this.baseCache = null;
    this.invalidate(true);
  }

  setIncident(inc) {
    if (inc.status === 'closed' || !inc.location) this.incidents.delete(inc.id);
    else this.incidents.set(inc.id, inc);
    this.invalidate();
  }

  removeIncident(id) { this.incidents.delete(id); this.invalidate(); }

  setUnit(unit) { this.units.set(unit.id, unit); this.invalidate(); }

  select(id) { this.selected = id; this.invalidate(true); }

  centreOn(lat, lon) { this.view.lat = lat; this.view.lon = lon; this.baseCache = null; this.invalidate(true); }

  clear() { this.incidents.clear(); this.units.clear(); this.invalidate(true); }

  // Schedules a redraw; `now` skips the throttle (user interaction).
  invalidate(now = false) {
    this.dirty = true;
    if (this.timer) {
      if (!now) return;
      clearTimeout(this.timer);
    }
    const wait = now ? 0 : Math.max(0, REDRAW_MS - (performance.now() - this.lastDraw));
    this.timer = setTimeout(() => {
      this.timer = null;
      requestAnimationFrame(() => this.draw());
    }, wait);
  }

  project(lat, lon) {
    const w = this.canvas.width / this.dpr;
    const h = this.canvas.height / this.dpr;
    const x = ((lon - this.view.lon) * 111320 * Math.cos((this.view.lat * Math.PI) / 180)) / this.view.mPerPx + w / 2;
    const y = (-(lat - this.view.lat) * 111320) / this.view.mPerPx + h / 2;
    return [x, y];
  }

  unproject(x, y) {
    const w = this.canvas.width / this.dpr;
    const h = this.canvas.height / this.dpr;
    const lat = this.view.lat - ((y - h / 2) * this.view.mPerPx) / 111320;
    const lon = this.view.lon + ((x - w / 2) * this.view.mPerPx) / (111320 * Math.cos((this.view.lat * Math.PI) / 180));
    return [lat, lon];
  }

  resize() {
    this.dpr = window.devicePixelRatio || 1;
    const w = Math.round(this.canvas.clientWidth * this.dpr);
    const h = Math.round(this.canvas.clientHeight * this.dpr);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.baseCache = null;
    }
  }

  drawBase() {
    const c = document.createElement('canvas');
    c.width = this.canvas.width;
    c.height = this.canvas.height;
    const g = c.getContext('2d');
    g.scale(this.dpr, this.dpr);
    g.fillStyle = '#ece8df';
    g.fillRect(0, 0, c.width, c.height);
    const line = (pts) => {
      g.beginPath();
      pts.forEach(([lon, lat], i) => {
        const [x, y] = this.project(lat, lon);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    };
    g.strokeStyle = '#9ca3af';
    g.setLineDash([6, 4]);
    g.lineWidth = 1.5;
    this.base.districts.forEach(line);
    g.setLineDash([]);
    g.strokeStyle = '#c4bfb3';
    g.lineWidth = 3.5;
    this.base.roads.forEach(line);
    g.strokeStyle = '#ffffff';
    g.lineWidth = 1.5;
    this.base.roads.forEach(line);
    this.baseCache = c;
  }

  draw() {
    const t0 = performance.now();
    this.resize();
    if (this.canvas.width === 0 || this.canvas.height === 0) {
      // Not laid out yet (hidden view): the ResizeObserver redraws once it is.
      this.timer = null;
      return;
    }
    if (!this.baseCache) this.drawBase();
    const g = this.ctx;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(this.baseCache, 0, 0);
    g.scale(this.dpr, this.dpr);
    const drawnIncidents = new Set();
    // Screen-space clustering: incidents within a few pixels draw as one marker with a count.
    const clusters = [];
    const grid = new Map();
    for (const inc of this.incidents.values()) {
      const [x, y] = this.project(inc.location.lat, inc.location.lon);
      drawnIncidents.add(inc.id);
      const key = `${Math.round(x / CLUSTER_PX)},${Math.round(y / CLUSTER_PX)}`;
      let cl = grid.get(key);
      if (!cl) {
        cl = { x, y, items: [], best: inc };
        grid.set(key, cl);
        clusters.push(cl);
      }
      cl.items.push(inc);
      if (inc.priority < cl.best.priority) cl.best = inc;
      const r = (inc.location.accuracy_m || 0) / this.view.mPerPx;
      if (r > 3) {
        g.beginPath();
        g.arc(x, y, r, 0, Math.PI * 2);
        g.fillStyle = 'rgba(220,38,38,0.08)';
        g.fill();
        g.strokeStyle = 'rgba(220,38,38,0.45)';
        g.lineWidth = 1;
        g.stroke();
      }
    }
    g.font = 'bold 11px system-ui, sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    for (const cl of clusters) {
      const reports = cl.items.reduce((n, i) => n + Math.max(1, i.n_fixes || 1), 0);
      const sel = cl.items.some((i) => i.id === this.selected);
      g.beginPath();
      g.arc(cl.x, cl.y, sel ? 10 : 8, 0, Math.PI * 2);
      g.fillStyle = PRIORITY_COLOURS[cl.best.priority] || '#111';
      g.fill();
      g.lineWidth = sel ? 3 : 1.5;
      g.strokeStyle = sel ? '#111827' : '#fff';
      g.stroke();
      if (cl.items.length > 1 || reports > 1) {
        g.fillStyle = '#fff';
        g.fillText(String(cl.items.length > 1 ? cl.items.length : reports), cl.x, cl.y);
      }
    }
    const drawnUnits = new Map();
    g.textAlign = 'left';
    for (const u of this.units.values()) {
      if (!u.position) continue;
      const [x, y] = this.project(u.position.lat, u.position.lon);
      g.fillStyle = UNIT_COLOURS[u.status] || '#111';
      g.strokeStyle = '#fff';
      g.lineWidth = 1.5;
      g.beginPath();
      g.rect(x - 6, y - 6, 12, 12);
      g.fill();
      g.stroke();
      g.fillStyle = '#111827';
      g.fillText(u.id, x + 8, y);
      drawnUnits.set(u.id, u.status);
    }
    this.drawn = { incidents: drawnIncidents, units: drawnUnits };
    this.dirty = false;
    this.lastDraw = performance.now();
    this.drawMs = this.lastDraw - t0;
    this.canvas.dispatchEvent(new CustomEvent('drawn'));
  }

  installInput() {
    let drag = null;
    this.canvas.addEventListener('pointerdown', (e) => {
      drag = { x: e.offsetX, y: e.offsetY, moved: false };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.offsetX - drag.x;
      const dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (!drag.moved) return;
      this.view.lon -= (dx * this.view.mPerPx) / (111320 * Math.cos((this.view.lat * Math.PI) / 180));
      this.view.lat += (dy * this.view.mPerPx) / 111320;
      drag.x = e.offsetX;
      drag.y = e.offsetY;
      this.baseCache = null;
      this.invalidate(true);
    });
    this.canvas.addEventListener('pointerup', (e) => {
      if (drag && !drag.moved) this.pick(e.offsetX, e.offsetY);
      drag = null;
    });
    this.canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.view.mPerPx *= e.deltaY > 0 ? 1.2 : 1 / 1.2;
      this.view.mPerPx = Math.min(Math.max(this.view.mPerPx, 0.5), 500);
      this.baseCache = null;
      this.invalidate(true);
    }, { passive: false });
  }

  pick(x, y) {
    let best = null;
    let bestD = 15 * 15;
    for (const inc of this.incidents.values()) {
      const [ix, iy] = this.project(inc.location.lat, inc.location.lon);
      const d = (ix - x) ** 2 + (iy - y) ** 2;
      if (d < bestD) { bestD = d; best = inc; }
    }
    if (best) this.onSelect(best.id);
  }
}
