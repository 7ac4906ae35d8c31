// The map: a canvas with the base map (roads and district outlines as vector lines, drawn once into an offscreen
// canvas per view), incidents (accuracy circles, priority colours, clustered with report counts) and units (status
// colours). No tiles, no network beyond /api/map/base.
//
// Layers keep the cost of a city of units reporting every second small: the base map is drawn into an offscreen
// canvas only when the view changes; the incidents are drawn over a copy of it into a second offscreen canvas, in
// full only when an incident moves or closes, the selection or the view changes, and otherwise by adding the new
// ones on top; a redraw, at most every REDRAW_MS (UNIT_REDRAW_MS for unit moves), copies that layer and draws the
// units over it. Markers are copied from pre-drawn sprites (far cheaper than rasterising thousands of circles);
// units are one path per status colour, their call signs written only when few enough are in view to be legible.
// (One visible canvas: with software compositing, stacked canvases cost more to commit than the copy saves.)

export const UNIT_COLOURS = {
  available: '#1a7f37', dispatched: '#c2410c', on_scene: '#7c3aed', off_duty: '#6b7280',
};
export const PRIORITY_COLOURS = ['#dc2626', '#ea580c', '#ca8a04', '#2563eb', '#4b5563'];

// Least time between redraws: a quarter second after an incident change, half a second when only units moved (they
// report about once a second).
const REDRAW_MS = 250;
const UNIT_REDRAW_MS = 500;
const CLUSTER_PX = 14;
// Call signs are drawn when at most this many units are in view (beyond that they overlap into noise).
const MAX_LABELS = 60;

export class MapView {
  constructor(canvas, { onSelect }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.baseCanvas = document.createElement('canvas');
    this.incidentCanvas = document.createElement('canvas');
    this.onSelect = onSelect;
    this.base = { roads: [], districts: [] };
    this.incidents = new Map();
    this.units = new Map();
    this.selected = null;
    this.view = { lat: 37.5665, lon: 126.978, mPerPx: 8 };
    this.baseCache = null;
    this.incCache = null;
    this.unitsDrawn = new Map();
    this.incDrawn = new Set();
    this.incAdded = [];
    this.sprites = new Map();
    this.dirty = true;
    this.lastDraw = 0;
    this.timer = null;
    // What the last frame showed, for tests and the summary line: incident ids and unit statuses.
    this.drawn = { incidents: new Set(), units: new Map() };
    this.drawMs = 0;
    // Where drawing time goes (ms, counts), for the benchmark.
    this.stats = { draws: 0, total: 0, incidents: 0, incidentLayers: 0 };
    this.dpr = window.devicePixelRatio || 1;
    // The disaster view's layer (disaster.js): polygons, markers and a crosshair at the view's centre.
    this.overlay = null;
    this.installInput();
    new ResizeObserver(() => { this.viewChanged(); }).observe(canvas);
  }

  setBase(base) {
    this.base = base;
    this.fit(base.roads.flat().concat(base.districts.flat()));
  }

  // Centres and zooms the view on `pts` ([lon, lat] pairs).
  fit(pts) {
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
    this.viewChanged();
  }

  // The disaster overlay: { polygons: [{ rings, fill, stroke, width, dash }], markers: [{ lat, lon, shape, colour,
  // size }], crosshair }. It is drawn into the base layer, so it costs nothing between its own changes.
  setOverlay(overlay) {
    this.overlay = overlay;
    this.viewChanged();
  }

  // The view moved or resized: every layer is stale.
  viewChanged() {
    this.baseCache = null;
    this.incCache = null;
    this.invalidate(true);
  }

  // A new incident is drawn on top of the incident layer as it stands; one that moved, changed code or report
  // count, or closed makes the layer redraw; any other change (status, notes) does not touch the map.
  setIncident(inc) {
    const old = this.incidents.get(inc.id);
    if (inc.status === 'closed' || !inc.location) {
      if (!this.incidents.delete(inc.id)) return;
      this.incCache = null;
    } else {
      this.incidents.set(inc.id, inc);
      if (!old) {
        if (this.incCache) this.incAdded.push(inc);
      } else if (old.priority !== inc.priority || old.n_fixes !== inc.n_fixes || old.location.lat !== inc.location.lat
        || old.location.lon !== inc.location.lon || old.location.accuracy_m !== inc.location.accuracy_m) {
        this.incCache = null;
      } else {
        return;
      }
    }
    this.invalidate();
  }

  removeIncident(id) {
    if (this.incidents.delete(id)) {
      this.incCache = null;
      this.invalidate();
    }
  }

  setUnit(unit) { this.units.set(unit.id, unit); this.invalidate(false, UNIT_REDRAW_MS); }

  select(id) { this.selected = id; this.incCache = null; this.invalidate(true); }

  centreOn(lat, lon) { this.view.lat = lat; this.view.lon = lon; this.viewChanged(); }

  clear() { this.incidents.clear(); this.units.clear(); this.incCache = null; this.invalidate(true); }

