"""Generate the Insomnia collection (export format 4) and a Postman v2.1 collection from
openapi/openapi.yaml: every operation, grouped by tag, with an environment per company, plus
the demo flow as ordered requests.

    python scripts/insomnia.py            # writes insomnia/recarga.json and the Postman file
    python scripts/insomnia.py --check    # exits 1 if the files are out of date with the spec
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "openapi.yaml"
INSOMNIA = ROOT / "insomnia" / "recarga.json"
POSTMAN = ROOT / "insomnia" / "recarga.postman_collection.json"
COMPOSE_POSTMAN_ENV = ROOT / "insomnia" / "compose.postman_environment.json"
COMPOSE_INSOMNIA_ENV = ROOT / "insomnia" / "compose.insomnia_environment.json"
WORKSPACE = "wrk_recarga"
# docker-compose.yml publishes the companies on these ports, with these development tokens
COMPANIES = {"a": ("http://localhost:8081/api/v1", "admin-a-dev"),
             "b": ("http://localhost:8082/api/v1", "admin-b-dev"),
             "c": ("http://localhost:8083/api/v1", "admin-c-dev")}
PATH_DEFAULTS = {"station_id": "a-recife-1", "booking_id": "bk-replace-me", "tx_id": "tx-replace-me",
                 "reservation_id": "r-replace-me"}  # the demo flow sets it from a booked leg


def _ident(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _example(schema: dict, components: dict, depth: int = 0) -> object:
    """A small valid-looking example: the schema's example, else built from required fields."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[1]], components, depth)
    if "example" in schema:
        return schema["example"]
    if "allOf" in schema:
        out: dict = {}
        for part in schema["allOf"]:
            value = _example(part, components, depth)
            if isinstance(value, dict):
                out.update(value)
        return out
    kind = schema.get("type")
    if "enum" in schema:
        return schema.get("default", schema["enum"][0])
    if kind == "object" and depth < 4:
        props = schema.get("properties", {})
        return {k: _example(props[k], components, depth + 1)
                for k in schema.get("required", []) if k in props}
    if kind == "array":
        return [_example(schema.get("items", {}), components, depth + 1)] if depth < 4 else []
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2030-01-15T08:00:00Z"
        return schema.get("default", "string")
    if kind in ("number", "integer"):
        return schema.get("default", schema.get("minimum", 1))
    if kind == "boolean":
        return schema.get("default", False)
    return None


def _auth(operation: dict, spec: dict) -> dict:
    schemes = [name for requirement in operation.get("security", spec.get("security", []))
               for name in requirement]
    if "adminToken" in schemes:
        return {"type": "bearer", "token": "{{ _.admin_token }}"}
    if "peerToken" in schemes:
        return {"type": "bearer", "token": "{{ _.peer_token }}"}
    return {}


def build() -> tuple[dict, dict]:
    spec = yaml.safe_load(SPEC.read_text())
    components = spec["components"]["schemas"]
    resources: list[dict] = [{
        "_id": WORKSPACE, "_type": "workspace", "parentId": None, "name": "Recarga",
        "description": "Generated from openapi/openapi.yaml by scripts/insomnia.py — do not edit.",
        "scope": "collection"}]
    resources.append({
        "_id": "env_base", "_type": "environment", "parentId": WORKSPACE, "name": "Base Environment",
        "data": {"base_url": COMPANIES["a"][0], "admin_token": COMPANIES["a"][1],
                 "peer_token": "token-from-a-POST-/peers-handshake",
                 "registration_token": "federation-dev",
                 **{f"base_url_{c}": url for c, (url, _) in COMPANIES.items()},
                 **{f"admin_token_{c}": tok for c, (_, tok) in COMPANIES.items()},
                 **PATH_DEFAULTS}})
    for c, (url, token) in COMPANIES.items():
        resources.append({"_id": f"env_company_{c}", "_type": "environment",
                          "parentId": "env_base", "name": f"company {c.upper()}",
                          "data": {"base_url": url, "admin_token": token}})
    tags = [t["name"] for t in spec.get("tags", [])]
    for n, tag in enumerate(tags):
        resources.append({"_id": f"fld_{_ident(tag)}", "_type": "request_group",
                          "parentId": WORKSPACE, "name": tag, "metaSortKey": n})
    n = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            n += 1
            url = "{{ _.base_url }}" + re.sub(r"\{(\w+)\}", r"{{ _.\1 }}", path)
            request = {"_id": f"req_{_ident(op['operationId'])}", "_type": "request",
                       "parentId": f"fld_{_ident(op['tags'][0])}", "name": op["summary"],
                       "description": f"operationId: {op['operationId']}",
                       "method": method.upper(), "url": url, "metaSortKey": n,
                       "authentication": _auth(op, spec), "headers": [], "parameters": [],
                       "body": {}, "preRequestScript": "",
                       "afterResponseScript": _insomnia_script(_contract_tests(op))}
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                body = content.get("example") or _example(content["schema"], components)
                request["body"] = {"mimeType": "application/json",
                                   "text": json.dumps(body, indent=2, ensure_ascii=False)}
                request["headers"] = [{"name": "Content-Type", "value": "application/json"}]
            resources.append(request)
    resources += demo_flow()
    insomnia = {"_type": "export", "__export_format": 4, "__export_source": "recarga.scripts",
                "resources": resources}
    return insomnia, postman(resources)


