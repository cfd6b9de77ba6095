// app/leaflet.js: Leaflet with leaflet.markercluster attached (the plugin expects a global L).
import L from 'leaflet';

window.L = L;
export default L;
