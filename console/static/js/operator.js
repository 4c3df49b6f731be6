// The operator view: the federation's stations on the map by live status, this company's
// connectors' reservations on a timeline, the federation panel. Polls each view every second
// (If-None-Match: an unchanged view answers 304 and nothing is redrawn).

import { ApiError } from './api.js';
import { elements } from './dom.js';
import { connectorNo, esc, percent, tag, when } from './format.js';
import { STATUS_COLOURS, baseOption, mount, spread } from './map.js';

export const POLL_MS = 1000;
const FEDERATION_EVERY = 3; // polls: the panel changes less and is read less
const HOVER_FRESH_MS = 5000; // a hovered booking is asked again after this
const STATE_COLOURS = {
  held: '#0b6bcb', confirmed: '#1a8a4a', charging: '#c77700', completed: '#2f5d62',
  no_show: '#7b1fa2', preempted: '#c62828', cancelled: '#c3cad5', aborted: '#e0a3a3',
};
const ENDED = new Set(['cancelled', 'aborted']);

export class OperatorView {
  constructor(api, network, setLive) {
    this.api = api;
    this.network = network;
    this.places = Object.fromEntries(network.places.map((p) => [p.id, p]));
    this.setLive = setLive;
    this.el = elements(['operator', 'map', 'map-count', 'map-companies', 'timeline', 'timeline-legend',
      'timeline-span', 'timeline-empty', 'timeline-place', 'timeline-hours', 'show-ended', 'federation']);
    this.map = mount(this.el.map);
    this.map.setOption(baseOption(network));
    this.timelineChart = mount(this.el.timeline);
    this.timeline = null;
    this.stations = null; // GET /monitor/stations: what changes rarely
    this.live = null; // GET /monitor/map: statuses, reachability, cars
    this.connectors = []; // this company's, from GET /catalog
    this.catalogVersion = null;
    this.polls = 0;
    // the timeline's colours, named once (the same as the state tags elsewhere)
    this.el.timelineLegend.innerHTML = Object.entries(STATE_COLOURS).map(([state, colour]) =>
      `<li><span class="swatch" style="background:${colour}"></span>${state.replace('_', '-')}</li>`).join('');
    this.legs = new Map(); // reservation id -> { at, html }: its booking as its driver sees it (hover)
    this.el.showEnded.addEventListener('change', () => this.drawTimeline());
    this.el.timelinePlace.addEventListener('change', () => this.drawTimeline());
    this.el.timelineHours.addEventListener('change', () => this.refresh());
    for (const p of network.places) this.el.timelinePlace.add(new Option(p.name, p.id));
  }

