// The operator's driver credentials: list them (never a token), issue one, rotate one's token,
// revoke one. A token is shown once, right after it is issued or rotated; the list is read
// again after every change and each minute, so it says what GET /drivers says.

import { elements } from './dom.js';
import { esc, when } from './format.js';

const REFRESH_MS = 60_000;

function kind(d, now) {
  if (d.revoked_at) return 'revoked';
  return d.expires_at && Date.parse(d.expires_at) <= now ? 'expired' : 'valid';
}

function state(d, now) {
  const k = kind(d, now);
  if (k === 'revoked') return `revoked ${when(d.revoked_at)}`;
  if (k === 'expired') return `expired ${when(d.expires_at)}`;
  return d.expires_at ? `valid until ${when(d.expires_at)}` : 'valid';
}

function row(d, now) {
  const button = (action, text) =>
    `<button data-action="${action}" data-driver="${esc(d.driver_id)}" data-name="${esc(d.name)}">${text}</button>`;
  return `
      <tr data-driver="${esc(d.driver_id)}" data-state="${kind(d, now)}">
        <td>${esc(d.name)}</td><td><code>${esc(d.driver_id)}</code></td><td class="when">${when(d.created_at)}</td>
        <td class="when">${when(d.token_issued_at)}</td><td>${esc(state(d, now))}</td>
        <td>${d.revoked_at ? '' : `${button('rotate', 'New token')}
          ${button('revoke', 'Revoke')}`}</td>
      </tr>`;
}

export class DriversPanel {
  constructor(api) {
    this.api = api;
    this.el = elements(['drivers', 'driver-token-shown', 'drivers-status', 'driver-issue', 'driver-name']);
    this.list = this.el.drivers;
    this.shown = this.el.driverTokenShown;
    this.status = this.el.driversStatus;
    this.el.driverIssue.addEventListener('submit', (e) => { e.preventDefault(); this.issue(); });
    this.list.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-action]');
      if (button) this[button.dataset.action](button.dataset.driver, button.dataset.name);
    });
    this.refresh();
    setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    const { status, data } = await this.api.call('GET', '/drivers');
    if (status !== 200) { this.status.textContent = `drivers: ${data?.detail || status}`; return; }
    const now = Date.now();
    this.list.innerHTML = data.items.length ? `<table><thead><tr><th>Name</th><th>Id</th><th>Issued</th>
      <th>Token issued</th><th>State</th><th></th></tr></thead>
      <tbody>${data.items.map((d) => row(d, now)).join('')}</tbody></table>` : '<p class="hint">No credential issued yet.</p>';
  }

  show(what, issued) {
    this.shown.hidden = false;
    this.shown.innerHTML = `${esc(what)} — shown only now: <code id="driver-token-value">${esc(issued.token)}</code>`;
  }

  async issue() {
    const input = this.el.driverName;
    const { status, data } = await this.api.call('POST', '/drivers', { name: input.value });
    if (status !== 201) { this.status.textContent = data?.detail || `HTTP ${status}`; return; }
    input.value = '';
    this.status.textContent = '';
    this.show(`Token of ${data.name}`, data);
    await this.refresh();
  }

  async rotate(id, name) {
    const { status, data } = await this.api.call('POST', `/drivers/${encodeURIComponent(id)}/token`, {});
    if (status !== 201) { this.status.textContent = data?.detail || `HTTP ${status}`; return; }
    this.show(`New token of ${name} (the old one no longer opens anything)`, data);
    await this.refresh();
  }

  async revoke(id, name) {
    if (!window.confirm(`Revoke ${name}'s credential? Its token stops working at once; its bookings stay.`)) return;
    const { status, data } = await this.api.call('DELETE', `/drivers/${encodeURIComponent(id)}`);
    this.status.textContent = status === 204 ? `${name}'s credential revoked` : (data?.detail || `HTTP ${status}`);
    this.shown.hidden = true;
    await this.refresh();
  }
}
