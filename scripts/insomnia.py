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
COMPANIES = {
    "a": ("http://localhost:8081/api/v1", "admin-a-dev"),
    "b": ("http://localhost:8082/api/v1", "admin-b-dev"),
    "c": ("http://localhost:8083/api/v1", "admin-c-dev"),
}
PATH_DEFAULTS = {
    "station_id": "a-recife-1",
    "booking_id": "bk-replace-me",
    "tx_id": "tx-replace-me",
    "reservation_id": "r-replace-me",
}  # the demo flow sets it from a booked leg


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
        return {
            k: _example(props[k], components, depth + 1)
            for k in schema.get("required", [])
            if k in props
        }
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


def _auth(operation: dict, spec: dict) -> str | None:
    """The environment variable holding the token an operation's example presents."""
    schemes = [
        name
        for requirement in operation.get("security", spec.get("security", []))
        for name in requirement
    ]
    if "adminToken" in schemes:
        return "admin_token"
    if "peerToken" in schemes:
        return "peer_token"
    return None


def build() -> tuple[dict, dict]:
    spec = yaml.safe_load(SPEC.read_text())
    components = spec["components"]["schemas"]
    resources: list[dict] = [
        {
            "_id": WORKSPACE,
            "_type": "workspace",
            "parentId": None,
            "name": "Recarga",
            "description": "Generated from openapi/openapi.yaml by scripts/insomnia.py — do not edit.",
            "scope": "collection",
        }
    ]
    resources.append(
        {
            "_id": "env_base",
            "_type": "environment",
            "parentId": WORKSPACE,
            "name": "Base Environment",
            "data": {
                "base_url": COMPANIES["a"][0],
                "admin_token": COMPANIES["a"][1],
                "peer_token": "token-from-a-POST-/peers-handshake",
                "registration_token": "federation-dev",
                **{f"base_url_{c}": url for c, (url, _) in COMPANIES.items()},
                **{f"admin_token_{c}": tok for c, (_, tok) in COMPANIES.items()},
                **PATH_DEFAULTS,
            },
        }
    )
    for c, (url, token) in COMPANIES.items():
        resources.append(
            {
                "_id": f"env_company_{c}",
                "_type": "environment",
                "parentId": "env_base",
                "name": f"company {c.upper()}",
                "data": {"base_url": url, "admin_token": token},
            }
        )
    tags = [t["name"] for t in spec.get("tags", [])]
    for n, tag in enumerate(tags):
        resources.append(
            {
                "_id": f"fld_{_ident(tag)}",
                "_type": "request_group",
                "parentId": WORKSPACE,
                "name": tag,
                "metaSortKey": n,
            }
        )
    missing = [
        op["operationId"]
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op and op["operationId"] not in SCENARIOS
    ]
    if missing:
        raise SystemExit(
            f"no scenario (expected outcome) for {', '.join(missing)}: "
            "add one to SCENARIOS in scripts/insomnia.py"
        )
    n = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            n += 1
            scenario = SCENARIOS[op["operationId"]]
            url = scenario.get("url") or "{{base_url}}" + re.sub(r"\{(\w+)\}", r"{{\1}}", path)
            token = scenario.get("token", _auth(op, spec))
            request = {
                "_id": f"req_{_ident(op['operationId'])}",
                "_type": "request",
                "parentId": f"fld_{_ident(op['tags'][0])}",
                "name": op["summary"],
                "description": f"operationId: {op['operationId']}",
                "method": method.upper(),
                "url": _insomnia_vars(url),
                "metaSortKey": scenario.get("order", n),
                "authentication": (
                    {"type": "bearer", "token": "{{ _." + token + " }}"} if token else {}
                ),
                "headers": [],
                "parameters": [],
                "body": {},
                "preRequestScript": _insomnia_script(scenario.get("pre", [])),
                "afterResponseScript": _insomnia_script(scenario["tests"]),
            }
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            body = scenario.get("body")
            if content and body is None:
                body = json.dumps(
                    content.get("example") or _example(content["schema"], components), indent=2
                )
            if body is not None:
                request["body"] = {"mimeType": "application/json", "text": _insomnia_vars(body)}
                request["headers"] = [{"name": "Content-Type", "value": "application/json"}]
            resources.append(request)
    resources += demo_flow()
    insomnia = {
        "_type": "export",
        "__export_format": 4,
        "__export_source": "recarga.scripts",
        "resources": resources,
    }
    return insomnia, postman(resources)


# The demo flow: every step's request, what it asserts, and what it hands to the next steps.
# Scripts use Postman's ``pm`` API; Insomnia's scripting API is the same under ``insomnia``.
# URLs and bodies name environment variables as {{name}}.
STATUS = 'pm.test("status {code}", () => pm.expect(pm.response.code).to.eql({code}));'


def _step(
    rid: str,
    name: str,
    method: str,
    url: str,
    token: str | None,
    body: str | None,
    tests: list[str],
    pre: list[str] | None = None,
) -> dict:
    return {
        "rid": rid,
        "name": name,
        "method": method,
        "url": url,
        "token": token,
        "body": body,
        "tests": tests,
        "pre": pre or [],
    }


def _health(c: str) -> dict:
    return _step(
        f"req_demo_health_{c}",
        f"{c.upper()}'s public URL, as the others reach it",
        "GET",
        f"{{{{base_url_{c}}}}}/health",
        None,
        None,
        [
            STATUS.format(code=200),
            "const h = pm.response.json();",
            f'pm.test("company {c}, database ok", () => {{ '
            f'pm.expect(h.company).to.eql("{c}"); pm.expect(h.database).to.eql("ok"); }});',
            f'pm.environment.set("peer_url_{c}", h.public_url);',
        ],
    )