# The demo flow: every step's request, what it asserts, and what it hands to the next steps.
# Scripts use Postman's ``pm`` API; Insomnia's scripting API is the same under ``insomnia``.
# URLs and bodies name environment variables as {{name}}.
STATUS = 'pm.test("status {code}", () => pm.expect(pm.response.code).to.eql({code}));'


def _step(rid: str, name: str, method: str, url: str, token: str | None, body: str | None,
          tests: list[str], pre: list[str] | None = None) -> dict:
    return {"rid": rid, "name": name, "method": method, "url": url, "token": token,
            "body": body, "tests": tests, "pre": pre or []}


def _health(c: str) -> dict:
    return _step(f"req_demo_health_{c}", f"{c.upper()}'s public URL, as the others reach it",
                 "GET", f"{{{{base_url_{c}}}}}/health", None, None, [
                     STATUS.format(code=200),
                     'const h = pm.response.json();',
                     f'pm.test("company {c}, database ok", () => {{ '
                     f'pm.expect(h.company).to.eql("{c}"); pm.expect(h.database).to.eql("ok"); }});',
                     f'pm.environment.set("peer_url_{c}", h.public_url);'])


def _register(a: str, b: str) -> dict:
    return _step(f"req_demo_register_{a}_{b}", f"Register {a.upper()} with {b.upper()} "
                 "(a handshake; again, it rotates their tokens)", "POST",
                 f"{{{{base_url_{a}}}}}/peers", f"admin_token_{a}",
                 f'{{"url": "{{{{peer_url_{b}}}}}", "registration_token": "{{{{registration_token}}}}"}}',
                 [STATUS.format(code=201),
                  f'pm.test("{b} is a peer of {a}", () => '
                  f'pm.expect(pm.response.json().company).to.eql("{b}"));'])


def _booking_step(rid: str, name: str, method: str, booking: str, token: str,
                  state: str) -> dict:
    """A request on one booking at A that answers 200 with the booking in ``state``."""
    return _step(rid, name, method, f"{{{{base_url_a}}}}/bookings/{{{{{booking}}}}}", token, None, [
        STATUS.format(code=200),
        f'pm.test("{state}", () => pm.expect(pm.response.json().state).to.eql("{state}"));'])


