// app/leaflet.js: Leaflet with leaflet.markercluster attached (the plugin expects a global L).
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';

window.L = L;
export default L;