def _register(a: str, b: str) -> dict:
    return _step(
        f"req_demo_register_{a}_{b}",
        f"Register {a.upper()} with {b.upper()} (a handshake; again, it rotates their tokens)",
        "POST",
        f"{{{{base_url_{a}}}}}/peers",
        f"admin_token_{a}",
        f'{{"url": "{{{{peer_url_{b}}}}}", "registration_token": "{{{{registration_token}}}}"}}',
        [
            STATUS.format(code=201),
            f'pm.test("{b} is a peer of {a}", () => '
            f'pm.expect(pm.response.json().company).to.eql("{b}"));',
        ],
    )


def _booking_step(rid: str, name: str, method: str, booking: str, token: str, state: str) -> dict:
    """A request on one booking at A that answers 200 with the booking in ``state``."""
    return _step(
        rid,
        name,
        method,
        f"{{{{base_url_a}}}}/bookings/{{{{{booking}}}}}",
        token,
        None,
        [
            STATUS.format(code=200),
            f'pm.test("{state}", () => pm.expect(pm.response.json().state).to.eql("{state}"));',
        ],
    )


CHOOSE_LEGS = [
    STATUS.format(code=200),
    "const plan = pm.response.json();",
    'pm.test("options were found over every company", () => {',
    "  pm.expect(plan.options.length).to.be.above(0);",
    "  pm.expect(plan.companies_missing).to.eql([]); });",
    "// the first option with stops at the most companies; one leg per company where it can",
    "const spread = (o) => new Set(o.stops.map((s) => s.company)).size;",
    "const option = plan.options.reduce((best, o) => (spread(o) > spread(best) ? o : best));",
    "const seen = new Set();",
    "const legs = spread(option) >= 3 ? option.legs.filter((l) => !seen.has(l.company) && seen.add(l.company)) : option.legs;",
    'pm.test("every stop keeps the reserve", () => option.stops.forEach((s) => pm.expect(s.soc_arrival).to.be.at.least(0.1 - 1e-6)));',
    'pm.environment.set("legs", JSON.stringify(legs));',
]
BOOKED = [
    STATUS.format(code=201),
    "const booking = pm.response.json();",
    'pm.test("confirmed, every leg confirmed", () => {',
    '  pm.expect(booking.state).to.eql("confirmed");',
    '  booking.legs.forEach((l) => pm.expect(l.state).to.eql("confirmed")); });',
    'pm.environment.set("booking_id", booking.booking_id);',
    "// a leg at a company other than this coordinator, to read it there later",
    'const other = booking.legs.find((l) => l.company !== "a") || booking.legs[0];',
    'pm.environment.set("other_base_url", pm.environment.get("base_url_" + other.company));',
    'pm.environment.set("other_station", other.station_id);',
    'pm.environment.set("other_connector", other.connector_id);',
    'pm.environment.set("other_start", other.start);',
    'pm.environment.set("other_end", other.end);',
    'pm.environment.set("other_admin_token", pm.environment.get("admin_token_" + other.company));',
]


def _first_alternatives(problem: str, variable: str) -> list[str]:
    """JS: every refused leg of the 409 ``problem`` replaced by its first alternative, as a
    PATCH /bookings body's legs, set as the environment's ``variable``."""
    return [
        f'pm.environment.set("{variable}", JSON.stringify(({problem}.conflicts || [])'
        ".map((c) => ({",
        "  leg_index: c.leg_index, company: c.alternatives[0].company,",
        "  station_id: c.alternatives[0].station_id, connector_id: c.alternatives[0].connector_id,",
        "  start: c.alternatives[0].start, end: c.alternatives[0].end }))));",
    ]


CONFLICT = [
    STATUS.format(code=409),
    "const problem = pm.response.json();",
    'pm.test("held, with a conflict and alternatives for every refused leg", () => {',
    '  pm.expect(problem.state).to.eql("held");',
    "  pm.expect(problem.conflicts.length).to.be.above(0);",
    "  problem.conflicts.forEach((c) => pm.expect(c.alternatives.length).to.be.above(0)); });",
    'pm.environment.set("conflict_booking_id", problem.booking_id);',
    "// replace EVERY refused leg with its first alternative (hold mode keeps the rest held)",
    *_first_alternatives("problem", "replacements"),
]
DEPARTURE = [
    "// tomorrow at 08:00 UTC: the windows are always in the future",
    "const d = new Date(Date.now() + 24 * 3600 * 1000);",
    "d.setUTCHours(8, 0, 0, 0);",
    'pm.environment.set("departure", d.toISOString());',
]