CHOOSE_LEGS = [
    STATUS.format(code=200),
    'const plan = pm.response.json();',
    'pm.test("options were found over every company", () => {',
    '  pm.expect(plan.options.length).to.be.above(0);',
    '  pm.expect(plan.companies_missing).to.eql([]); });',
    '// the first option with stops at the most companies; one leg per company where it can',
    'const spread = (o) => new Set(o.stops.map((s) => s.company)).size;',
    'const option = plan.options.reduce((best, o) => (spread(o) > spread(best) ? o : best));',
    'const seen = new Set();',
    'const legs = spread(option) >= 3 ? option.legs.filter((l) => !seen.has(l.company) && seen.add(l.company)) : option.legs;',
    'pm.test("every stop keeps the reserve", () => option.stops.forEach((s) => pm.expect(s.soc_arrival).to.be.at.least(0.1 - 1e-6)));',
    'pm.environment.set("legs", JSON.stringify(legs));',
]
BOOKED = [
    STATUS.format(code=201),
    'const booking = pm.response.json();',
    'pm.test("confirmed, every leg confirmed", () => {',
    '  pm.expect(booking.state).to.eql("confirmed");',
    '  booking.legs.forEach((l) => pm.expect(l.state).to.eql("confirmed")); });',
    'pm.environment.set("booking_id", booking.booking_id);',
    '// a leg at a company other than this coordinator, to read it there later',
    'const other = booking.legs.find((l) => l.company !== "a") || booking.legs[0];',
    'pm.environment.set("other_base_url", pm.environment.get("base_url_" + other.company));',
    'pm.environment.set("other_station", other.station_id);',
    'pm.environment.set("other_connector", other.connector_id);',
    'pm.environment.set("other_start", other.start);',
    'pm.environment.set("other_end", other.end);',
    'pm.environment.set("other_admin_token", pm.environment.get("admin_token_" + other.company));',
]
CONFLICT = [
    STATUS.format(code=409),
    'const problem = pm.response.json();',
    'pm.test("held, with a conflict and alternatives for every refused leg", () => {',
    '  pm.expect(problem.state).to.eql("held");',
    '  pm.expect(problem.conflicts.length).to.be.above(0);',
    '  problem.conflicts.forEach((c) => pm.expect(c.alternatives.length).to.be.above(0)); });',
    'pm.environment.set("conflict_booking_id", problem.booking_id);',
    '// replace EVERY refused leg with its first alternative (hold mode keeps the rest held)',
    'const replacements = problem.conflicts.map((c) => ({ leg_index: c.leg_index,',
    '  company: c.alternatives[0].company, station_id: c.alternatives[0].station_id,',
    '  connector_id: c.alternatives[0].connector_id, start: c.alternatives[0].start,',
    '  end: c.alternatives[0].end }));',
    'pm.environment.set("replacements", JSON.stringify(replacements));',
]
DEPARTURE = [
    '// tomorrow at 08:00 UTC: the windows are always in the future',
    'const d = new Date(Date.now() + 24 * 3600 * 1000);',
    'd.setUTCHours(8, 0, 0, 0);',
    'pm.environment.set("departure", d.toISOString());',
]


