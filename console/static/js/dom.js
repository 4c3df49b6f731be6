// The elements a view works with, looked up once when it is built: ids in, an object keyed
// by each id in camelCase out ('plan-form' -> el.planForm). A missing element is an error at
// once, not a null found later.

export function elements(ids, root = document) {
  const out = {};
  for (const id of ids) {
    const el = root.querySelector(`#${id}`);
    if (!el) throw new Error(`the page has no #${id}`);
    out[id.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = el;
  }
  return out;
}
