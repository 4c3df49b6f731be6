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
WORKSPACE = "wrk_recarga"
# docker-compose.yml publishes the companies on these ports, with these development tokens
COMPANIES = {"a": ("http://localhost:8081/api/v1", "admin-a-dev"),
             "b": ("http://localhost:8082/api/v1", "admin-b-dev"),
             "c": ("http://localhost:8083/api/v1", "admin-c-dev")}
PATH_DEFAULTS = {"station_id": "a-recife-1", "booking_id": "bk-replace-me", "tx_id": "tx-replace-me"}


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


def _response(request_id: str, path: str) -> str:
    return f"{{% response 'body', '{request_id}', '{path}', 'never', 60 %}}"


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
                       "body": {}}
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


def demo_flow() -> list[dict]:
    """The demo in order: peers, stations, plan, book, a conflict, an alternative, cancel."""
    group = {"_id": "fld_demo_flow", "_type": "request_group", "parentId": WORKSPACE,
             "name": "Demo flow (run in order)", "metaSortKey": -1,
             "description": "Against docker-compose.yml's three companies."}
    steps = [
        ("req_demo_register_a_b", "1. Register company A with B (rotates their tokens)", "POST",
         "{{ _.base_url_a }}/peers", "{{ _.admin_token_a }}", {"url": "http://company-b:8080"}),
        ("req_demo_peers", "2. A's peers, probed now", "GET", "{{ _.base_url_a }}/peers",
         "{{ _.admin_token_a }}", None),
        ("req_demo_stations", "3. Stations of company C at Aracaju", "GET",
         "{{ _.base_url_c }}/stations?place=aracaju", None, None),
        ("req_demo_plan", "4. Plan João Pessoa → Feira de Santana (at B, over every company)",
         "POST", "{{ _.base_url_b }}/plans", "{{ _.admin_token_b }}",
         {"origin": "joao-pessoa", "destination": "feira-de-santana",
          "departure": "2030-01-15T08:00:00Z", "vehicle": {"model_id": "byd-dolphin", "soc": 0.8},
          "options": 3}),
        ("req_demo_book", "5. Book the first option (at B; 2PC with A and C)", "POST",
         "{{ _.base_url_b }}/bookings", "{{ _.admin_token_b }}",
         '{"car_id": "insomnia-car-1", "legs": '
         + _response("req_demo_plan", "$.options[0].legs") + "}"),
        ("req_demo_conflict", "6. Another car wants the same windows (hold mode): 409 + alternatives",
         "POST", "{{ _.base_url_a }}/bookings", "{{ _.admin_token_a }}",
         '{"car_id": "insomnia-car-2", "mode": "hold", "legs": '
         + _response("req_demo_plan", "$.options[0].legs") + "}"),
        ("req_demo_choose", "7. Take the first alternative for the first refused leg", "PATCH",
         "{{ _.base_url_a }}/bookings/" + _response("req_demo_conflict", "$.booking_id"),
         "{{ _.admin_token_a }}",
         '{"legs": [{"leg_index": ' + _response("req_demo_conflict", "$.conflicts[0].leg_index")
         + "".join(f', "{k}": "' + _response("req_demo_conflict",
                                                f"$.conflicts[0].alternatives[0].{k}") + '"'
                   for k in ("company", "station_id", "connector_id", "start", "end"))
         + "}]}"),
        ("req_demo_cancel", "8. Cancel the first booking (every leg, atomically)", "DELETE",
         "{{ _.base_url_b }}/bookings/" + _response("req_demo_book", "$.booking_id"),
         "{{ _.admin_token_b }}", None),
        ("req_demo_get", "9. The cancelled booking, leg by leg", "GET",
         "{{ _.base_url_b }}/bookings/" + _response("req_demo_book", "$.booking_id"),
         "{{ _.admin_token_b }}", None),
    ]
    out = [group]
    for n, (rid, name, method, url, token, body) in enumerate(steps):
        request = {"_id": rid, "_type": "request", "parentId": group["_id"], "name": name,
                   "method": method, "url": url, "metaSortKey": n, "headers": [],
                   "parameters": [], "body": {},
                   "authentication": {"type": "bearer", "token": token} if token else {}}
        if body is not None:
            text = body if isinstance(body, str) else json.dumps(body, indent=2,
                                                                   ensure_ascii=False)
            request["body"] = {"mimeType": "application/json", "text": text}
            request["headers"] = [{"name": "Content-Type", "value": "application/json"}]
        out.append(request)
    return out


def postman(resources: list[dict]) -> dict:
    """The same requests as a Postman v2.1 collection (variables instead of environments)."""
    def convert(text: str) -> str:
        text = re.sub(r"\{\{ _\.(\w+) \}\}", r"{{\1}}", text)
        return re.sub(r"\{% response [^%]*%\}", "{{from_previous_response}}", text)

    folders = [r for r in resources if r["_type"] == "request_group"]
    items = []
    for folder in sorted(folders, key=lambda f: f["metaSortKey"]):
        requests = sorted((r for r in resources if r["_type"] == "request"
                           and r["parentId"] == folder["_id"]), key=lambda r: r["metaSortKey"])
        items.append({"name": folder["name"], "item": [{
            "name": r["name"],
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


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    insomnia, postman_doc = build()
    wanted = {INSOMNIA: render(insomnia), POSTMAN: render(postman_doc)}
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
    print(f"wrote {INSOMNIA.relative_to(ROOT)} and {POSTMAN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
