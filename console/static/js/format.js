// Formatting for people, in one place: HTML escaping, times as the API gives them (UTC,
// RFC 3339), shares, money, durations and the small pieces of markup every view repeats.

export function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// "09:30" of an RFC 3339 UTC time
export function hhmm(iso) {
  return iso ? iso.slice(11, 16) : '';
}

// "12-06 09:30" of an RFC 3339 UTC time
export function when(iso) {
  return iso ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : '';
}

export const percent = (share) => `${Math.round(share * 100)} %`;
export const money = (reais) => `R$ ${reais.toFixed(2)}`;
export const minutes = (m) => `${Math.round(m)} min`;

// "m:ss" of a number of seconds
export const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;

// a connector's number at its station: "a-recife-1-c2" -> "c2"
export const connectorNo = (id) => id.split('-').pop();

// a state as a coloured tag (the colours are the stylesheet's, one per state)
export const tag = (state, attrs = '') => `<span class="tag ${esc(state)}"${attrs}>${esc(state)}</span>`;

// distinct values, in order of first appearance
export const distinct = (values) => [...new Set(values)];
