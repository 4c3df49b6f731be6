// The driver view: plan a trip, see each option on the map with its stops and its state of
// charge along the way, book one atomically (hold mode), replace refused legs by their
// alternatives, see the booking confirmed at each company, cancel it; "my bookings" lists what
// this credential booked (GET /bookings), so nothing is lost to a second click or a reload.

import { newKey } from './api.js';
import { elements } from './dom.js';
import { clock, connectorNo, distinct, esc, hhmm, minutes, money, percent, tag, when } from './format.js';
import { baseOption, mount } from './map.js';

const CANCELLABLE = ['confirmed', 'held'];

export class DriverView {
  constructor(api, network) {
    this.api = api;
    this.network = network;
    this.places = Object.fromEntries(network.places.map((p) => [p.id, p]));
    this.el = elements(['route-map', 'plan-form', 'my-bookings', 'origin', 'destination', 'vehicle',
      'departure', 'soc', 'profile', 'car', 'plan-status', 'plan-button', 'options', 'booking']);
    this.routeMap = mount(this.el.routeMap);
    this.routeMap.setOption(baseOption(network));
    this.plan = null;
    this.request = null;
    this.booking = null;
    this.socCharts = [];
    this.fillForm();
    this.el.planForm.addEventListener('submit', (e) => { e.preventDefault(); this.planTrip(); });
    this.el.myBookings.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-cancel]');
      if (button) this.cancel(button.dataset.cancel);
    });
    this.loadMine();
  }

  // the credential's bookings, newest first, each as GET /bookings/{id} shows it
  async loadMine() {
    const { status, data } = await this.api.call('GET', '/bookings?limit=20');
    const box = this.el.myBookings;
    if (status !== 200) {
      box.innerHTML = `<p class="status error">${esc(data?.detail || `HTTP ${status}`)}</p>`;
      return;
    }
    if (!data.items.length) { box.innerHTML = '<p class="hint">No booking yet.</p>'; return; }
    const more = data.total > data.items.length
      ? `<p class="hint">the newest ${data.items.length} of ${data.total}</p>` : '';
    box.innerHTML = `<table><thead><tr><th>booking</th><th>car</th><th>first stop (UTC)</th>
      <th>legs at</th><th>state</th><th></th></tr></thead>
      <tbody>${data.items.map((b) => this.bookingRow(b)).join('')}</tbody></table>${more}`;
  }

  bookingRow(b) {
    const cancel = CANCELLABLE.includes(b.state)
      ? `<button type="button" class="secondary" data-cancel="${esc(b.booking_id)}">Cancel</button>` : '';
    return `
      <tr data-booking="${esc(b.booking_id)}"><td><code>${esc(b.booking_id)}</code></td><td>${esc(b.car_id)}</td>
        <td class="when">${b.legs.length ? when(b.legs[0].start) : ''}</td>
        <td>${distinct(b.legs.map((l) => l.company)).map(esc).join(', ')}</td>
        <td>${tag(b.state)}</td>
        <td>${cancel}</td>
      </tr>`;
  }

  fillForm() {
    const byName = [...this.network.places].sort((a, b) => a.name.localeCompare(b.name));
    for (const select of [this.el.origin, this.el.destination]) {
      for (const p of byName) select.add(new Option(`${p.name} (${p.state})`, p.id));
    }
    this.el.origin.value = 'joao-pessoa';
    this.el.destination.value = 'feira-de-santana';
    const vehicles = this.network.vehicles;
    for (const v of vehicles) this.el.vehicle.add(new Option(`${v.name} (${v.battery_kwh} kWh)`, v.id));
    this.el.vehicle.value = vehicles.some((v) => v.id === 'byd-dolphin') ? 'byd-dolphin' : vehicles[0].id;
    const tomorrow = new Date(Date.now() + 86400000);
    this.el.departure.value = `${tomorrow.toISOString().slice(0, 10)}T08:00`;
  }

  status(text, error = false) {
    this.el.planStatus.textContent = text;
    this.el.planStatus.classList.toggle('error', error);
  }

  async planTrip() {
    const el = this.el;
    this.request = {
      origin: el.origin.value, destination: el.destination.value, departure: `${el.departure.value}:00Z`,
      vehicle: { model_id: el.vehicle.value, soc: Number(el.soc.value) / 100, profile: el.profile.value },
      reserve_soc: 0.1, options: 3,
    };
    this.status('planning…');
    el.planButton.disabled = true;
    try {
      const { status, data } = await this.api.call('POST', '/plans', this.request);
      if (status !== 200) { this.status(data.detail || data.title || `HTTP ${status}`, true); return; }
      this.plan = data;
      this.booked = false; // a new plan may be booked once
      const missing = data.companies_missing.map((m) => `${m.company} (${m.reason})`).join(', ');
      const found = `${data.options.length} options over ${data.companies_asked.length} companies`;
      this.status(data.options.length
        ? `${found}${missing ? `; left out: ${missing}` : ''}`
        : `no option: ${data.infeasible || 'no feasible trip'}`, !data.options.length);
      this.drawOptions();
    } catch (err) {
      this.status(`the server could not be reached: ${err.message}`, true);
    } finally {
      el.planButton.disabled = false;
    }
  }

  drawOptions() {
    for (const c of this.socCharts) c.dispose();
    this.socCharts = [];
    const box = this.el.options;
    box.innerHTML = this.plan.options.map((o, i) => this.optionCard(o, i)).join('');
    box.querySelectorAll('[data-show]').forEach((b) => b.addEventListener('click', () => this.showRoute(Number(b.dataset.show))));
    box.querySelectorAll('[data-book]').forEach((b) => b.addEventListener('click', () => this.book(Number(b.dataset.book))));
    this.plan.options.forEach((o, i) => this.drawSoc(o, i));
    if (this.plan.options.length) this.showRoute(0);
  }

  optionCard(o, i) {
    const t = o.totals;
    const companies = distinct(o.stops.map((s) => s.company)).map(esc).join(', ');
    return `
      <div class="option" id="option-${i}" data-rank="${o.rank}">
        <h3>Option ${i + 1} · ${esc(o.label)}</h3>
        <div class="totals">arrives ${when(t.arrival)} UTC · ${Math.round(t.total_minutes)} min ·
          ${t.distance_km} km · ${money(t.cost)} · ${o.stops.length} stops at
          ${companies}</div>
        <table class="stops">
          <thead><tr><th>stop</th><th>arrive</th><th>charge</th><th>leave</th><th>energy</th></tr></thead>
          <tbody>${o.stops.map((s) => this.stopRow(s)).join('')}</tbody>
        </table>
        <div class="chart soc" id="soc-${i}" role="img" aria-label="State of charge along option ${i + 1}"></div>
        <div class="actions">
          <button type="button" class="secondary" data-show="${i}">Show on map</button>
          <button type="button" data-book="${i}">Book option ${i + 1}</button>
        </div>
      </div>`;
  }

  // one stop as a driver reads it (as route planners show it): where, arriving when and with
  // how much, charging how long, leaving with how much, the energy and its price
  stopRow(s) {
    const place = this.places[s.place_id]?.name || s.place_id;
    const wait = s.wait_minutes >= 1 ? `<br><small>waits ${minutes(s.wait_minutes)}</small>` : '';
    return `<tr>
      <td><b>${esc(place)}</b><br><small>${esc(s.company)} · ${esc(s.station_id)} · ${Math.round(s.power_kw)} kW</small></td>
      <td>${hhmm(s.arrival)}<br><small>${percent(s.soc_arrival)}</small>${wait}</td>
      <td>${minutes(s.charge_minutes)}<br><small>${hhmm(s.window.start)}–${hhmm(s.window.end)}</small></td>
      <td>${hhmm(s.departure)}<br><small>${percent(s.soc_target)}</small></td>
      <td>${s.energy_kwh.toFixed(1)} kWh<br><small>${money(s.cost)}</small></td></tr>`;
  }

  drawSoc(option, i) {
    const points = [[Date.parse(this.request.departure), this.request.vehicle.soc]];
    for (const s of option.stops) {
      points.push([Date.parse(s.arrival), s.soc_arrival]);
      points.push([Date.parse(s.departure), s.soc_target]);
    }
    points.push([Date.parse(option.totals.arrival), option.totals.soc_arrival]);
    const chart = mount(this.el.options.querySelector(`#soc-${i}`));
    const reserve = {
      symbol: 'none', silent: true, lineStyle: { color: '#c62828', type: 'dashed' },
      label: { formatter: 'reserve', position: 'insideEndTop' }, data: [{ yAxis: this.request.reserve_soc }],
    };
    chart.setOption({
      animation: false, grid: { left: 40, right: 16, top: 12, bottom: 28 },
      tooltip: { trigger: 'axis', valueFormatter: percent },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
      series: [{ type: 'line', name: 'state of charge', data: points, symbolSize: 5,
        lineStyle: { color: '#0b6bcb' }, markLine: reserve }],
    });
    this.socCharts.push(chart);
  }

  showRoute(i) {
    const o = this.plan.options[i];
    this.el.options.querySelectorAll('.option').forEach((el, k) => el.setAttribute('aria-current', String(k === i)));
    const at = (placeId) => [this.places[placeId].lon, this.places[placeId].lat];
    this.routeMap.setOption({
      series: [
        { id: 'route', type: 'lines', coordinateSystem: 'geo', polyline: true, z: 3, silent: true,
          lineStyle: { color: '#0b6bcb', width: 4, opacity: 0.8 }, data: [{ coords: o.route.map(at) }] },
        { id: 'stops', type: 'scatter', coordinateSystem: 'geo', z: 4, symbolSize: 12,
          itemStyle: { color: '#c77700', borderColor: '#fff', borderWidth: 1 },
          label: { show: true, position: 'left', formatter: (p) => p.data.label, fontSize: 10,
            backgroundColor: '#fff', padding: 2 },
          tooltip: { formatter: (p) => esc(p.data.tip) },
          data: o.stops.map((s, k) => ({
            name: s.station_id, value: at(s.place_id),
            label: `${k + 1}. ${s.company} ${hhmm(s.window.start)}`,
            tip: `${s.station_id} ${hhmm(s.window.start)}–${hhmm(s.window.end)}`,
          })) },
      ],
    });
  }

  bookButtons(enabled) {
    this.el.options.querySelectorAll('[data-book]').forEach((b) => { b.disabled = !enabled; });
  }

  async book(i) {
    if (this.booked) return;
    this.booked = true; // one booking per plan: a second click must not book (or lose) again
    this.bookButtons(false);
    const option = this.plan.options[i];
    this.lastLegs = option.legs;
    // the plan's trip goes with the legs: a refused leg's alternatives are checked against it
    const body = { car_id: this.el.car.value, legs: option.legs, mode: 'hold', trip: this.plan.trip };
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
    this.bookButtons(true);
    if (status === 409 && /is aborted, not held/.test(data.detail || '')) {
      this.drawBookingMessage('Time is up: your other stops were released before the replacement arrived. '
        + 'Plan again to see what is free now.', true);
      return;
    }
    const again = status === 409 ? ' Plan again to see what is free now.' : '';
    this.drawBookingMessage(`${data.title || `HTTP ${status}`}: ${data.detail || ''}${again}`, true);
  }

  drawBookingMessage(text, error = false) {
    this.el.booking.innerHTML = `<p class="status ${error ? 'error' : ''}" role="status">${esc(text)}</p>`;
  }

  drawBooking(b) {
    const legRow = (l) => `<tr class="leg"><td>${l.leg_index + 1}</td><td>${esc(l.company)}</td>
      <td>${esc(l.station_id)} · ${esc(connectorNo(l.connector_id))}</td>
      <td class="when">${when(l.start)}–${hhmm(l.end)}</td><td>${tag(l.state)}</td></tr>`;
    const cancel = CANCELLABLE.includes(b.state)
      ? '<button type="button" id="booking-cancel">Cancel booking</button>' : '';
    const box = this.el.booking;
    box.innerHTML = `
      <p role="status">Booking <b id="booking-id">${esc(b.booking_id)}</b> ${tag(b.state, ' id="booking-state"')}
        coordinated by ${esc(b.coordinator)} · car ${esc(b.car_id)}</p>
      <table>
        <thead><tr><th>leg</th><th>company</th><th>station · connector</th><th>window (UTC)</th><th>state</th></tr></thead>
        <tbody>${b.legs.map(legRow).join('')}</tbody>
      </table>
      <div class="actions option"><button type="button" class="secondary" id="booking-refresh">Refresh</button>
        ${cancel}</div>`;
    box.querySelector('#booking-refresh').addEventListener('click', () => this.reload());
    box.querySelector('#booking-cancel')?.addEventListener('click', () => this.cancel());
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

  // "Stop 2, Recife at 14:05": a refused leg as the driver planned it
  stopName(c) {
    const leg = (this.lastLegs || [])[c.leg_index];
    const placeId = (c.station_id || '').slice((c.company || '').length + 1).replace(/-\d+$/, '');
    const place = this.places[placeId];
    return `Stop ${c.leg_index + 1}${place ? `, ${esc(place.name)}` : ''}${leg ? ` at ${hhmm(leg.start)}` : ''}`;
  }

  // one alternative as a radio choice: where, when, how fast, the detour, the delay, the price
  alternative(c, a, k) {
    const detour = a.detour_km ? ` · +${a.detour_km} km` : '';
    const delay = a.delay_minutes
      ? ` · arrives ${a.delay_minutes > 0 ? '+' : ''}${minutes(a.delay_minutes)}` : ' · on time';
    const cost = a.cost !== undefined ? ` · ${money(a.cost)}` : '';
    return `<label><input type="radio" name="alt-${c.leg_index}" value="${k}" ${k === 0 ? 'checked' : ''}>
          ${esc(a.company)} ${esc(a.station_id)} · ${esc(connectorNo(a.connector_id))} · ${hhmm(a.start)}–${hhmm(a.end)}`
      + ` · ${a.power_kw} kW${detour}${delay}${cost}</label>`;
  }

  conflictGroup(c) {
    const why = c.state === 'preempted' ? 'a driver who booked earlier took it' : 'another driver booked it first';
    const legend = c.alternatives.length
      ? 'pick an alternative (each charges the car in time)'
      : `no alternative: ${esc(c.no_alternative || 'none nearby')}`;
    return `
      <div class="conflict" data-leg="${c.leg_index}">
        <b>${this.stopName(c)}</b> (${esc(c.company || '')} ${esc(c.station_id)}) is no longer free: ${esc(why)}.
        <fieldset><legend class="hint">${legend}</legend>
        ${c.alternatives.map((a, k) => this.alternative(c, a, k)).join('')}
        </fieldset></div>`;
  }

  drawConflict(problem) {
    this.booking = { booking_id: problem.booking_id };
    const n = problem.conflicts.length;
    const box = this.el.booking;
    box.innerHTML = `
      <p class="status error" role="status" id="conflict-title">${n === 1 ? 'One of your stops was' : `${n} of your stops were`} taken by another driver.
        Pick another charging point for ${n === 1 ? 'it' : 'each'} below, or give up.</p>
      <p class="hint" id="hold-left" aria-live="polite"></p>
      ${problem.conflicts.map((c) => this.conflictGroup(c)).join('')}
      <div class="actions option"><button type="button" id="replace-legs">Take these and confirm</button>
      <button type="button" class="secondary" id="booking-cancel">Give up (release the other stops)</button></div>`;
    box.querySelector('#replace-legs').addEventListener('click', () => this.replace(problem));
    box.querySelector('#booking-cancel').addEventListener('click', () => this.cancel());
    this.countDown(Date.parse(problem.hold_expires_at));
  }

  // the hold's time left, second by second; when it runs out, say so and stop offering the
  // replacement (the server has released the other stops)
  countDown(until) {
    clearInterval(this.holdTimer);
    const box = this.el.booking;
    const tick = () => {
      const el = box.querySelector('#hold-left');
      if (!el) { clearInterval(this.holdTimer); return; }
      const left = Math.max(0, Math.round((until - Date.now()) / 1000));
      if (left > 0) {
        el.textContent = `Your other stops are kept for you for ${clock(left)} more `
          + `(until ${hhmm(new Date(until).toISOString())} UTC).`;
        return;
      }
      clearInterval(this.holdTimer);
      el.textContent = 'Time is up: your other stops were released. Plan again to see what is free now.';
      el.classList.add('error');
      const button = box.querySelector('#replace-legs');
      if (button) button.disabled = true;
      this.booked = false;
      this.bookButtons(true);
    };
    tick();
    this.holdTimer = setInterval(tick, 1000);
  }

  async replace(problem) {
    const legs = [];
    for (const c of problem.conflicts) {
      const picked = this.el.booking.querySelector(`input[name="alt-${c.leg_index}"]:checked`);
      if (!picked) continue;
      const a = c.alternatives[Number(picked.value)];
      legs.push({ leg_index: c.leg_index, company: a.company, station_id: a.station_id,
        connector_id: a.connector_id, start: a.start, end: a.end });
    }
    if (!legs.length) { this.drawBookingMessage('No alternative to pick: give up and plan again.', true); return; }
    const { status, data } = await this.api.call('PATCH', `/bookings/${encodeURIComponent(problem.booking_id)}`, { legs });
    this.answer(status, data);
  }
}
