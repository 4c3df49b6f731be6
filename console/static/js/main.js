// Boot: the company this server runs, the credentials (from the address's fragment, then kept
// in this tab's sessionStorage only), the two views and their tabs.

import { Api } from './api.js';
import { elements } from './dom.js';
import { DriverView } from './driver.js';
import { DriversPanel } from './drivers.js';
import { OperatorView } from './operator.js';

const views = {};
const TABS = ['operator', 'driver'];
// the page's frame, looked up once at boot (the views look up their own)
let page = null;

function frame() {
  return elements(['company', 'live', 'tab-operator', 'tab-driver', 'operator', 'driver', 'admin-login',
    'admin-token', 'operator-view', 'driver-login', 'driver-token', 'driver-view']);
}

function takeFragmentTokens() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const role of ['admin', 'driver']) {
    if (params.get(role)) sessionStorage.setItem(`recarga-${role}`, params.get(role));
  }
  const tab = params.get('view');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search + (tab ? `#view=${tab}` : ''));
  return tab;
}

const tabButton = (name) => (name === 'operator' ? page.tabOperator : page.tabDriver);
const loginOf = (key) => (key === 'admin' ? page.adminLogin : page.driverLogin);
const viewOf = (role) => (role === 'operator' ? page.operatorView : page.driverView);

function select(tab) {
  for (const name of TABS) {
    const on = name === tab;
    tabButton(name).setAttribute('aria-selected', String(on));
    tabButton(name).tabIndex = on ? 0 : -1;
    page[name].hidden = !on;
  }
  history.replaceState(null, '', `#view=${tab}`);
  open(tab);
}

async function open(role) {
  const key = role === 'operator' ? 'admin' : 'driver';
  const token = sessionStorage.getItem(`recarga-${key}`);
  const login = loginOf(key);
  const view = viewOf(role);
  login.hidden = Boolean(token);
  view.hidden = !token;
  if (!token || views[role]) return;
  const api = new Api(token);
  const network = await api.get('/network');
  if (role === 'operator') {
    const check = await api.call('GET', '/monitor/federation');
    if (check.status === 401) { forget(key, 'that admin token was refused'); return; }
    views.operator = new OperatorView(api, network, (text) => { page.live.textContent = text; });
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
  const login = loginOf(key);
  login.hidden = false;
  viewOf(key === 'admin' ? 'operator' : 'driver').hidden = true;
  login.querySelector('.hint').textContent = why;
}

function bindLogin(key, role) {
  const token = key === 'admin' ? page.adminToken : page.driverToken;
  loginOf(key).addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(`recarga-${key}`, token.value.trim());
    open(role);
  });
}

async function boot() {
  page = frame();
  const tab = takeFragmentTokens() || 'operator';
  const health = await fetch('/api/v1/health', { cache: 'no-store' }).then((r) => r.json()).catch(() => null);
  if (health) {
    page.company.textContent = `· company ${health.company}`;
    document.title = `Recarga · ${health.company}`;
  }
  bindLogin('admin', 'operator');
  bindLogin('driver', 'driver');
  for (const name of TABS) {
    const button = tabButton(name);
    button.addEventListener('click', () => select(name));
    button.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const next = TABS[(TABS.indexOf(name) + 1) % TABS.length];
      select(next);
      tabButton(next).focus();
    });
  }
  select(TABS.includes(tab) ? tab : 'operator');
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
