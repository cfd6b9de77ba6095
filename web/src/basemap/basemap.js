// basemap/basemap.js: the offline base map of Paris for Leaflet maps.
//
// SCHEMATIC: the outlines come from paris.json, written by hand (approximate city boundary,
// simplified Seine, approximate arrondissement centres). Arrondissements are drawn as the
// Voronoi cells of their 20 centres (d3-delaunay), clipped to the city by a mask: a polygon
// covering the world with the city boundary as a hole, filled with the page background. They
// are NOT the legal boundaries; the map legend says so.
//
// When the server configures a tile URL (config.tiles), a real tile layer is added under the
// schematic layers instead of the filled cells (the outlines stay as a light overlay).
//
// Usage: addBasemap(map, {tiles, tilesAttribution, background}) -> {layers, remove()}

import L from 'leaflet';
import { Delaunay } from 'd3-delaunay';
import paris from './paris.json';

const COS = Math.cos((48.86 * Math.PI) / 180); // x scale so Voronoi distances are ~metric
const BOX = { w: 2.2, s: 48.80, e: 2.48, n: 48.91 };

let cells = null; // computed once: [{n, latlngs, center}]

function boundaryLatLngs() {
  const f = paris.features.find((x) => x.properties.role === 'boundary');
  return f.geometry.coordinates[0].map(([lon, lat]) => [lat, lon]);
}

function seineLatLngs() {
  const f = paris.features.find((x) => x.properties.role === 'river');
  return f.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
}

/** The 20 arrondissement centres: [{n, lat, lon}]. */
export function arrondissementCentres() {
  return paris.features
    .filter((x) => x.properties.arrondissement)
    .map((x) => ({ n: x.properties.arrondissement, lat: x.geometry.coordinates[1], lon: x.geometry.coordinates[0] }));
}

function voronoiCells() {
  if (cells) return cells;
  const cs = arrondissementCentres();
  const pts = cs.map((c) => [c.lon * COS, c.lat]);
  const v = Delaunay.from(pts).voronoi([BOX.w * COS, BOX.s, BOX.e * COS, BOX.n]);
  cells = cs.map((c, i) => ({
    n: c.n,
    center: [c.lat, c.lon],
    latlngs: (v.cellPolygon(i) || []).map(([x, y]) => [y, x / COS]),
  }));
  return cells;
}

/** Adds the schematic base map to a Leaflet map. Returns {remove()}. */
export function addBasemap(map, opts = {}) {
  const bg = opts.background || '#eef1f4';
  if (!map.getPane('basemap')) {
    map.createPane('basemap').style.zIndex = 250;
    map.createPane('basemapLabels').style.zIndex = 260;
    map.getPane('basemapLabels').style.pointerEvents = 'none';
  }
  const renderer = L.svg({ pane: 'basemap' });
  const group = L.layerGroup();
  const tiled = typeof opts.tiles === 'string' && opts.tiles.length > 0;
  if (tiled) {
    L.tileLayer(opts.tiles, { attribution: opts.tilesAttribution || '', maxZoom: 19 }).addTo(group);
  }
  const common = { pane: 'basemap', renderer, interactive: false };
  for (const c of voronoiCells()) {
    L.polygon(c.latlngs, {
      ...common,
      color: '#9aa5b1',
      weight: 1,
      fill: !tiled,
      fillColor: '#ffffff',
      fillOpacity: 1,
    }).addTo(group);
  }
  if (!tiled) {
    // Mask: everything outside the city boundary painted with the page background.
    const world = [[-85, -180], [-85, 180], [85, 180], [85, -180]];
    L.polygon([world, boundaryLatLngs()], {
      ...common,
      stroke: false,
      fillColor: bg,
      fillOpacity: 1,
    }).addTo(group);
  }
  L.polygon(boundaryLatLngs(), { ...common, color: '#5b6672', weight: 2, fill: false }).addTo(group);
  L.polyline(seineLatLngs(), { ...common, color: '#4a90c8', weight: 6, opacity: 0.85, lineCap: 'round', lineJoin: 'round' }).addTo(group);
  for (const c of voronoiCells()) {
    L.marker(c.center, {
      pane: 'basemapLabels',
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: 'arr-label', html: `${c.n}`, iconSize: [28, 18], iconAnchor: [14, 9] }),
    }).addTo(group);
  }
  group.addTo(map);
  return { group, remove: () => group.remove() };
}
