// Beatbook's map: the GeoJSON layers of beatbook_schema::map drawn with
// MapLibre GL (installed by scripts/map-assets.sh and served from `assets`,
// never from a CDN), over an optional offline basemap (a raster PMTiles
// file). One drawing for the field app (liveview and the web build, through
// Dioxus's eval) and the review pages (this module loaded by the page).

// Styles per layer id, bottom to top as the layers come.
const STYLES = {
  outline: [
    { type: 'fill', paint: { 'fill-color': '#1d4ed8', 'fill-opacity': 0.06 } },
    { type: 'line', suffix: '-line', paint: { 'line-color': '#1d4ed8', 'line-width': 2, 'line-dasharray': [2, 2] } },
  ],
  addresses: [{ type: 'circle', paint: { 'circle-radius': 3, 'circle-color': '#94a3b8' } }],
  houses: [{ type: 'circle', paint: { 'circle-radius': 5, 'circle-color': '#2563eb', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } }],
  visits: [{ type: 'circle', paint: { 'circle-radius': 5, 'circle-color': '#0d9488', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } }],
  tracks: [{ type: 'line', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#16a34a', 'line-width': 4, 'line-opacity': 0.85 } },
    { type: 'circle', suffix: '-point', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 5, 'circle-color': '#16a34a' } }],
  tasks: [{ type: 'circle', paint: {
    'circle-radius': 8, 'circle-color': ['match', ['get', 'status'], 'open', '#7c3aed', '#c4b5fd'],
    'circle-stroke-color': ['case', ['get', 'overdue'], '#111827', '#fff'], 'circle-stroke-width': ['case', ['get', 'overdue'], 3, 1.5] } }],
  hazards: [{ type: 'circle', paint: {
    'circle-radius': 9,
    'circle-color': ['match', ['get', 'status'], 'open', '#dc2626', 'rectifying', '#f59e0b', 'rectified', '#65a30d', '#9ca3af'],
    'circle-stroke-color': ['case', ['get', 'overdue'], '#111827', '#fff'], 'circle-stroke-width': ['case', ['get', 'overdue'], 3, 1.5] } }],
};

async function load(assets) {
  const css = assets + 'maplibre-gl.css';
  if (![...document.styleSheets].some((s) => s.href === css)) {
    const link = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: css });
    document.head.append(link);
  }
  const m = await import(assets + 'maplibre-gl.mjs');
  return m.default ?? m;
}

function loadPmtiles(assets) {
  if (globalThis.pmtiles) return Promise.resolve(globalThis.pmtiles);
  return new Promise((resolve, reject) => {
    const s = Object.assign(document.createElement('script'), { src: assets + 'pmtiles.js' });
    s.onload = () => resolve(globalThis.pmtiles);
    s.onerror = () => reject(new Error('pmtiles.js did not load'));
    document.head.append(s);
  });
}

function bounds(layers, position) {
  let b = null;
  const add = ([x, y]) => { b = b ? [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)] : [x, y, x, y]; };
  const walk = (c) => (typeof c[0] === 'number' ? add(c) : c.forEach(walk));
  for (const l of layers) for (const f of l.data.features) walk(f.geometry.coordinates);
  if (position) add([position.lon, position.lat]);
  return b;
}

/**
 * Draws `layers` ([{id, data: FeatureCollection}]) in `container`; a tap on
 * a feature calls `onOpen(id)` with its record's id. Resolves to the map
 * once it has drawn (also left on `window.beatbookMap` for tests).
 */
export async function draw(container, { assets: given, layers, position, basemap, onOpen }) {
  // Relative to the page, not to this module.
  const assets = new URL(given, document.baseURI).href;
  const maplibregl = await load(assets);
  window.beatbookMap?.remove();
  const style = { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f5' } }] };
  if (basemap) {
    const pm = await loadPmtiles(assets);
    if (!window.beatbookPmtiles) {
      window.beatbookPmtiles = new pm.Protocol();
      maplibregl.addProtocol('pmtiles', window.beatbookPmtiles.tile);
    }
    style.sources.basemap = { type: 'raster', url: 'pmtiles://' + new URL(basemap, location.href).href, tileSize: 256 };
    style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  const box = bounds(layers, position);
  const map = new maplibregl.Map({
    container, style, attributionControl: false, dragRotate: false, pitchWithRotate: false,
    ...(box ? { bounds: box, fitBoundsOptions: { padding: 28, maxZoom: 17 } } : { center: [116.4, 39.9], zoom: 3 }),
  });
  window.beatbookMap = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  await new Promise((resolve) => map.once('load', resolve));
  const clickable = [];
  for (const layer of layers) {
    map.addSource(layer.id, { type: 'geojson', data: layer.data });
    for (const s of STYLES[layer.id] ?? []) {
      const id = layer.id + (s.suffix ?? '');
      map.addLayer({ id, source: layer.id, type: s.type, paint: s.paint, ...(s.filter ? { filter: s.filter } : {}) });
      if (layer.id !== 'outline') clickable.push(id);
    }
  }
  if (position) {
    map.addSource('me', { type: 'geojson', data: { type: 'Feature', geometry: { type: 'Point', coordinates: [position.lon, position.lat] }, properties: { layer: 'me' } } });
    map.addLayer({ id: 'me-halo', source: 'me', type: 'circle', paint: { 'circle-radius': 16, 'circle-color': '#3b82f6', 'circle-opacity': 0.2 } });
    map.addLayer({ id: 'me', source: 'me', type: 'circle', paint: { 'circle-radius': 7, 'circle-color': '#1d4ed8', 'circle-stroke-color': '#fff', 'circle-stroke-width': 3 } });
  }
  map.on('click', (e) => {
    // A finger is wider than a point: look a few pixels around the tap; the topmost layer wins.
    const r = 10;
    const hits = map.queryRenderedFeatures([[e.point.x - r, e.point.y - r], [e.point.x + r, e.point.y + r]], { layers: clickable });
    const id = hits.find((f) => f.properties.id)?.properties.id;
    if (id) onOpen(id);
  });
  for (const id of clickable) {
    map.on('mouseenter', id, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
  }
  await new Promise((resolve) => map.once('idle', resolve));
  container.dataset.ready = 'true';
  return map;
}

// The review pages: the page names its data in a JSON block, and where a
// record opens (`open`, with `{id}`).
const data = document.getElementById('beatbook-map-data');
if (data) {
  const config = JSON.parse(data.textContent);
  const container = document.getElementById('map');
  draw(container, { ...config, onOpen: (id) => { location.href = config.open.replace('{id}', encodeURIComponent(id)); } })
    .catch((e) => {
      container.dataset.failed = String(e);
      document.getElementById('map-missing')?.removeAttribute('hidden');
    });
}