def demo_steps() -> list[dict]:
    return [
        _step("req_demo_start", "Start: company A is the coordinator of this flow", "GET",
              "{{base_url_a}}/health", None, None, [
                  STATUS.format(code=200),
                  '// the per-operation folders talk to company A',
                  'pm.environment.set("base_url", pm.environment.get("base_url_a"));',
                  'pm.environment.set("admin_token", pm.environment.get("admin_token_a"));']),
        _health("b"), _health("c"),
        _register("a", "b"), _register("a", "c"), _register("b", "c"),
        _step("req_demo_peers", "A's peers, probed now", "GET", "{{base_url_a}}/peers",
              "admin_token_a", None, [
                  STATUS.format(code=200),
                  'const peers = pm.response.json().items;',
                  'pm.test("B and C reachable", () => pm.expect(peers.filter((p) => p.reachable)'
                  '.map((p) => p.company).sort()).to.eql(["b", "c"]));']),
        _step("req_demo_driver", "A driver credential at A (the admin issues it)", "POST",
              "{{base_url_a}}/drivers", "admin_token_a", '{"name": "demo driver"}', [
                  STATUS.format(code=201),
                  'pm.test("a token", () => pm.expect(pm.response.json().token).to.be.a("string"));',
                  'pm.environment.set("driver_token", pm.response.json().token);']),
        _step("req_demo_driver_2", "A second driver at A, for the second car", "POST",
              "{{base_url_a}}/drivers", "admin_token_a", '{"name": "second driver"}', [
                  STATUS.format(code=201),
                  'pm.environment.set("driver_token_2", pm.response.json().token);']),
        _step("req_demo_plan", "Plan João Pessoa → Feira de Santana at A, over every company",
              "POST", "{{base_url_a}}/plans", "driver_token",
              '{"origin": "joao-pessoa", "destination": "feira-de-santana", '
              '"departure": "{{departure}}", "vehicle": {"model_id": "byd-dolphin", "soc": 0.8}, '
              '"options": 3}', CHOOSE_LEGS, DEPARTURE),
        _step("req_demo_book", "Book the chosen legs at A (two-phase commit with B and C)",
              "POST", "{{base_url_a}}/bookings", "driver_token",
              '{"car_id": "demo-car-1", "legs": {{legs}}}', BOOKED),
        _step("req_demo_conflict", "A second car wants the same windows (hold mode): 409 with "
              "alternatives", "POST", "{{base_url_a}}/bookings", "driver_token_2",
              '{"car_id": "demo-car-2", "mode": "hold", "legs": {{legs}}}', CONFLICT),
        _step("req_demo_choose", "The second car takes an alternative for every refused leg",
              "PATCH", "{{base_url_a}}/bookings/{{conflict_booking_id}}", "driver_token_2",
              '{"legs": {{replacements}}}', [
                  STATUS.format(code=200),
                  'pm.test("confirmed", () => pm.expect(pm.response.json().state).to.eql("confirmed"));']),
        _step("req_demo_elsewhere", "The first booking at another company: its window is busy "
              "there", "GET", "{{other_base_url}}/stations/{{other_station}}/availability"
              "?from={{other_start}}&to={{other_end}}", None, None, [
                  STATUS.format(code=200),
                  'const c = pm.response.json().connectors.find((x) => x.connector_id === '
                  'pm.environment.get("other_connector"));',
                  'pm.test("the leg\'s window is busy at that company", () => '
                  'pm.expect(c.busy.length).to.be.above(0));']),
        _step("req_demo_timeline", "That company's console timeline: the leg's reservation, "
              "coordinated by A", "GET",
              "{{other_base_url}}/monitor/timeline?from={{other_start}}&to={{other_end}}",
              "other_admin_token", None, [
                  STATUS.format(code=200),
                  'const r = pm.response.json().reservations.find((x) => x.booking_id === '
                  'pm.environment.get("booking_id"));',
                  'pm.test("the leg is on the timeline, confirmed, coordinated by A", () => {',
                  '  pm.expect(r.state).to.eql("confirmed"); pm.expect(r.coordinator).to.eql("a"); });',
                  'pm.environment.set("reservation_id", r.id);']),
        _step("req_demo_hover", "Hovering it in the console: the booking's legs at every "
              "company, asked of A", "GET",
              "{{other_base_url}}/monitor/reservations/{{reservation_id}}/booking",
              "other_admin_token", None, [
                  STATUS.format(code=200),
                  'const b = pm.response.json();',
                  'pm.test("the whole booking, leg by leg", () => {',
                  '  pm.expect(b.booking_id).to.eql(pm.environment.get("booking_id"));',
                  '  pm.expect(b.legs.length).to.eql(JSON.parse(pm.environment.get("legs")).length); });']),
        _booking_step("req_demo_get", "The first booking, as its driver sees it", "GET",
                      "booking_id", "driver_token", "confirmed"),
        _step("req_demo_not_yours", "Another driver cannot see it", "GET",
              "{{base_url_a}}/bookings/{{booking_id}}", "driver_token_2", None, [
                  STATUS.format(code=404)]),
        _booking_step("req_demo_cancel", "Cancel the first booking (every leg, atomically)",
                      "DELETE", "booking_id", "driver_token", "cancelled"),
        _booking_step("req_demo_cancel_2", "Cancel the second booking too", "DELETE",
                      "conflict_booking_id", "driver_token_2", "cancelled"),
        _step("req_demo_read_back", "The first booking after cancelling, leg by leg", "GET",
              "{{base_url_a}}/bookings/{{booking_id}}", "driver_token", None, [
                  STATUS.format(code=200),
                  'const b = pm.response.json();',
                  'pm.test("cancelled at every company", () => { pm.expect(b.state).to.eql("cancelled");',
                  '  b.legs.forEach((l) => pm.expect(l.state).to.eql("cancelled")); });']),
    ]


def _insomnia_vars(text: str) -> str:
    return re.sub(r"\{\{(\w+)\}\}", r"{{ _.\1 }}", text)


def _insomnia_script(lines: list[str]) -> str:
    return "\n".join(lines).replace("pm.", "insomnia.")


def demo_flow() -> list[dict]:
    """The demo in order, each request with its assertions and what it hands on."""
    group = {"_id": "fld_demo_flow", "_type": "request_group", "parentId": WORKSPACE,
             "name": "Demo flow (run in order)", "metaSortKey": -1,
             "description": "Runs unattended against any three companies: set base_url_a|b|c, "
                            "admin_token_a|b|c and registration_token (docs/api.md)."}
    out = [group]
    for n, step in enumerate(demo_steps()):
        request = {"_id": step["rid"], "_type": "request", "parentId": group["_id"],
                   "name": step["name"], "method": step["method"],
                   "url": _insomnia_vars(step["url"]), "metaSortKey": n, "headers": [],
                   "parameters": [], "body": {},
                   "authentication": ({"type": "bearer",
                                       "token": "{{ _." + step["token"] + " }}"}
                                      if step["token"] else {}),
                   "preRequestScript": _insomnia_script(step["pre"]),
                   "afterResponseScript": _insomnia_script(step["tests"])}
        if step["body"] is not None:
            request["body"] = {"mimeType": "application/json",
                               "text": _insomnia_vars(step["body"])}
            request["headers"] = [{"name": "Content-Type", "value": "application/json"}]
        out.append(request)
    return out