  // Schedules a redraw at least `gap` ms after the last one; `now` skips the wait (user interaction). A pending
  // redraw is brought forward when a change needs it sooner.
  invalidate(now = false, gap = REDRAW_MS) {
    this.dirty = true;
    const wait = now ? 0 : Math.max(0, gap - (performance.now() - this.lastDraw));
    const due = performance.now() + wait;
    if (this.timer) {
      if (due >= this.due) return;
      clearTimeout(this.timer);
    }
    this.due = due;
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
      this.incCache = null;
    }
  }

  // Sizes a layer like the visible canvas and clears it, ready to draw in CSS pixels.
  layer(c) {
    if (c.width !== this.canvas.width || c.height !== this.canvas.height) {
      c.width = this.canvas.width;
      c.height = this.canvas.height;
    }
    const g = c.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, c.width, c.height);
    g.scale(this.dpr, this.dpr);
    return [c, g];
  }

  drawBase() {
    const [c, g] = this.layer(this.baseCanvas);
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
    if (this.overlay) this.drawOverlay(g);
    this.baseCache = c;
  }

  drawOverlay(g) {
    for (const p of this.overlay.polygons || []) {
      g.beginPath();
      for (const ring of p.rings) {
        ring.forEach(([lon, lat], i) => {
          const [x, y] = this.project(lat, lon);
          if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
        });
        g.closePath();
      }
      if (p.fill) {
        g.fillStyle = p.fill;
        g.fill('evenodd');
      }
      if (p.stroke) {
        g.strokeStyle = p.stroke;
        g.lineWidth = p.width || 1;
        g.setLineDash(p.dash || []);
        g.stroke();
      }
    }
    g.setLineDash([]);
    for (const m of this.overlay.markers || []) {
      const [x, y] = this.project(m.lat, m.lon);
      const r = m.size || 6;
      g.beginPath();
      if (m.shape === 'x') {
        g.moveTo(x - r, y - r); g.lineTo(x + r, y + r); g.moveTo(x + r, y - r); g.lineTo(x - r, y + r);
        g.strokeStyle = '#fff';
        g.lineWidth = 6;
        g.stroke();
        g.strokeStyle = m.colour;
        g.lineWidth = 3.5;
        g.stroke();
      } else {
        g.moveTo(x, y - r); g.lineTo(x + r, y); g.lineTo(x, y + r); g.lineTo(x - r, y); g.closePath();
        g.fillStyle = m.colour;
        g.fill();
        g.strokeStyle = m.ring || '#fff';
        g.lineWidth = m.ring ? 3 : 1.5;
        g.stroke();
      }
    }
  }

  // Incidents: accuracy circles and markers, clustered in screen space (incidents within a few pixels draw as one
  // marker with a count) into the cached incident layer.
  // A marker (circle in the code's colour, white rim; thicker dark rim when selected) pre-drawn once: copying a
  // small bitmap thousands of times is several times cheaper than rasterising as many circles.
  sprite(priority, selected) {
    const key = `${priority}${selected ? 's' : ''}`;
    let c = this.sprites.get(key);
    if (!c || c.dpr !== this.dpr) {
      c = document.createElement('canvas');
      c.dpr = this.dpr;
      c.width = c.height = Math.ceil(24 * this.dpr);
      const g = c.getContext('2d');
      g.scale(this.dpr, this.dpr);
      g.beginPath();
      g.arc(12, 12, selected ? 10 : 8, 0, Math.PI * 2);
      g.fillStyle = PRIORITY_COLOURS[priority] || '#111';
      g.fill();
      g.lineWidth = selected ? 3 : 1.5;
      g.strokeStyle = selected ? '#111827' : '#fff';
      g.stroke();
      this.sprites.set(key, c);
    }
    return c;
  }

  // Incidents: accuracy circles and markers, clustered in screen space (incidents within a few pixels draw as one
  // marker with a count) into the cached incident layer, over a copy of the base map.
  drawIncidents() {
    const [c, g] = this.layer(this.incidentCanvas);
    g.drawImage(this.baseCanvas, 0, 0, c.width / this.dpr, c.height / this.dpr);
    this.incDrawn = new Set();
    this.clusters = new Map();
    const list = [...this.incidents.values()];
    this.paintIncidents(g, list.map((inc) => this.cluster(inc)), list);
    this.incCache = c;
    this.incAdded = [];
  }

  // Adds incidents that arrived since the layer was drawn, on top of it.
  drawAdded() {
    const g = this.incidentCanvas.getContext('2d');
    const added = this.incAdded.filter((inc) => this.incidents.get(inc.id) === inc);
    this.incAdded = [];
    this.paintIncidents(g, added.map((inc) => this.cluster(inc)), added);
  }

  // Files an incident into its screen-space cluster; returns the cluster.
  cluster(inc) {
    const [x, y] = this.project(inc.location.lat, inc.location.lon);
    this.incDrawn.add(inc.id);
    const key = `${Math.round(x / CLUSTER_PX)},${Math.round(y / CLUSTER_PX)}`;
    let cl = this.clusters.get(key);
    if (!cl) {
      cl = { x, y, items: [], best: inc, reports: 0 };
      this.clusters.set(key, cl);
    }
    cl.items.push(inc);
    cl.reports += Math.max(1, inc.n_fixes || 1);
    if (inc.priority < cl.best.priority) cl.best = inc;
    return cl;
  }

  // Paints the accuracy circles of `incs` (only those wider than a marker: smaller ones would hide beneath it),
  // then the markers and counts of `touched` clusters, most urgent last so it is on top.
  paintIncidents(g, touched, incs) {
    g.fillStyle = 'rgba(220,38,38,0.08)';
    g.strokeStyle = 'rgba(220,38,38,0.45)';
    g.lineWidth = 1;
    for (const inc of incs) {
      const r = (inc.location.accuracy_m || 0) / this.view.mPerPx;
      if (r <= 8) continue;
      const [x, y] = this.project(inc.location.lat, inc.location.lon);
      g.beginPath();
      g.arc(x, y, r, 0, Math.PI * 2);
      g.fill();
      g.stroke();
    }
    const clusters = [...new Set(touched)].sort((a, b) => b.best.priority - a.best.priority);
    g.font = 'bold 11px system-ui, sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillStyle = '#fff';
    for (const cl of clusters) {
      const sel = cl.items.some((i) => i.id === this.selected);
      g.drawImage(this.sprite(cl.best.priority, sel), cl.x - 12, cl.y - 12, 24, 24);
      if (cl.items.length > 1 || cl.reports > 1) g.fillText(String(cl.items.length > 1 ? cl.items.length : cl.reports), cl.x, cl.y);
    }
  }

  draw() {
    const t0 = performance.now();
    this.resize();
    if (this.canvas.width === 0 || this.canvas.height === 0) {
      // Not laid out yet (hidden view): the ResizeObserver redraws once it is.
      this.timer = null;
      return;
    }
    if (!this.baseCache) {
      this.drawBase();
      this.incCache = null;
    }
    if (!this.incCache) {
      const ti = performance.now();
      this.drawIncidents();
      this.stats.incidents += performance.now() - ti;
      this.stats.incidentLayers++;
    } else if (this.incAdded.length) {
      this.drawAdded();
    }
    this.drawUnits();
    this.drawn = { incidents: this.incDrawn, units: this.unitsDrawn };
    this.dirty = false;
    this.lastDraw = performance.now();
    this.drawMs = this.lastDraw - t0;
    this.stats.draws++;
    this.stats.total += this.drawMs;
    this.canvas.dispatchEvent(new CustomEvent('drawn'));
  }

  drawUnits() {
    const [, g] = this.layer(this.canvas);
    g.drawImage(this.incidentCanvas, 0, 0, this.canvas.width / this.dpr, this.canvas.height / this.dpr);
    // Units: squares 12 px wide on a white one 15 px wide (two fills: cheaper than stroking each).
    const w = this.canvas.width / this.dpr;
    const h = this.canvas.height / this.dpr;
    const drawnUnits = new Map();
    const byStatus = new Map();
    const halo = new Path2D();
    const labels = [];
    for (const u of this.units.values()) {
      if (!u.position) continue;
      drawnUnits.set(u.id, u.status);
      const [x, y] = this.project(u.position.lat, u.position.lon);
      if (x < -20 || y < -20 || x > w + 20 || y > h + 20) continue;
      let path = byStatus.get(u.status);
      if (!path) byStatus.set(u.status, (path = new Path2D()));
      path.rect(x - 6, y - 6, 12, 12);
      halo.rect(x - 7.5, y - 7.5, 15, 15);
      labels.push([u.id, x + 9, y]);
    }
    g.fillStyle = '#fff';
    g.fill(halo);
    for (const [status, path] of byStatus) {
      g.fillStyle = UNIT_COLOURS[status] || '#111';
      g.fill(path);
    }
    if (labels.length <= MAX_LABELS) {
      g.font = 'bold 11px system-ui, sans-serif';
      g.textAlign = 'left';
      g.textBaseline = 'middle';
      g.fillStyle = '#111827';
      for (const [text, x, y] of labels) g.fillText(text, x, y);
    }
    this.unitsDrawn = drawnUnits;
    if (this.overlay?.crosshair) {
      g.strokeStyle = '#111827';
      g.lineWidth = 1.5;
      g.beginPath();
      g.moveTo(w / 2 - 12, h / 2); g.lineTo(w / 2 - 4, h / 2); g.moveTo(w / 2 + 4, h / 2); g.lineTo(w / 2 + 12, h / 2);
      g.moveTo(w / 2, h / 2 - 12); g.lineTo(w / 2, h / 2 - 4); g.moveTo(w / 2, h / 2 + 4); g.lineTo(w / 2, h / 2 + 12);
      g.stroke();
    }
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
      this.viewChanged();
    });
    this.canvas.addEventListener('pointerup', (e) => {
      if (drag && !drag.moved) this.pick(e.offsetX, e.offsetY);
      drag = null;
    });
    this.canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.view.mPerPx *= e.deltaY > 0 ? 1.2 : 1 / 1.2;
      this.view.mPerPx = Math.min(Math.max(this.view.mPerPx, 0.5), 500);
      this.viewChanged();
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
