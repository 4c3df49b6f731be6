// The driver view: plan a trip, see each option on the map with its stops and its state of
// charge along the way, book one atomically (hold mode), replace refused legs by their
// alternatives, see the booking confirmed at each company, cancel it; "my bookings" lists what
// this credential booked (GET /bookings), so nothing is lost to a second click or a reload.

import { esc, hhmm, newKey, when } from './api.js';
import { baseOption, mount } from './map.js';

export class DriverView {
  constructor(api, network) {
    this.api = api;
    this.network = network;
    this.places = Object.fromEntries(network.places.map((p) => [p.id, p]));
    this.routeMap = mount(document.getElementById('route-map'));
    this.routeMap.setOption(baseOption(network));
    this.plan = null;
    this.request = null;
    this.booking = null;
    this.socCharts = [];
    this.fillForm();
    document.getElementById('plan-form').addEventListener('submit', (e) => { e.preventDefault(); this.planTrip(); });
    document.getElementById('my-bookings').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-cancel]');
      if (button) this.cancel(button.dataset.cancel);
    });
    this.loadMine();
  }

  // the credential's bookings, newest first, each as GET /bookings/{id} shows it
  async loadMine() {
    const { status, data } = await this.api.call('GET', '/bookings?limit=20');
    const box = document.getElementById('my-bookings');
    if (status !== 200) { box.innerHTML = `<p class="status error">${esc(data?.detail || `HTTP ${status}`)}</p>`; return; }
    box.innerHTML = data.items.length ? `<table><thead><tr><th>booking</th><th>car</th><th>first stop (UTC)</th>
      <th>legs at</th><th>state</th><th></th></tr></thead><tbody>${data.items.map((b) => `
      <tr data-booking="${esc(b.booking_id)}"><td><code>${esc(b.booking_id)}</code></td><td>${esc(b.car_id)}</td>
        <td class="when">${b.legs.length ? when(b.legs[0].start) : ''}</td><td>${[...new Set(b.legs.map((l) => l.company))].map(esc).join(', ')}</td>
        <td><span class="tag ${esc(b.state)}">${esc(b.state)}</span></td>
        <td>${['confirmed', 'held'].includes(b.state) ? `<button type="button" class="secondary" data-cancel="${esc(b.booking_id)}">Cancel</button>` : ''}</td>
      </tr>`).join('')}</tbody></table>${data.total > data.items.length ? `<p class="hint">the newest ${data.items.length} of ${data.total}</p>` : ''}`
      : '<p class="hint">No booking yet.</p>';
  }

  fillForm() {
    const byName = [...this.network.places].sort((a, b) => a.name.localeCompare(b.name));
    for (const id of ['origin', 'destination']) {
      const select = document.getElementById(id);
      for (const p of byName) select.add(new Option(`${p.name} (${p.state})`, p.id));
    }
    document.getElementById('origin').value = 'joao-pessoa';
    document.getElementById('destination').value = 'feira-de-santana';
    const vehicle = document.getElementById('vehicle');
    for (const v of this.network.vehicles) vehicle.add(new Option(`${v.name} (${v.battery_kwh} kWh)`, v.id));
    vehicle.value = this.network.vehicles.some((v) => v.id === 'byd-dolphin') ? 'byd-dolphin' : this.network.vehicles[0].id;
    const tomorrow = new Date(Date.now() + 86400000);
    document.getElementById('departure').value = `${tomorrow.toISOString().slice(0, 10)}T08:00`;
  }

  status(text, error = false) {
    const el = document.getElementById('plan-status');
    el.textContent = text;
    el.classList.toggle('error', error);
  }

  async planTrip() {
    const value = (id) => document.getElementById(id).value;
    this.request = {
      origin: value('origin'), destination: value('destination'), departure: `${value('departure')}:00Z`,
      vehicle: { model_id: value('vehicle'), soc: Number(value('soc')) / 100, profile: value('profile') },
      reserve_soc: 0.1, options: 3,
    };
    this.status('planning…');
    document.getElementById('plan-button').disabled = true;
    try {
      const { status, data } = await this.api.call('POST', '/plans', this.request);
      if (status !== 200) { this.status(data.detail || data.title || `HTTP ${status}`, true); return; }
      this.plan = data;
      this.booked = false; // a new plan may be booked once
      const missing = data.companies_missing.map((m) => `${m.company} (${m.reason})`).join(', ');
      this.status(data.options.length
        ? `${data.options.length} options over ${data.companies_asked.length} companies${missing ? `; left out: ${missing}` : ''}`
        : `no option: ${data.infeasible || 'no feasible trip'}`, !data.options.length);
      this.drawOptions();
    } catch (err) {
      this.status(`the server could not be reached: ${err.message}`, true);
    } finally {
      document.getElementById('plan-button').disabled = false;
    }
  }

  drawOptions() {
    for (const c of this.socCharts) c.dispose();
    this.socCharts = [];
    const box = document.getElementById('options');
    box.innerHTML = this.plan.options.map((o, i) => `
      <div class="option" id="option-${i}" data-rank="${o.rank}">
        <h3>Option ${i + 1} · ${esc(o.label)}</h3>
        <div class="totals">arrives ${when(o.totals.arrival)} UTC · ${Math.round(o.totals.total_minutes)} min ·
          ${o.totals.distance_km} km · R$ ${o.totals.cost.toFixed(2)} · ${o.stops.length} stops at
          ${[...new Set(o.stops.map((s) => s.company))].map(esc).join(', ')}</div>
        <table class="stops"><thead><tr><th>stop</th><th>arrive</th><th>charge</th><th>leave</th><th>energy</th></tr></thead><tbody>
          ${o.stops.map((s) => this.stopRow(s)).join('')}
        </tbody></table>
        <div class="chart soc" id="soc-${i}" role="img" aria-label="State of charge along option ${i + 1}"></div>
        <div class="actions">
          <button type="button" class="secondary" data-show="${i}">Show on map</button>
          <button type="button" data-book="${i}">Book option ${i + 1}</button>
        </div>
      </div>`).join('');
    box.querySelectorAll('[data-show]').forEach((b) => b.addEventListener('click', () => this.showRoute(Number(b.dataset.show))));
    box.querySelectorAll('[data-book]').forEach((b) => b.addEventListener('click', () => this.book(Number(b.dataset.book))));
    this.plan.options.forEach((o, i) => this.drawSoc(o, i));
    if (this.plan.options.length) this.showRoute(0);
  }

  // one stop as a driver reads it (as route planners show it): where, arriving when and with
  // how much, charging how long, leaving with how much, the energy and its price
  stopRow(s) {
    const place = this.places[s.place_id]?.name || s.place_id;
    const wait = s.wait_minutes >= 1 ? `<br><small>waits ${Math.round(s.wait_minutes)} min</small>` : '';
    return `<tr><td><b>${esc(place)}</b><br><small>${esc(s.company)} · ${esc(s.station_id)} · ${Math.round(s.power_kw)} kW</small></td>
      <td>${hhmm(s.arrival)}<br><small>${Math.round(s.soc_arrival * 100)} %</small>${wait}</td>
      <td>${Math.round(s.charge_minutes)} min<br><small>${hhmm(s.window.start)}–${hhmm(s.window.end)}</small></td>
      <td>${hhmm(s.departure)}<br><small>${Math.round(s.soc_target * 100)} %</small></td>
      <td>${s.energy_kwh.toFixed(1)} kWh<br><small>R$ ${s.cost.toFixed(2)}</small></td></tr>`;
  }

  drawSoc(option, i) {
    const points = [[Date.parse(this.request.departure), this.request.vehicle.soc]];
    for (const s of option.stops) {
      points.push([Date.parse(s.arrival), s.soc_arrival]);
      points.push([Date.parse(s.departure), s.soc_target]);
    }
    points.push([Date.parse(option.totals.arrival), option.totals.soc_arrival]);
    const chart = mount(document.getElementById(`soc-${i}`));
    chart.setOption({
      animation: false, grid: { left: 40, right: 16, top: 12, bottom: 28 },
      tooltip: { trigger: 'axis', valueFormatter: (v) => `${Math.round(v * 100)} %` },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
      series: [{ type: 'line', name: 'state of charge', data: points, symbolSize: 5, lineStyle: { color: '#0b6bcb' },
        markLine: { symbol: 'none', silent: true, lineStyle: { color: '#c62828', type: 'dashed' },
          label: { formatter: 'reserve', position: 'insideEndTop' }, data: [{ yAxis: this.request.reserve_soc }] } }],
    });
    this.socCharts.push(chart);
  }

  showRoute(i) {
    const o = this.plan.options[i];
    document.querySelectorAll('.option').forEach((el, k) => el.setAttribute('aria-current', String(k === i)));
    const coords = o.route.map((id) => [this.places[id].lon, this.places[id].lat]);
    this.routeMap.setOption({
      series: [
        { id: 'route', type: 'lines', coordinateSystem: 'geo', polyline: true, z: 3, silent: true,
          lineStyle: { color: '#0b6bcb', width: 4, opacity: 0.8 }, data: [{ coords }] },
        { id: 'stops', type: 'scatter', coordinateSystem: 'geo', z: 4, symbolSize: 12,
          itemStyle: { color: '#c77700', borderColor: '#fff', borderWidth: 1 },
          label: { show: true, position: 'left', formatter: (p) => p.data.label, fontSize: 10, backgroundColor: '#fff', padding: 2 },
          tooltip: { formatter: (p) => esc(p.data.tip) },
          data: o.stops.map((s, k) => ({ name: s.station_id, value: [this.places[s.place_id].lon, this.places[s.place_id].lat],
            label: `${k + 1}. ${s.company} ${hhmm(s.window.start)}`, tip: `${s.station_id} ${hhmm(s.window.start)}–${hhmm(s.window.end)}` })) },
      ],
    });
  }

  async book(i) {
    if (this.booked) return;
    this.booked = true; // one booking per plan: a second click must not book (or lose) again
    document.querySelectorAll('[data-book]').forEach((b) => { b.disabled = true; });
    const option = this.plan.options[i];
    this.lastLegs = option.legs;
    // the plan's trip goes with the legs: a refused leg's alternatives are checked against it
    const body = { car_id: document.getElementById('car').value, legs: option.legs, mode: 'hold', trip: this.plan.trip };
    this.drawBookingMessage('booking…');
    const { status, data } = await this.api.call('POST', '/bookings', body, { 'Idempotency-Key': newKey() });
    this.answer(status, data);
  }

  answer(status, data) {
    clearInterval(this.holdTimer);
    this.loadMine();
    if (status === 200 || status === 201) { this.booking = data; this.drawBooking(data); return; }
    if (status === 409 && data.conflicts && data.state === 'held') { this.drawConflict(data); return; }
    // nothing was booked: the options may be tried again
    this.booked = false;
    document.querySelectorAll('[data-book]').forEach((b) => { b.disabled = false; });
    if (status === 409 && /is aborted, not held/.test(data.detail || '')) {
      this.drawBookingMessage('Time is up: your other stops were released before the replacement arrived. Plan again to see what is free now.', true);
      return;
    }
    this.drawBookingMessage(`${data.title || `HTTP ${status}`}: ${data.detail || ''}${status === 409 ? ' Plan again to see what is free now.' : ''}`, true);
  }

  drawBookingMessage(text, error = false) {
    document.getElementById('booking').innerHTML = `<p class="status ${error ? 'error' : ''}" role="status">${esc(text)}</p>`;
  }

  drawBooking(b) {
    document.getElementById('booking').innerHTML = `
      <p role="status">Booking <b id="booking-id">${esc(b.booking_id)}</b> <span class="tag ${esc(b.state)}" id="booking-state">${esc(b.state)}</span>
        coordinated by ${esc(b.coordinator)} · car ${esc(b.car_id)}</p>
      <table><thead><tr><th>leg</th><th>company</th><th>station · connector</th><th>window (UTC)</th><th>state</th></tr></thead><tbody>
        ${b.legs.map((l) => `<tr class="leg"><td>${l.leg_index + 1}</td><td>${esc(l.company)}</td><td>${esc(l.station_id)} · ${esc(l.connector_id.split('-').pop())}</td>
          <td class="when">${when(l.start)}–${hhmm(l.end)}</td><td><span class="tag ${esc(l.state)}">${esc(l.state)}</span></td></tr>`).join('')}
      </tbody></table>
      <div class="actions option"><button type="button" class="secondary" id="booking-refresh">Refresh</button>
        ${['confirmed', 'held'].includes(b.state) ? '<button type="button" id="booking-cancel">Cancel booking</button>' : ''}</div>`;
    document.getElementById('booking-refresh').addEventListener('click', () => this.reload());
    document.getElementById('booking-cancel')?.addEventListener('click', () => this.cancel());
  }

  async reload() {
    const { status, data } = await this.api.call('GET', `/bookings/${encodeURIComponent(this.booking.booking_id)}`);
    this.answer(status, data);
  }

  async cancel(id = this.booking.booking_id) {
    const { status, data } = await this.api.call('DELETE', `/bookings/${encodeURIComponent(id)}`);
    if (this.booking && this.booking.booking_id === id) { this.answer(status, data); return; }
    this.loadMine();
  }

  drawConflict(problem) {
    this.booking = { booking_id: problem.booking_id };
    const named = (c) => {
      const leg = (this.lastLegs || [])[c.leg_index];
      const place = this.places[(c.station_id || '').slice((c.company || '').length + 1).replace(/-\d+$/, '')];
      return `Stop ${c.leg_index + 1}${place ? `, ${esc(place.name)}` : ''}${leg ? ` at ${hhmm(leg.start)}` : ''}`;
    };
    const groups = problem.conflicts.map((c) => `
      <div class="conflict" data-leg="${c.leg_index}">
        <b>${named(c)}</b> (${esc(c.company || '')} ${esc(c.station_id)}) is no longer free: ${esc(c.state === 'preempted' ? 'a driver who booked earlier took it' : 'another driver booked it first')}.
        <fieldset><legend class="hint">${c.alternatives.length ? 'pick an alternative (each charges the car in time)' : `no alternative: ${esc(c.no_alternative || 'none nearby')}`}</legend>
        ${c.alternatives.map((a, k) => `<label><input type="radio" name="alt-${c.leg_index}" value="${k}" ${k === 0 ? 'checked' : ''}>
          ${esc(a.company)} ${esc(a.station_id)} · ${esc(a.connector_id.split('-').pop())} · ${hhmm(a.start)}–${hhmm(a.end)} · ${a.power_kw} kW${a.detour_km ? ` · +${a.detour_km} km` : ''}${a.delay_minutes ? ` · arrives ${a.delay_minutes > 0 ? '+' : ''}${Math.round(a.delay_minutes)} min` : ' · on time'}${a.cost !== undefined ? ` · R$ ${a.cost.toFixed(2)}` : ''}</label>`).join('')}
        </fieldset></div>`).join('');
    const n = problem.conflicts.length;
    document.getElementById('booking').innerHTML = `
      <p class="status error" role="status" id="conflict-title">${n === 1 ? 'One of your stops was' : `${n} of your stops were`} taken by another driver.
        Pick another charging point for ${n === 1 ? 'it' : 'each'} below, or give up.</p>
      <p class="hint" id="hold-left" aria-live="polite"></p>
      ${groups}
      <div class="actions option"><button type="button" id="replace-legs">Take these and confirm</button>
      <button type="button" class="secondary" id="booking-cancel">Give up (release the other stops)</button></div>`;
    document.getElementById('replace-legs').addEventListener('click', () => this.replace(problem));
    document.getElementById('booking-cancel').addEventListener('click', () => this.cancel());
    this.countDown(Date.parse(problem.hold_expires_at));
  }

  // the hold's time left, second by second; when it runs out, say so and stop offering the
  // replacement (the server has released the other stops)
  countDown(until) {
    clearInterval(this.holdTimer);
    const tick = () => {
      const el = document.getElementById('hold-left');
      if (!el) { clearInterval(this.holdTimer); return; }
      const left = Math.max(0, Math.round((until - Date.now()) / 1000));
      if (left > 0) {
        el.textContent = `Your other stops are kept for you for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} more (until ${hhmm(new Date(until).toISOString())} UTC).`;
        return;
      }
      clearInterval(this.holdTimer);
      el.textContent = 'Time is up: your other stops were released. Plan again to see what is free now.';
      el.classList.add('error');
      const button = document.getElementById('replace-legs');
      if (button) button.disabled = true;
      this.booked = false;
      document.querySelectorAll('[data-book]').forEach((b) => { b.disabled = false; });
    };
    tick();
    this.holdTimer = setInterval(tick, 1000);
  }

  async replace(problem) {
    const legs = [];
    for (const c of problem.conflicts) {
      const picked = document.querySelector(`input[name="alt-${c.leg_index}"]:checked`);
      if (!picked) continue;
      const a = c.alternatives[Number(picked.value)];
      legs.push({ leg_index: c.leg_index, company: a.company, station_id: a.station_id, connector_id: a.connector_id, start: a.start, end: a.end });
    }
    if (!legs.length) { this.drawBookingMessage('No alternative to pick: give up and plan again.', true); return; }
    const { status, data } = await this.api.call('PATCH', `/bookings/${encodeURIComponent(problem.booking_id)}`, { legs });
    this.answer(status, data);
  }
}