def demo_steps() -> list[dict]:
    return [
        _step(
            "req_demo_start",
            "Start: company A is the coordinator of this flow",
            "GET",
            "{{base_url_a}}/health",
            None,
            None,
            [
                STATUS.format(code=200),
                "// the per-operation folders talk to company A",
                'pm.environment.set("base_url", pm.environment.get("base_url_a"));',
                'pm.environment.set("admin_token", pm.environment.get("admin_token_a"));',
            ],
        ),
        _health("b"),
        _health("c"),
        _register("a", "b"),
        _register("a", "c"),
        _register("b", "c"),
        _step(
            "req_demo_peers",
            "A's peers, probed now",
            "GET",
            "{{base_url_a}}/peers",
            "admin_token_a",
            None,
            [
                STATUS.format(code=200),
                "const peers = pm.response.json().items;",
                'pm.test("B and C reachable", () => pm.expect(peers.filter((p) => p.reachable)'
                '.map((p) => p.company).sort()).to.eql(["b", "c"]));',
            ],
        ),
        _step(
            "req_demo_driver",
            "A driver credential at A (the admin issues it)",
            "POST",
            "{{base_url_a}}/drivers",
            "admin_token_a",
            '{"name": "demo driver"}',
            [
                STATUS.format(code=201),
                'pm.test("a token", () => pm.expect(pm.response.json().token).to.be.a("string"));',
                'pm.environment.set("driver_token", pm.response.json().token);',
            ],
        ),
        _step(
            "req_demo_driver_2",
            "A second driver at A, for the second car",
            "POST",
            "{{base_url_a}}/drivers",
            "admin_token_a",
            '{"name": "second driver"}',
            [
                STATUS.format(code=201),
                'pm.environment.set("driver_token_2", pm.response.json().token);',
            ],
        ),
        _step(
            "req_demo_plan",
            "Plan João Pessoa → Feira de Santana at A, over every company",
            "POST",
            "{{base_url_a}}/plans",
            "driver_token",
            '{"origin": "joao-pessoa", "destination": "feira-de-santana", '
            '"departure": "{{departure}}", "vehicle": {"model_id": "byd-dolphin", "soc": 0.8}, '
            '"options": 3}',
            CHOOSE_LEGS,
            DEPARTURE,
        ),
        _step(
            "req_demo_book",
            "Book the chosen legs at A (two-phase commit with B and C)",
            "POST",
            "{{base_url_a}}/bookings",
            "driver_token",
            '{"car_id": "demo-car-1", "legs": {{legs}}}',
            BOOKED,
        ),
        _step(
            "req_demo_conflict",
            "A second car wants the same windows (hold mode): 409 with alternatives",
            "POST",
            "{{base_url_a}}/bookings",
            "driver_token_2",
            '{"car_id": "demo-car-2", "mode": "hold", "legs": {{legs}}}',
            CONFLICT,
        ),
        _step(
            "req_demo_choose",
            "The second car takes an alternative for every refused leg",
            "PATCH",
            "{{base_url_a}}/bookings/{{conflict_booking_id}}",
            "driver_token_2",
            '{"legs": {{replacements}}}',
            [
                STATUS.format(code=200),
                'pm.test("confirmed", () => pm.expect(pm.response.json().state).to.eql("confirmed"));',
            ],
        ),
        _step(
            "req_demo_elsewhere",
            "The first booking at another company: its window is busy there",
            "GET",
            "{{other_base_url}}/stations/{{other_station}}/availability"
            "?from={{other_start}}&to={{other_end}}",
            None,
            None,
            [
                STATUS.format(code=200),
                "const c = pm.response.json().connectors.find((x) => x.connector_id === "
                'pm.environment.get("other_connector"));',
                'pm.test("the leg\'s window is busy at that company", () => '
                "pm.expect(c.busy.length).to.be.above(0));",
            ],
        ),
        _step(
            "req_demo_timeline",
            "That company's console timeline: the leg's reservation, coordinated by A",
            "GET",
            "{{other_base_url}}/monitor/timeline?from={{other_start}}&to={{other_end}}",
            "other_admin_token",
            None,
            [
                STATUS.format(code=200),
                "const r = pm.response.json().reservations.find((x) => x.booking_id === "
                'pm.environment.get("booking_id"));',
                'pm.test("the leg is on the timeline, confirmed, coordinated by A", () => {',
                '  pm.expect(r.state).to.eql("confirmed"); pm.expect(r.coordinator).to.eql("a"); });',
                'pm.environment.set("reservation_id", r.id);',
            ],
        ),
        _step(
            "req_demo_hover",
            "Hovering it in the console: the booking's legs at every company, asked of A",
            "GET",
            "{{other_base_url}}/monitor/reservations/{{reservation_id}}/booking",
            "other_admin_token",
            None,
            [
                STATUS.format(code=200),
                "const b = pm.response.json();",
                'pm.test("the whole booking, leg by leg", () => {',
                '  pm.expect(b.booking_id).to.eql(pm.environment.get("booking_id"));',
                '  pm.expect(b.legs.length).to.eql(JSON.parse(pm.environment.get("legs")).length); });',
            ],
        ),
        _booking_step(
            "req_demo_get",
            "The first booking, as its driver sees it",
            "GET",
            "booking_id",
            "driver_token",
            "confirmed",
        ),
        _step(
            "req_demo_not_yours",
            "Another driver cannot see it",
            "GET",
            "{{base_url_a}}/bookings/{{booking_id}}",
            "driver_token_2",
            None,
            [STATUS.format(code=404)],
        ),
        _booking_step(
            "req_demo_cancel",
            "Cancel the first booking (every leg, atomically)",
            "DELETE",
            "booking_id",
            "driver_token",
            "cancelled",
        ),
        _booking_step(
            "req_demo_cancel_2",
            "Cancel the second booking too",
            "DELETE",
            "conflict_booking_id",
            "driver_token_2",
            "cancelled",
        ),
        _step(
            "req_demo_read_back",
            "The first booking after cancelling, leg by leg",
            "GET",
            "{{base_url_a}}/bookings/{{booking_id}}",
            "driver_token",
            None,
            [
                STATUS.format(code=200),
                "const b = pm.response.json();",
                'pm.test("cancelled at every company", () => { pm.expect(b.state).to.eql("cancelled");',
                '  b.legs.forEach((l) => pm.expect(l.state).to.eql("cancelled")); });',
            ],
        ),
    ]


