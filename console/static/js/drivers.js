// The operator's driver credentials: list them (never a token), issue one, rotate one's token,
// revoke one. A token is shown once, right after it is issued or rotated; the list is read
// again after every change and each minute, so it says what GET /drivers says.

import { esc, when } from './api.js';

const REFRESH_MS = 60_000;

function state(d, now) {
  if (d.revoked_at) return `revoked ${when(d.revoked_at)}`;
  if (d.expires_at && Date.parse(d.expires_at) <= now) return `expired ${when(d.expires_at)}`;
  return d.expires_at ? `valid until ${when(d.expires_at)}` : 'valid';
}

export class DriversPanel {
  constructor(api) {
    this.api = api;
    this.list = document.getElementById('drivers');
    this.shown = document.getElementById('driver-token-shown');
    this.status = document.getElementById('drivers-status');
    document.getElementById('driver-issue').addEventListener('submit', (e) => { e.preventDefault(); this.issue(); });
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
      <th>Token issued</th><th>State</th><th></th></tr></thead><tbody>${data.items.map((d) => `
      <tr data-driver="${esc(d.driver_id)}" data-state="${d.revoked_at ? 'revoked' : (d.expires_at && Date.parse(d.expires_at) <= now ? 'expired' : 'valid')}">
        <td>${esc(d.name)}</td><td><code>${esc(d.driver_id)}</code></td><td class="when">${when(d.created_at)}</td>
        <td class="when">${when(d.token_issued_at)}</td><td>${esc(state(d, now))}</td>
        <td>${d.revoked_at ? '' : `<button data-action="rotate" data-driver="${esc(d.driver_id)}" data-name="${esc(d.name)}">New token</button>
          <button data-action="revoke" data-driver="${esc(d.driver_id)}" data-name="${esc(d.name)}">Revoke</button>`}</td>
      </tr>`).join('')}</tbody></table>` : '<p class="hint">No credential issued yet.</p>';
  }

  show(what, issued) {
    this.shown.hidden = false;
    this.shown.innerHTML = `${esc(what)} — shown only now: <code id="driver-token-value">${esc(issued.token)}</code>`;
  }

  async issue() {
    const input = document.getElementById('driver-name');
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
