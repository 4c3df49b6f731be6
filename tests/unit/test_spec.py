"""The contract: openapi/openapi.yaml is valid, complete and bound to handlers."""

import functools
import importlib
import re

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from network import load_reference
from recarga.app import SPEC
from service.company import inputs, validation

SPEC_RESOURCES = {  # SPEC §5: names fixed
    ("get", "/health"),
    ("get", "/network"),
    ("get", "/stations"),
    ("post", "/stations"),
    ("get", "/stations/{station_id}"),
    ("get", "/stations/{station_id}/availability"),
    ("post", "/plans"),
    ("post", "/bookings"),
    ("get", "/bookings/{booking_id}"),
    ("delete", "/bookings/{booking_id}"),
    ("get", "/peers"),
    ("post", "/peers"),
    ("post", "/transactions/{tx_id}/prepare"),
    ("post", "/transactions/{tx_id}/commit"),
    ("post", "/transactions/{tx_id}/abort"),
    ("get", "/transactions/{tx_id}"),
}


def load_spec() -> dict:
    with open(SPEC, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, op


def test_spec_is_valid_openapi():
    spec_dict, _ = read_from_filename(str(SPEC))
    validate(spec_dict)


def test_every_spec_resource_is_present():
    present = {(m, p) for m, p, _ in operations(load_spec())}
    assert SPEC_RESOURCES <= present


def test_every_operation_has_an_id_bound_to_a_handler_and_documents_errors():
    for method, path, op in operations(load_spec()):
        module, func = op["operationId"].rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), func)), op["operationId"]
        takes_input = op.get("parameters") or op.get("requestBody") or "{" in path
        if takes_input:
            assert "400" in op["responses"], f"{method} {path} documents no 400"
        if op.get("security"):
            assert "401" in op["responses"], f"{method} {path} documents no 401"


def test_place_and_vehicle_enums_match_the_reference_data():
    schemas = load_spec()["components"]["schemas"]
    ref = load_reference()
    assert schemas["PlaceId"]["enum"] == list(ref.network.places)
    assert schemas["VehicleModelId"]["enum"] == list(ref.vehicles)


def test_app_starts_with_strict_validation(tmp_path):
    from tests.support import sqlite_company

    with sqlite_company(tmp_path) as (app, _):
        client = app.test_client()
        assert client.get("/api/v1/health").status_code == 200
        # strict validation: an undeclared query parameter is refused
        bad = client.get("/api/v1/stations", params={"colour": "blue"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")


def _walk(node, path=""):
    """Every schema-like dict below ``node`` with its path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _patterns(spec) -> set[str]:
    return {node["pattern"] for _, node in _walk(spec) if isinstance(node.get("pattern"), str)}


@functools.cache
def _contract_patterns() -> list[str]:  # read once, not once per example
    return sorted(_patterns(load_spec()))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_pattern_of_the_contract_takes_a_trailing_newline_or_carriage_return(data):
    """A JSON Schema pattern is ECMA-262 (``$`` is the end); Python's ``re`` also lets ``$``
    match before a final newline. Every pattern, read the way the service reads it, refuses
    what it must refuse."""
    for pattern in _contract_patterns():
        value = data.draw(
            st.from_regex(pattern, fullmatch=True).filter(
                lambda s: "\n" not in s and "\r" not in s
            ),
            label=pattern,
        )
        assert validation.matches(pattern, value), (pattern, value)
        for bad in (value + "\n", value + "\r", value + "\r\n", "\n" + value):
            assert not validation.matches(pattern, bad), (pattern, bad)


def test_the_car_id_rule_is_the_contract_s_one():
    """One car-id rule: the contract's ``CarId``, used by every body that carries a car id;
    the service's copy (MQTT topics and payloads) is the same pattern."""
    spec = load_spec()
    assert spec["components"]["schemas"]["CarId"]["pattern"] == inputs.CAR_ID
    schemas = spec["components"]["schemas"]
    carrying = [
        name
        for name, schema in schemas.items()
        if "car_id" in schema.get("properties", {}) and "pattern" in schema["properties"]["car_id"]
    ]
    assert carrying == [], f"car_id patterns written again in {carrying}: use CarId"


def test_python_re_alone_would_take_a_trailing_newline():
    """Why ``service.company.validation`` exists: the same pattern, two readings."""
    pattern = "^[A-Za-z0-9_.-]{1,64}$"
    assert re.search(pattern, "car-1\n") and not validation.matches(pattern, "car-1\n")


def test_every_number_a_request_can_carry_is_bounded():
    """Numbers bounded: each integer or number in a parameter or a request body has a minimum
    and a maximum (a JSON reader refuses only what no schema could take: service.company.inputs)."""
    spec = load_spec()
    components = spec["components"]

    def resolve(node, seen=()):
        if isinstance(node, dict) and "$ref" in node:
            name = node["$ref"].split("/")[-1]
            kind = node["$ref"].split("/")[-2]
            return (components[kind][name], (*seen, name)) if name not in seen else ({}, seen)
        return node, seen

    unbounded = []

    def check(node, where, seen=()):
        node, seen = resolve(node, seen)
        if isinstance(node, dict):
            kinds = node.get("type")
            kinds = set(kinds) if isinstance(kinds, list) else {kinds}
            if (
                kinds & {"integer", "number"}
                and "enum" not in node
                and not ("minimum" in node and "maximum" in node)
            ):
                unbounded.append(where)
            for key, value in node.items():
                if key not in ("example", "examples", "default"):
                    check(value, f"{where}/{key}", seen)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                check(value, f"{where}[{i}]", seen)

    for method, path, op in operations(spec):
        for i, param in enumerate(op.get("parameters", [])):
            check(param, f"{method} {path} parameter {i}")
        if "requestBody" in op:
            check(op["requestBody"], f"{method} {path} body")
    assert unbounded == []