# Every operation on its own, each request asserting the outcome its example is meant to
# produce. They run after the demo flow (its driver tokens and booking), at company A, and
# change only what they create themselves — a station, a booking, a driver, two throwaway
# peers ("postman", "postman-tx") — removing each before the collection ends.
# Keys: url and body with {{variables}}, token (an environment variable), pre and tests (JS,
# Postman's pm API), order (within the operation's tag folder).
SEND = [
    "// pm.sendRequest as a promise, at this company, with a token from the environment",
    "const send = (method, path, token, body) => new Promise((resolve, reject) => pm.sendRequest({",
    '  url: pm.environment.get("base_url") + path, method,',
    '  header: Object.assign({ "Content-Type": "application/json" },',
    '    token ? { Authorization: "Bearer " + pm.environment.get(token) } : {}),',
    '  body: body === undefined ? undefined : { mode: "raw", raw: JSON.stringify(body) } },',
    "  (err, res) => (err ? reject(err) : resolve(res))));",
]


def _at(name: str, days: float, hour: int, minutes: int = 30) -> list[str]:
    """Set ``<name>_start``/``<name>_end``: a window ``days`` from today at ``hour`` UTC."""
    return [
        f"const {name} = new Date(Date.now() + {days} * 24 * 3600 * 1000);",
        f"{name}.setUTCHours({hour}, 0, 0, 0);",
        f'pm.environment.set("{name}_start", {name}.toISOString());',
        f'pm.environment.set("{name}_end", new Date({name}.getTime() + {minutes} * 60000)'
        ".toISOString());",
    ]


def _status(code: int) -> str:
    return STATUS.format(code=code)