  async start() {
    for (;;) {
      // nothing to draw while this view or the browser tab is hidden
      if (document.visibilityState !== 'hidden' && !this.el.operator.hidden) await this.refresh();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async refresh() {
    try {
      // each second the live map and the timeline; the panel every third; the stations only
      // when the map reports a catalog version they were not drawn from
      const [live, timeline, federation] = await Promise.all([
        this.api.poll('/monitor/map'), this.api.poll(this.timelinePath()),
        this.polls++ % FEDERATION_EVERY === 0 ? this.api.poll('/monitor/federation') : null]);
      if (live) this.live = live;
      const stale = !this.stations || this.live.companies.some((c) => this.stations.versions[c.company] !== c.catalog_version);
      const stations = stale ? await this.api.poll('/monitor/stations') : null;
      if (stations) this.stations = stations;
      if ((stations || live) && this.stations && this.live) this.drawMap(this.stations, this.live);
      if (timeline && timeline.catalog_version !== this.catalogVersion) {
        const own = await this.api.get('/catalog');
        this.connectors = own.stations.flatMap((s) => s.connectors.map((c) => ({ ...c, station_id: s.id, place_id: s.place_id })));
        this.catalogVersion = timeline.catalog_version;
      }
      if (timeline) {
        this.worldAhead = Date.parse(timeline.time) - Date.now();
        this.timeline = timeline;
        this.drawTimeline();
      }
      if (federation) this.drawFederation(federation);
      const world = new Date(Date.now() + (this.worldAhead || 0));
      const fast = Math.abs(this.worldAhead || 0) > 300000 ? ' (the demo\'s clock)' : '';
      this.setLive(`live · ${world.toISOString().slice(11, 19)} UTC${fast}`);
    } catch (err) {
      this.setLive(err instanceof ApiError ? `server answered ${err.status}: ${err.message}` : 'server unreachable, retrying');
    }
  }

  // From two hours ago to the chosen horizon, in whole minutes: the path (and so its ETag)
  // changes once a minute, not at every poll.
  // The world's now is the server's (its answer's `time`): real time, or the demo's faster
  // clock (docs/console.md); until the first answer, this browser's.
  timelinePath() {
    const hours = Number(this.el.timelineHours.value);
    const now = Date.now() + (this.worldAhead || 0);
    const from = new Date(Math.floor(now / 60000) * 60000 - 2 * 3600000);
    const to = new Date(from.getTime() + (hours + 2) * 3600000);
    const text = (d) => d.toISOString().slice(0, 16) + ':00Z';
    return `/monitor/timeline?from=${text(from)}&to=${text(to)}`;
  }

  drawMap(all, view) {
    const lost = new Set(view.companies.filter((c) => !c.reachable).map((c) => c.company));
    const stations = spread(all.stations, this.places).map((s) => ({
      ...s, status: lost.has(s.company) ? 'unreachable' : view.status[s.id] || 'available' }));
    const series = Object.keys(STATUS_COLOURS).map((status) => ({
      id: `stations-${status}`, name: status, type: 'scatter', coordinateSystem: 'geo', z: 3,
      symbolSize: 7, itemStyle: { color: STATUS_COLOURS[status], borderColor: '#fff', borderWidth: 0.5 },
      tooltip: { formatter: (p) => stationTip(p.data) },
      data: stations.filter((s) => s.status === status).map((s) => ({
        name: s.id, value: s.value, title: s.name, company: s.company, status: s.status,
        connectors: s.connectors, max_power_kw: s.max_power_kw,
        symbol: s.company === view.company ? 'circle' : 'diamond',
      })),
    }));
    series.push({
      id: 'cars', name: 'cars', type: 'scatter', coordinateSystem: 'geo', z: 4, symbol: 'triangle', symbolSize: 9,
      itemStyle: { color: '#102a43' },
      tooltip: { formatter: (p) => `car <b>${esc(p.data.name)}</b><br>${percent(p.data.soc)} · ${Math.round(p.data.speed)} km/h` },
      data: view.cars.map((c) => ({ name: c.car_id, value: [c.lon, c.lat], soc: c.soc, speed: c.speed_kmh })),
    });
    this.map.setOption({
      legend: { data: [...Object.keys(STATUS_COLOURS), 'cars'], bottom: 0, textStyle: { fontSize: 11 } },
      series,
    });
    this.el.map.dataset.stations = String(stations.length);
    this.el.mapCount.textContent = `${stations.length} stations · ${view.cars.length} cars · ● ${view.company}, ◆ peers`;
    this.el.mapCompanies.innerHTML = view.companies.map((c) => `<li>
      <span class="tag ${c.reachable ? 'ok' : 'bad'}">${esc(c.company)}</span> ${c.stations} stations`
      + `${c.reachable ? '' : ` — ${esc(c.reason)}`}</li>`).join('');
  }

  drawTimeline() {
    const view = this.timeline;
    if (!view) return;
    const showEnded = this.el.showEnded.checked;
    const place = this.el.timelinePlace.value;
    const shown = view.reservations.filter((r) => showEnded || !ENDED.has(r.state));
    const used = new Set(shown.map((r) => r.connector_id));
    const all = this.connectors;
    const rows = all.filter((c) => (place ? c.place_id === place : used.has(c.id) || all.length <= 24));
    const rowOf = new Map(rows.map((c, i) => [c.id, i]));
    const data = shown.filter((r) => rowOf.has(r.connector_id)).map((r) => ({
      name: r.id, value: [rowOf.get(r.connector_id), Date.parse(r.start), Date.parse(r.end)],
      itemStyle: { color: STATE_COLOURS[r.state] || '#999' }, res: r,
    }));
    this.el.timelineSpan.textContent = `${when(view.from)} → ${when(view.to)} UTC · ${data.length} shown`;
    this.el.timelineEmpty.hidden = data.length > 0;
    this.el.timeline.dataset.reservations = data.map((d) => d.name).join(' ');
    this.timelineChart.setOption({
      animation: false,
      grid: { left: 170, right: 20, top: 26, bottom: 60 }, // the "now" label sits above the rows
      tooltip: { trigger: 'item', confine: true, formatter: (p, ticket, callback) => this.tooltip(p, ticket, callback) },
      xAxis: { type: 'time', min: Date.parse(view.from), max: Date.parse(view.to), axisLabel: { hideOverlap: true, fontSize: 11 } },
      yAxis: { type: 'category', inverse: true, data: rows.map((c) => `${c.station_id} · ${connectorNo(c.id)} (${c.power_kw} kW)`),
        axisLabel: { fontSize: 11, width: 160, overflow: 'truncate' } },
      dataZoom: [{ type: 'slider', xAxisIndex: 0, bottom: 8, height: 18 }, { type: 'inside', xAxisIndex: 0 },
        ...(rows.length > 14 ? [{ type: 'slider', yAxisIndex: 0, right: 0, width: 14, startValue: 0, endValue: 13 }] : [])],
      series: [{
        id: 'reservations', type: 'custom', encode: { x: [1, 2], y: 0 }, data,
        renderItem: (params, api) => {
          const start = api.coord([api.value(1), api.value(0)]);
          const end = api.coord([api.value(2), api.value(0)]);
          if (!start || !end) return null;
          const height = api.size([0, 1])[1] * 0.6;
          const shape = echarts.graphic.clipRectByRect(
            { x: start[0], y: start[1] - height / 2, width: Math.max(end[0] - start[0], 2), height },
            { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height });
          return shape && { type: 'rect', shape, style: api.style() };
        },
        markLine: { silent: true, symbol: 'none', lineStyle: { color: '#c62828', type: 'dashed' },
          label: { formatter: 'now', position: 'start', distance: 4 }, data: [{ xAxis: Date.parse(view.time) }] },
      }],
    }, { replaceMerge: ['series', 'dataZoom'] });
  }

  tooltip(p, ticket, callback) {
    const r = p.data && p.data.res;
    if (!r) return '';
    const head = `<b>${esc(r.state)}</b> ${esc(r.connector_id)}<br>${when(r.start)} → ${when(r.end)} UTC<br>`
      + `booking ${esc(r.booking_id)} · coordinated by ${esc(r.coordinator)}${r.car_id ? ` · car ${esc(r.car_id)}` : ''}`;
    // the booking as GET /bookings/{id} shows it (each leg's live state), asked again after
    // HOVER_FRESH_MS: a leg's state changes as the car charges
    const known = this.legs.get(r.id);
    if (known && Date.now() - known.at < HOVER_FRESH_MS) return head + known.html;
    this.api.get(`/monitor/reservations/${encodeURIComponent(r.id)}/booking`).then((b) => {
      const leg = (l) => `${l.leg_index + 1}. ${esc(l.company)} ${esc(l.station_id)} `
        + `${when(l.start)}–${(l.end || '').slice(11, 16)} ${esc(l.state)}`;
      const html = `<br><i>booking ${esc(b.state || '?')}, its legs:</i><br>` + b.legs.map(leg).join('<br>');
      this.legs.set(r.id, { at: Date.now(), html });
      callback(ticket, head + html);
    }).catch((err) => callback(ticket, `${head}<br><i>its other legs: ${esc(err.message)}</i>`));
    return `${head}<br><i>asking its coordinator…</i>`;
  }

  drawFederation(view) {
    const peers = view.peers.map(peerRow).join('') || '<tr><td colspan="3">no peers</td></tr>';
    const txs = view.transactions.map(transactionRow).join('') || '<tr><td colspan="5">none yet</td></tr>';
    const r = view.recovery;
    const s = r.last_sweep;
    const sweep = s
      ? `last sweep ${when(s.at)} (${s.ms} ms, every ${s.every_s} s)${s.error ? ` — <span class="error">${esc(s.error)}</span>` : ''}`
      : 'no sweep yet';
    const recovery = `Recovery worker: ${r.open_transactions} decisions being delivered, ${r.prepared_here} prepared here `
      + `(${r.in_doubt_here} in doubt), ${r.heuristic_unreported} heuristic unreported; ${sweep}`;
    this.el.federation.innerHTML = `
      <table><caption class="hint">Peers (MQTT: ${esc(view.mqtt)})</caption>
        <thead><tr><th>company</th><th>last contact</th><th>catalog copy</th></tr></thead><tbody>${peers}</tbody></table>
      <table><caption class="hint">${recovery}</caption></table>
      <table><caption class="hint">Newest transactions coordinated here</caption>
        <thead><tr><th>at</th><th>booking</th><th>state</th><th>took</th><th>companies</th></tr></thead><tbody>${txs}</tbody></table>`;
  }
}

function stationTip(d) {
  return `<b>${esc(d.name)}</b><br>${esc(d.title)}<br>company ${esc(d.company)} · ${esc(d.status)}<br>`
    + `${d.connectors} connectors, up to ${d.max_power_kw} kW`;
}

function peerRow(p) {
  const contact = `<span class="tag ${p.last_error ? 'bad' : 'ok'}">${p.last_error ? 'failing' : 'ok'}</span> `
    + `${p.last_ok_at ? when(p.last_ok_at) : ''}${p.last_error ? `<br><small>${esc(p.last_error)}</small>` : ''}`;
  const c = p.catalog;
  const copy = `${esc(c.state)} v${c.version ?? '–'}, ${c.stations} stations${c.synced_at ? `, synchronised ${when(c.synced_at)}` : ''}`;
  return `<tr><td>${esc(p.company)}</td>
      <td>${contact}</td>
      <td>${copy}</td></tr>`;
}

function transactionRow(t) {
  const title = ` title="two-phase commit: ${esc(t.state)}${t.decision ? `, decision ${esc(t.decision)}` : ''}"`;
  return `<tr><td class="when">${when(t.created_at)}</td><td>${esc(t.booking_id)}</td>
      <td>${tag(t.booking_state, title)}${t.open ? ' <small>(sending)</small>' : ''}<br><small>2PC ${esc(t.state)}</small></td>
      <td>${t.duration_ms == null ? '…' : `${t.duration_ms} ms`}</td><td>${t.companies.map(esc).join(', ')}</td></tr>`;
}
