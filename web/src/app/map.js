// app/map.js: Leaflet map factory shared by the overview and the entity view.
import L from './leaflet.js';
import 'leaflet.markercluster';
import { addBasemap } from '../basemap/basemap.js';

export { L };

export const NATION = [48.8483, 2.3958];
export const PAGE_BG = '#eef1f4';

/** Creates a map in el with the offline base map (or config.tiles). */
export function createMap(el, config, opts = {}) {
  const map = L.map(el, {
    center: opts.center || NATION,
    zoom: opts.zoom || 13,
    // A city map: from the whole metropolitan area (11) down to the street. The marker clusters
    // are computed for every zoom level in range, so the range is also the first render's cost.
    minZoom: opts.minZoom || 11,
    maxZoom: 19,
    preferCanvas: true,
    zoomControl: true,
    attributionControl: true,
    keyboard: true,
  });
  map.attributionControl.setPrefix(false);
  addBasemap(map, { tiles: config && config.tiles, tilesAttribution: config && config.tilesAttribution, background: PAGE_BG });
  return map;
}