SCENARIOS: dict[str, dict] = {
    "handlers.system.health": {
        "tests": [
            _status(200),
            "const h = pm.response.json();",
            'pm.test("this company, its database ok", () => { pm.expect(h.company).to.be.a("string");'
            ' pm.expect(h.database).to.eql("ok"); });',
        ]
    },
    "handlers.system.network": {
        "tests": [
            _status(200),
            "const n = pm.response.json();",
            'pm.test("places, roads and vehicle models", () => { pm.expect(n.places.length).to.be.above(10);'
            " pm.expect(n.vehicles.length).to.be.above(0); });",
        ]
    },
    "handlers.stations.list_stations": {
        "order": 0,
        "url": "{{base_url}}/stations?limit=5",
        "tests": [
            _status(200),
            "const page = pm.response.json();",
            'pm.test("a page of at most 5 of this company\'s stations", () => {',
            "  pm.expect(page.items.length).to.be.within(1, 5);",
            "  pm.expect(page.total).to.be.at.least(page.items.length); });",
        ],
    },
    "handlers.stations.create_station": {
        "order": 1,
        "body": '{"place_id": "recife", "name": "Example station (Postman)", "connectors": '
        '[{"power_kw": 150, "price_per_kwh": 2.0}]}',
        "tests": [
            _status(201),
            "const s = pm.response.json();",
            'pm.test("at Recife, one 150 kW connector", () => { pm.expect(s.place_id).to.eql("recife");'
            " pm.expect(s.connectors.map((c) => c.power_kw)).to.eql([150]); });",
            'pm.environment.set("station_id", s.id);',
        ],
    },
    "handlers.stations.get_station": {
        "order": 2,
        "tests": [
            _status(200),
            'pm.test("the station just created", () => '
            'pm.expect(pm.response.json().id).to.eql(pm.environment.get("station_id")));',
        ],
    },
    "handlers.stations.update_station": {
        "order": 3,
        "body": '{"name": "Example station (renamed)"}',
        "tests": [
            _status(200),
            'pm.test("renamed", () => '
            'pm.expect(pm.response.json().name).to.eql("Example station (renamed)"));',
        ],
    },
    "handlers.stations.availability": {
        "order": 4,
        "pre": _at("free", 1, 6, 600),
        "url": "{{base_url}}/stations/{{station_id}}/availability?from={{free_start}}&to={{free_end}}",
        "tests": [
            _status(200),
            "const a = pm.response.json();",
            'pm.test("its one connector, free all along", () => {',
            "  pm.expect(a.connectors.length).to.eql(1);",
            "  pm.expect(a.connectors[0].busy).to.eql([]); });",
        ],
    },
    "handlers.stations.delete_station": {
        "order": 5,
        "tests": [
            _status(204),
            *SEND,
            'send("GET", "/stations/" + pm.environment.get("station_id")).then((r) =>',
            '  pm.test("gone", () => pm.expect(r.code).to.eql(404)));',
        ],
    },
    "handlers.plans.create_plan": {
        "token": "driver_token",
        "pre": [
            "// the day after tomorrow at 09:00 UTC: away from the demo flow's windows",
            "const d = new Date(Date.now() + 2 * 24 * 3600 * 1000);",
            "d.setUTCHours(9, 0, 0, 0);",
            'pm.environment.set("op_departure", d.toISOString());',
        ],
        "body": '{"origin": "joao-pessoa", "destination": "feira-de-santana", "departure": '
        '"{{op_departure}}", "vehicle": {"model_id": "byd-dolphin", "soc": 0.8}, '
        '"options": 2}',
        "tests": [
            _status(200),
            "const plan = pm.response.json();",
            'pm.test("an option whose every stop keeps the reserve", () => {',
            "  pm.expect(plan.options.length).to.be.above(0);",
            "  plan.options[0].stops.forEach((s) => pm.expect(s.soc_arrival).to.be.at.least(0.1 - 1e-6)); });",
            'pm.environment.set("op_legs", JSON.stringify(plan.options[0].legs));',
            "// the trip goes back with the legs: alternatives on a conflict are checked against it",
            'pm.environment.set("op_trip", JSON.stringify(plan.trip));',
        ],
    },
    "handlers.bookings.create_booking": {
        "token": "driver_token",
        "body": '{"car_id": "example-car-1", "legs": {{op_legs}}, "trip": {{op_trip}}}',
        "tests": [
            _status(201),
            "const b = pm.response.json();",
            'pm.test("confirmed, leg by leg", () => { pm.expect(b.state).to.eql("confirmed");',
            '  b.legs.forEach((l) => pm.expect(l.state).to.eql("confirmed")); });',
            'pm.environment.set("op_booking_id", b.booking_id);',
        ],
    },
    "handlers.bookings.list_bookings": {
        "token": "driver_token",
        "url": "{{base_url}}/bookings?limit=5",
        "tests": [
            _status(200),
            "const page = pm.response.json();",
            'pm.test("this driver\'s bookings, the newest first: the one just made", () => {',
            '  pm.expect(page.items[0].booking_id).to.eql(pm.environment.get("op_booking_id"));',
            '  pm.expect(page.items[0].state).to.eql("confirmed");',
            "  pm.expect(page.total).to.be.at.least(page.items.length); });",
        ],
    },
    "handlers.bookings.get_booking": {
        "token": "driver_token",
        "url": "{{base_url}}/bookings/{{op_booking_id}}",
        "tests": [
            _status(200),
            "const b = pm.response.json();",
            'pm.test("the booking just made, confirmed", () => {',
            '  pm.expect(b.booking_id).to.eql(pm.environment.get("op_booking_id"));',
            '  pm.expect(b.state).to.eql("confirmed"); });',
        ],
    },
    "handlers.bookings.replace_legs": {
        "token": "driver_token_2",
        "url": "{{base_url}}/bookings/{{op_conflict_id}}",
        "pre": [
            *SEND,
            "// a second car asks for the first window in hold mode: refused, with alternatives",
            'send("POST", "/bookings", "driver_token_2", { car_id: "example-car-2", mode: "hold",',
            '  legs: JSON.parse(pm.environment.get("op_legs")).slice(0, 1) }).then((r) => {',
            "  const p = r.json();",
            '  pm.environment.set("op_conflict_id", p.booking_id);',
            *_first_alternatives("p", "op_replacements"),
            "});",
        ],
        "body": '{"legs": {{op_replacements}}}',
        "tests": [
            _status(200),
            'pm.test("the alternatives taken: confirmed", () => '
            'pm.expect(pm.response.json().state).to.eql("confirmed"));',
        ],
    },
    "handlers.bookings.cancel_booking": {
        "token": "driver_token",
        "url": "{{base_url}}/bookings/{{op_booking_id}}",
        "tests": [
            _status(200),
            'pm.test("cancelled", () => pm.expect(pm.response.json().state).to.eql("cancelled"));',
            *SEND,
            'send("DELETE", "/bookings/" + pm.environment.get("op_conflict_id"), "driver_token_2")',
            '  .then((r) => pm.test("the second car\'s booking cancelled too", () =>',
            '    pm.expect(r.json().state).to.eql("cancelled")));',
        ],
    },
    "handlers.drivers.create_driver": {
        "order": 0,
        "pre": _at("week", 7, 0),
        "body": '{"name": "Example driver (Postman)", "expires_at": "{{week_start}}"}',
        "tests": [
            _status(201),
            "const d = pm.response.json();",
            'pm.test("a token, shown once, expiring in a week", () => {',
            '  pm.expect(d.token).to.be.a("string");',
            '  pm.expect(Date.parse(d.expires_at)).to.eql(Date.parse(pm.environment.get("week_start"))); });',
            'pm.environment.set("op_driver_id", d.driver_id);',
            'pm.environment.set("op_driver_token", d.token);',
        ],
    },
    "handlers.drivers.list_drivers": {
        "order": 1,
        "tests": [
            _status(200),
            "const mine = pm.response.json().items.find((d) => d.driver_id === "
            'pm.environment.get("op_driver_id"));',
            'pm.test("listed, never with its token", () => { pm.expect(mine.name).to.eql("Example driver (Postman)");'
            ' pm.expect(mine).to.not.have.property("token"); });',
        ],
    },
    "handlers.drivers.rotate_driver_token": {
        "order": 2,
        "url": "{{base_url}}/drivers/{{op_driver_id}}/token",
        "body": "{}",
        "tests": [
            _status(201),
            "const d = pm.response.json();",
            'pm.test("the same driver, a new token", () => {',
            '  pm.expect(d.driver_id).to.eql(pm.environment.get("op_driver_id"));',
            '  pm.expect(d.token).to.not.eql(pm.environment.get("op_driver_token")); });',
            'pm.environment.set("op_driver_token", d.token);',
        ],
    },
    "handlers.drivers.revoke_driver": {
        "order": 3,
        "url": "{{base_url}}/drivers/{{op_driver_id}}",
        "tests": [
            _status(204),
            *SEND,
            'send("GET", "/bookings/bk-none", "op_driver_token").then((r) =>',
            '  pm.test("its token opens nothing any more", () => pm.expect(r.code).to.eql(401)));',
        ],
    },
    "handlers.peers.list_peers": {
        "order": 0,
        "tests": [
            _status(200),
            'pm.test("B and C, registered by the demo flow", () => pm.expect('
            'pm.response.json().items.map((p) => p.company)).to.include.members(["b", "c"]));',
        ],
    },
    "handlers.peers.register_peer": {
        "order": 1,
        "token": "registration_token",
        "pre": [
            *SEND,
            '// a throwaway peer "postman"; left over from an interrupted run: removed',
            'send("DELETE", "/peers/postman", "admin_token");',
        ],
        "body": '{"company": "postman", "url": "http://127.0.0.1:9", '
        '"token": "the-token-this-company-presents-to-postman"}',
        "tests": [
            _status(201),
            "const p = pm.response.json();",
            'pm.test("registered here, with the token it presents here", () => {',
            '  pm.expect(p.company).to.eql("postman"); pm.expect(p.token).to.be.a("string"); });',
            'pm.environment.set("peer_token", p.token);',
        ],
    },
    "handlers.catalog.notify": {
        "order": 2,
        "body": '{"company": "postman"}',
        "tests": [
            _status(202),
            'pm.test("catching up with postman\'s catalog", () => '
            'pm.expect(pm.response.json().syncing).to.eql("postman"));',
        ],
    },
    "handlers.catalog.get_catalog": {
        "order": 3,
        "tests": [
            _status(200),
            "const c = pm.response.json();",
            'pm.test("this company\'s stations and the version of its catalog", () => {',
            '  pm.expect(c.stations.length).to.be.above(0); pm.expect(c.version).to.be.a("number"); });',
        ],
    },
    "handlers.catalog.availability": {
        "order": 4,
        "pre": _at("day", 1, 0, 1440),
        "body": '{"from": "{{day_start}}", "to": "{{day_end}}", "places": ["recife"]}',
        "tests": [
            _status(200),
            "const s = pm.response.json();",
            "pm.test(\"this company's busy windows at Recife over the day: [connector, "
            'start, end]", () => {',
            '  pm.expect(s.company).to.eql("a"); pm.expect(s.busy).to.be.an("array");',
            "  s.busy.forEach((b) => pm.expect(b[0]).to.match(/^a-recife-/)); });",
        ],
    },
    "handlers.peers.remove_peer": {
        "order": 5,
        "url": "{{base_url}}/peers/postman",
        "tests": [
            _status(204),
            *SEND,
            'send("GET", "/peers", "admin_token").then((r) =>',
            '  pm.test("postman is gone", () => pm.expect(r.json().items.map((p) => p.company))'
            '.to.not.include("postman")));',
        ],
    },
    "handlers.transactions.prepare": {
        "order": 0,
        "token": "tx_peer_token",
        "url": "{{base_url}}/transactions/{{tx_id}}/prepare",
        "pre": [
            *SEND,
            *_at("tx", 3, 3),
            '// a throwaway coordinator "postman-tx", and a station of its own to hold',
            'pm.environment.set("tx_id", "tx-postman-" + Date.now());',
            'send("DELETE", "/peers/postman-tx", "admin_token")',
            '  .then(() => send("POST", "/peers", "registration_token", { company: "postman-tx",',
            '    url: "http://127.0.0.1:9", token: "the-token-this-company-presents-to-postman-tx" }))',
            '  .then((r) => { pm.environment.set("tx_peer_token", r.json().token);',
            '    return send("POST", "/stations", "admin_token", { place_id: "natal",',
            '      name: "Example station (transactions)", connectors: [{ power_kw: 50, price_per_kwh: 1.5 }] }); })',
            '  .then((r) => { pm.environment.set("tx_station", r.json().id);',
            '    pm.environment.set("tx_connector", r.json().connectors[0].id); });',
        ],
        "body": '{"coordinator": "postman-tx", "booking_id": "bk-{{tx_id}}", "car_id": '
        '"example-car-3", "priority_at": "{{tx_start}}", "hold_seconds": 300, "legs": '
        '[{"leg_index": 0, "station_id": "{{tx_station}}", "connector_id": '
        '"{{tx_connector}}", "start": "{{tx_start}}", "end": "{{tx_end}}"}]}',
        "tests": [
            _status(200),
            'pm.test("voted yes: the window is held", () => '
            'pm.expect(pm.response.json().state).to.eql("prepared"));',
        ],
    },
    "handlers.transactions.get_transaction": {
        "order": 1,
        "token": "tx_peer_token",
        "url": "{{base_url}}/transactions/{{tx_id}}",
        "tests": [
            _status(200),
            "const t = pm.response.json();",
            'pm.test("a participant\'s view: its leg held", () => {',
            '  pm.expect(t.role).to.eql("participant"); pm.expect(t.legs[0].state).to.eql("held"); });',
        ],
    },
    "handlers.transactions.commit": {
        "order": 2,
        "token": "tx_peer_token",
        "url": "{{base_url}}/transactions/{{tx_id}}/commit",
        "body": '{"legs": [{"leg_index": 0, "connector_id": "{{tx_connector}}"}]}',
        "tests": [
            _status(200),
            'pm.test("committed", () => pm.expect(pm.response.json().state).to.eql("committed"));',
        ],
    },
    "handlers.transactions.abort": {
        "order": 3,
        "token": "tx_peer_token",
        "url": "{{base_url}}/transactions/{{tx_id}}/abort",
        "body": '{"reason": "cancel"}',
        "tests": [
            _status(200),
            'pm.test("the driver cancelled: the window is free again", () => '
            'pm.expect(pm.response.json().state).to.eql("cancelled"));',
        ],
    },
    "handlers.transactions.prepare_many": {
        "order": 3.5,
        "token": "tx_peer_token",
        "pre": ['pm.environment.set("tx_batch", "tx-batch-" + Date.now());'],
        "body": '{"prepares": [{"tx_id": "{{tx_id}}", "prepare": {"coordinator": "postman-tx", '
        '"booking_id": "bk-{{tx_id}}", "car_id": "example-car-3", "priority_at": "{{tx_start}}", '
        '"legs": [{"leg_index": 0, "station_id": "{{tx_station}}", "connector_id": '
        '"{{tx_connector}}", "start": "{{tx_start}}", "end": "{{tx_end}}"}]}}, '
        '{"tx_id": "{{tx_batch}}", "prepare": {"coordinator": "postman-tx", '
        '"booking_id": "bk-{{tx_batch}}", "car_id": "example-car-4", "priority_at": "{{tx_start}}", '
        '"hold_seconds": 300, "legs": [{"leg_index": 0, "station_id": "{{tx_station}}", '
        '"connector_id": "{{tx_connector}}", "start": "{{tx_start}}", "end": "{{tx_end}}"}]}}]}',
        "tests": [
            _status(200),
            "const v = pm.response.json().votes;",
            'pm.test("each voted on its own: the cancelled one refused, the new one held", () => {',
            "  pm.expect(v.map((x) => x.status)).to.eql([409, 200]);",
            '  pm.expect(v[1].answer.state).to.eql("prepared"); });',
        ],
    },
    "handlers.transactions.decide_many": {
        "order": 4,
        "token": "tx_peer_token",
        "pre": ['pm.environment.set("tx_unknown", "tx-unknown-" + Date.now());'],
        "body": '{"decisions": [{"tx_id": "{{tx_id}}", "decision": "cancel"}, '
        '{"tx_id": "{{tx_unknown}}", "decision": "commit"}, '
        '{"tx_id": "{{tx_batch}}", "decision": "abort"}]}',
        "tests": [
            _status(200),
            "const r = pm.response.json().results;",
            'pm.test("each on its own: a repeated cancel is fine, a commit never heard of 404, '
            'an abort releases what the batch held", () =>',
            "  pm.expect(r.map((x) => x.status)).to.eql([200, 404, 200]));",
            *SEND,
            "// the throwaway station and coordinator leave with the folder",
            'send("DELETE", "/stations/" + pm.environment.get("tx_station"), "admin_token")',
            '  .then((s) => { pm.test("its station removed", () => pm.expect(s.code).to.eql(204));',
            '    return send("DELETE", "/peers/postman-tx", "admin_token"); })',
            '  .then((p) => pm.test("its coordinator removed", () => pm.expect(p.code).to.eql(204)));',
        ],
    },
    "handlers.monitor.stations_map": {
        "tests": [
            _status(200),
            'pm.test("every company of the federation", () => pm.expect('
            'pm.response.json().companies.map((c) => c.company)).to.include.members(["a", "b", "c"]));',
        ]
    },
    "handlers.monitor.stations": {
        "tests": [
            _status(200),
            'pm.test("stations to draw", () => '
            "pm.expect(pm.response.json().stations.length).to.be.above(0));",
        ]
    },
    "handlers.monitor.timeline": {
        "pre": _at("timeline", 0, 0, 1440),
        "url": "{{base_url}}/monitor/timeline?from={{timeline_start}}&to={{timeline_end}}",
        "tests": [
            _status(200),
            'pm.test("this company\'s reservations in the window", () => '
            'pm.expect(pm.response.json().reservations).to.be.an("array"));',
        ],
    },
    "handlers.monitor.federation": {
        "tests": [
            _status(200),
            'pm.test("the peers as last heard from", () => pm.expect('
            'pm.response.json().peers.map((p) => p.company)).to.include.members(["b", "c"]));',
        ]
    },
    "handlers.monitor.reservation_booking": {
        "token": "other_admin_token",
        "url": "{{other_base_url}}/monitor/reservations/{{reservation_id}}/booking",
        "tests": [
            _status(200),
            "const b = pm.response.json();",
            'pm.test("the demo flow\'s first booking, asked of its coordinator", () => {',
            '  pm.expect(b.booking_id).to.eql(pm.environment.get("booking_id"));',
            "  pm.expect(b.legs.length).to.be.above(0); });",
        ],
    },
}


