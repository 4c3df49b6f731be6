// Boot: the company this server runs, the credentials (from the address's fragment, then kept
// in this tab's sessionStorage only), the two views and their tabs.

import { Api } from './api.js';
import { DriverView } from './driver.js';
import { DriversPanel } from './drivers.js';
import { OperatorView } from './operator.js';

const views = {};

function takeFragmentTokens() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const role of ['admin', 'driver']) {
    if (params.get(role)) sessionStorage.setItem(`recarga-${role}`, params.get(role));
  }
  const tab = params.get('view');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search + (tab ? `#view=${tab}` : ''));
  return tab;
}

function select(tab) {
  for (const name of ['operator', 'driver']) {
    const on = name === tab;
    document.getElementById(`tab-${name}`).setAttribute('aria-selected', String(on));
    document.getElementById(`tab-${name}`).tabIndex = on ? 0 : -1;
    document.getElementById(name).hidden = !on;
  }
  history.replaceState(null, '', `#view=${tab}`);
  open(tab);
}

async function open(role) {
  const key = role === 'operator' ? 'admin' : 'driver';
  const token = sessionStorage.getItem(`recarga-${key}`);
  const login = document.getElementById(`${key}-login`);
  const view = document.getElementById(`${role}-view`);
  login.hidden = Boolean(token);
  view.hidden = !token;
  if (!token || views[role]) return;
  const api = new Api(token);
  const network = await api.get('/network');
  if (role === 'operator') {
    const check = await api.call('GET', '/monitor/federation');
    if (check.status === 401) { forget(key, 'that admin token was refused'); return; }
    views.operator = new OperatorView(api, network, (text) => { document.getElementById('live').textContent = text; });
    views.operator.start();
    views.drivers = new DriversPanel(api);
  } else {
    // the credential is checked at the door: a wrong one returns to the sign-in form
    const check = await api.call('GET', '/bookings?limit=1');
    if (check.status === 401) { forget(key, 'that driver credential was refused'); return; }
    views.driver = new DriverView(api, network);
  }
  window.dispatchEvent(new CustomEvent('recarga:ready', { detail: role }));
}

function forget(key, why) {
  sessionStorage.removeItem(`recarga-${key}`);
  const login = document.getElementById(`${key}-login`);
  login.hidden = false;
  document.getElementById(`${key === 'admin' ? 'operator' : 'driver'}-view`).hidden = true;
  login.querySelector('.hint').textContent = why;
}

function bindLogin(key, role) {
  document.getElementById(`${key}-login`).addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(`recarga-${key}`, document.getElementById(`${key}-token`).value.trim());
    open(role);
  });
}

async function boot() {
  const tab = takeFragmentTokens() || 'operator';
  const health = await fetch('/api/v1/health', { cache: 'no-store' }).then((r) => r.json()).catch(() => null);
  if (health) {
    document.getElementById('company').textContent = `· company ${health.company}`;
    document.title = `Recarga · ${health.company}`;
  }
  bindLogin('admin', 'operator');
  bindLogin('driver', 'driver');
  const tabs = ['operator', 'driver'];
  for (const name of tabs) {
    const button = document.getElementById(`tab-${name}`);
    button.addEventListener('click', () => select(name));
    button.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const next = tabs[(tabs.indexOf(name) + 1) % tabs.length];
      select(next);
      document.getElementById(`tab-${next}`).focus();
    });
  }
  select(tabs.includes(tab) ? tab : 'operator');
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