def _contract_tests(op: dict) -> list[str]:
    """For every per-operation request: a documented status, and a JSON body."""
    codes = sorted(int(c) for c in op["responses"] if c.isdigit())
    return [f'pm.test("a documented status ({", ".join(map(str, codes))})", () => '
            f'pm.expect({json.dumps(codes)}).to.include(pm.response.code));',
            'pm.test("a JSON body", () => { if (pm.response.code !== 204) '
            'pm.expect(pm.response.headers.get("Content-Type")).to.match(/json/); });']


def postman(resources: list[dict]) -> dict:
    """The same requests as a Postman v2.1 collection (variables instead of environments)."""
    def convert(text: str) -> str:
        return re.sub(r"\{\{ _\.(\w+) \}\}", r"{{\1}}", text)

    def events(r: dict) -> list[dict]:
        out = []
        for listen, key in (("prerequest", "preRequestScript"), ("test", "afterResponseScript")):
            if r.get(key):
                out.append({"listen": listen, "script": {
                    "type": "text/javascript",
                    "exec": r[key].replace("insomnia.", "pm.").split("\n")}})
        return out

    folders = [r for r in resources if r["_type"] == "request_group"]
    items = []
    for folder in sorted(folders, key=lambda f: f["metaSortKey"]):
        requests = sorted((r for r in resources if r["_type"] == "request"
                           and r["parentId"] == folder["_id"]), key=lambda r: r["metaSortKey"])
        items.append({"name": folder["name"], "item": [{
            "name": r["name"],
            "event": events(r),
            "request": {
                "method": r["method"], "url": convert(r["url"]),
                "header": [{"key": h["name"], "value": h["value"]} for h in r["headers"]],
                **({"auth": {"type": "bearer", "bearer": [
                    {"key": "token", "value": convert(r["authentication"]["token"]),
                     "type": "string"}]}} if r["authentication"] else {}),
                **({"body": {"mode": "raw", "raw": convert(r["body"]["text"]),
                             "options": {"raw": {"language": "json"}}}} if r["body"] else {}),
                "description": r.get("description", "")}} for r in requests]})
    base = next(r for r in resources if r["_id"] == "env_base")["data"]
    return {"info": {"name": "Recarga", "_postman_id": "recarga-generated",
                     "description": "Generated from openapi/openapi.yaml by scripts/insomnia.py",
                     "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
            "item": items,
            "variable": [{"key": k, "value": v} for k, v in base.items()]}


def environments(name: str, base_urls: dict[str, str], admin_tokens: dict[str, str],
                 registration_token: str) -> tuple[dict, dict]:
    """The variables the demo flow needs (docs/api.md), as a Postman environment and as an
    Insomnia export holding one sub-environment of the workspace's base environment."""
    values = {"registration_token": registration_token,
              **{f"base_url_{c}": url for c, url in base_urls.items()},
              **{f"admin_token_{c}": tok for c, tok in admin_tokens.items()}}
    postman_env = {"id": f"recarga-{_ident(name)}", "name": name, "values": [
        {"key": k, "value": v, "type": "secret" if "token" in k else "default", "enabled": True}
        for k, v in values.items()]}
    insomnia_env = {"_type": "export", "__export_format": 4,
                    "__export_source": "recarga.scripts", "resources": [{
                        "_id": f"env_{_ident(name)}", "_type": "environment",
                        "parentId": "env_base", "name": name, "data": values}]}
    return postman_env, insomnia_env


def _compose_environments() -> tuple[dict, dict]:
    return environments("docker compose (localhost:8081-8083)",
                        {c: url for c, (url, _) in COMPANIES.items()},
                        {c: tok for c, (_, tok) in COMPANIES.items()}, "federation-dev")


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    insomnia, postman_doc = build()
    postman_env, insomnia_env = _compose_environments()
    wanted = {INSOMNIA: render(insomnia), POSTMAN: render(postman_doc),
              COMPOSE_POSTMAN_ENV: render(postman_env), COMPOSE_INSOMNIA_ENV: render(insomnia_env)}
    if args.check:
        stale = [str(p.relative_to(ROOT)) for p, text in wanted.items()
                 if not p.exists() or p.read_text() != text]
        if stale:
            print(f"out of date with the spec: {', '.join(stale)}; run make insomnia",
                  file=sys.stderr)
            return 1
        return 0
    INSOMNIA.parent.mkdir(exist_ok=True)
    for path, text in wanted.items():
        path.write_text(text)
    print("wrote " + ", ".join(str(p.relative_to(ROOT)) for p in wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