def _insomnia_vars(text: str) -> str:
    return re.sub(r"\{\{(\w+)\}\}", r"{{ _.\1 }}", text)


def _insomnia_script(lines: list[str]) -> str:
    return "\n".join(lines).replace("pm.", "insomnia.")


def demo_flow() -> list[dict]:
    """The demo in order, each request with its assertions and what it hands on."""
    group = {
        "_id": "fld_demo_flow",
        "_type": "request_group",
        "parentId": WORKSPACE,
        "name": "Demo flow",
        "metaSortKey": -1,
        "description": "Runs unattended against any three companies: set base_url_a|b|c, "
        "admin_token_a|b|c and registration_token (docs/api.md).",
    }
    out = [group]
    for n, step in enumerate(demo_steps()):
        request = {
            "_id": step["rid"],
            "_type": "request",
            "parentId": group["_id"],
            "name": step["name"],
            "method": step["method"],
            "url": _insomnia_vars(step["url"]),
            "metaSortKey": n,
            "headers": [],
            "parameters": [],
            "body": {},
            "authentication": (
                {"type": "bearer", "token": "{{ _." + step["token"] + " }}"}
                if step["token"]
                else {}
            ),
            "preRequestScript": _insomnia_script(step["pre"]),
            "afterResponseScript": _insomnia_script(step["tests"]),
        }
        if step["body"] is not None:
            request["body"] = {"mimeType": "application/json", "text": _insomnia_vars(step["body"])}
            request["headers"] = [{"name": "Content-Type", "value": "application/json"}]
        out.append(request)
    return out


