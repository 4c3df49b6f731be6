// The reference network drawn from GET /network: no tiles, no internet. Places and roads on a
// geo coordinate system (so distances keep their proportions), stations spread around their
// place on a sunflower spiral (every station of a city shares its coordinates).

const REGION = 'recarga-network';
export const STATUS_COLOURS = {
  available: '#1a8a4a', reserved: '#0b6bcb', charging: '#c77700', offline: '#c62828', unreachable: '#8a94a6',
};

function registerRegion(network) {
  if (echarts.getMap(REGION)) return;
  const lons = network.places.map((p) => p.lon);
  const lats = network.places.map((p) => p.lat);
  const [w, e, s, n] = [Math.min(...lons) - 1, Math.max(...lons) + 1, Math.min(...lats) - 1, Math.max(...lats) + 1];
  echarts.registerMap(REGION, {
    type: 'FeatureCollection',
    features: [{ type: 'Feature', properties: { name: 'region' },
      geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } }],
  });
}

export function baseOption(network) {
  registerRegion(network);
  const place = Object.fromEntries(network.places.map((p) => [p.id, p]));
  return {
    animation: false,
    tooltip: { trigger: 'item', confine: true },
    geo: {
      map: REGION, roam: true, silent: true, aspectScale: 1, layoutCenter: ['50%', '50%'], layoutSize: '100%',
      itemStyle: { areaColor: '#f7f9fb', borderWidth: 0 }, label: { show: false },
      emphasis: { disabled: true },
    },
    series: [
      { id: 'roads', type: 'lines', coordinateSystem: 'geo', silent: true, z: 1,
        lineStyle: { color: '#b8c1cc', width: 1.5, opacity: 0.9 },
        data: network.roads.map((r) => ({ coords: [[place[r.a].lon, place[r.a].lat], [place[r.b].lon, place[r.b].lat]] })) },
      { id: 'places', type: 'scatter', coordinateSystem: 'geo', z: 2, symbolSize: 4,
        itemStyle: { color: '#5b6677' },
        label: { show: true, formatter: '{b}', position: 'right', fontSize: 9, color: '#5b6677' },
        labelLayout: { hideOverlap: true },
        tooltip: { formatter: (p) => `${p.name}` },
        data: network.places.map((p) => ({ name: p.name, value: [p.lon, p.lat] })) },
    ],
  };
}

export function spread(stations, places) {
  // stations: [{id, place_id, ...}] -> the same with value [lon, lat] around their place
  const byPlace = new Map();
  for (const s of [...stations].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (!byPlace.has(s.place_id)) byPlace.set(s.place_id, []);
    byPlace.get(s.place_id).push(s);
  }
  const out = [];
  for (const [placeId, items] of byPlace) {
    const p = places[placeId];
    items.forEach((s, i) => {
      const r = 0.045 * Math.sqrt(i + 0.5);
      const a = i * 2.39996;
      const lon = (p ? p.lon : s.lon) + r * Math.cos(a);
      const lat = (p ? p.lat : s.lat) + r * Math.sin(a);
      out.push({ ...s, value: [lon, lat] });
    });
  }
  return out;
}

export function mount(el) {
  const chart = echarts.init(el, null, { renderer: 'canvas' });
  // a hidden view has no size: charts resize when it shows again, never to nothing
  new ResizeObserver(() => { if (el.clientWidth && el.clientHeight) chart.resize(); }).observe(el);
  return chart;
}