def postman(resources: list[dict]) -> dict:
    """The same requests as a Postman v2.1 collection (variables instead of environments)."""

    def convert(text: str) -> str:
        return re.sub(r"\{\{ _\.(\w+) \}\}", r"{{\1}}", text)

    def events(r: dict) -> list[dict]:
        out = []
        for listen, key in (("prerequest", "preRequestScript"), ("test", "afterResponseScript")):
            if r.get(key):
                out.append(
                    {
                        "listen": listen,
                        "script": {
                            "type": "text/javascript",
                            "exec": r[key].replace("insomnia.", "pm.").split("\n"),
                        },
                    }
                )
        return out

    folders = [r for r in resources if r["_type"] == "request_group"]
    items = []
    for folder in sorted(folders, key=lambda f: f["metaSortKey"]):
        requests = sorted(
            (r for r in resources if r["_type"] == "request" and r["parentId"] == folder["_id"]),
            key=lambda r: r["metaSortKey"],
        )
        items.append(
            {
                "name": folder["name"],
                "item": [
                    {
                        "name": r["name"],
                        "event": events(r),
                        "request": {
                            "method": r["method"],
                            "url": convert(r["url"]),
                            "header": [
                                {"key": h["name"], "value": h["value"]} for h in r["headers"]
                            ],
                            **(
                                {
                                    "auth": {
                                        "type": "bearer",
                                        "bearer": [
                                            {
                                                "key": "token",
                                                "value": convert(r["authentication"]["token"]),
                                                "type": "string",
                                            }
                                        ],
                                    }
                                }
                                if r["authentication"]
                                else {}
                            ),
                            **(
                                {
                                    "body": {
                                        "mode": "raw",
                                        "raw": convert(r["body"]["text"]),
                                        "options": {"raw": {"language": "json"}},
                                    }
                                }
                                if r["body"]
                                else {}
                            ),
                            "description": r.get("description", ""),
                        },
                    }
                    for r in requests
                ],
            }
        )
    base = next(r for r in resources if r["_id"] == "env_base")["data"]
    return {
        "info": {
            "name": "Recarga",
            "_postman_id": "recarga-generated",
            "description": "Generated from openapi/openapi.yaml by scripts/insomnia.py",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": items,
        "variable": [{"key": k, "value": v} for k, v in base.items()],
    }


def environments(
    name: str, base_urls: dict[str, str], admin_tokens: dict[str, str], registration_token: str
) -> tuple[dict, dict]:
    """The variables the demo flow needs (docs/api.md), as a Postman environment and as an
    Insomnia export holding one sub-environment of the workspace's base environment."""
    values = {
        "registration_token": registration_token,
        **{f"base_url_{c}": url for c, url in base_urls.items()},
        **{f"admin_token_{c}": tok for c, tok in admin_tokens.items()},
    }
    postman_env = {
        "id": f"recarga-{_ident(name)}",
        "name": name,
        "values": [
            {"key": k, "value": v, "type": "secret" if "token" in k else "default", "enabled": True}
            for k, v in values.items()
        ],
    }
    insomnia_env = {
        "_type": "export",
        "__export_format": 4,
        "__export_source": "recarga.scripts",
        "resources": [
            {
                "_id": f"env_{_ident(name)}",
                "_type": "environment",
                "parentId": "env_base",
                "name": name,
                "data": values,
            }
        ],
    }
    return postman_env, insomnia_env


def _compose_environments() -> tuple[dict, dict]:
    return environments(
        "docker compose (localhost:8081-8083)",
        {c: url for c, (url, _) in COMPANIES.items()},
        {c: tok for c, (_, tok) in COMPANIES.items()},
        "federation-dev",
    )


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    insomnia, postman_doc = build()
    postman_env, insomnia_env = _compose_environments()
    wanted = {
        INSOMNIA: render(insomnia),
        POSTMAN: render(postman_doc),
        COMPOSE_POSTMAN_ENV: render(postman_env),
        COMPOSE_INSOMNIA_ENV: render(insomnia_env),
    }
    if args.check:
        stale = [
            str(p.relative_to(ROOT))
            for p, text in wanted.items()
            if not p.exists() or p.read_text() != text
        ]
        if stale:
            print(
                f"out of date with the spec: {', '.join(stale)}; run make insomnia", file=sys.stderr
            )
            return 1
        return 0
    INSOMNIA.parent.mkdir(exist_ok=True)
    for path, text in wanted.items():
        path.write_text(text)
    print("wrote " + ", ".join(str(p.relative_to(ROOT)) for p in wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
