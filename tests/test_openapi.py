"""GET /openapi.json: a valid OpenAPI 3.1 document of the whole contract, built from the
schemas the handlers use, and true to the reference page's examples."""
import inspect
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from marshmallow import Schema
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

import schemas.collections
import schemas.common
import schemas.datasets
import schemas.namespaces
import schemas.nodes
import schemas.projects
import schemas.trash
import schemas.versions
from schemas.common import NAME_REGEX, check_no_control, is_valid_name
from service.openapi import NO_CONTROL_PATTERN
from tests.support.api import queries

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
PROJECT = "/namespaces/{slug}/projects/{projectSlug}"
BODY = {400, 413, 415}
RETRIED = {409, 422}  # every POST: an Idempotency-Key still running, or used for another request
CACHED = {304}  # single-resource GETs: If-None-Match
CHECKED = {412}  # PATCH, DELETE and C5: If-Match
VERSIONS = f"{PROJECT}/datasets/{{name}}/versions"
TRASH = f"{PROJECT}/trash"

# Contract §5: every operation, its success status, and its error statuses (401 wherever a token
# is needed, 400/413/415 wherever a body is read, 503 wherever the database is).
CONTRACT = {
    "N1": ("post", "/namespaces", 201, {401, 403, 409, 503} | BODY | RETRIED),
    "N2": ("get", "/namespaces", 200, {400, 401, 503}),
    "N3": ("get", "/namespaces/{slug}", 200, {401, 404, 503} | CACHED),
    "P1": ("post", "/namespaces/{slug}/projects", 201, {401, 404, 409, 503} | BODY | RETRIED),
    "P2": ("get", "/namespaces/{slug}/projects", 200, {400, 401, 404, 503}),
    "P3": ("get", PROJECT, 200, {401, 404, 503} | CACHED),
    "D1": ("post", f"{PROJECT}/datasets", 201, {401, 404, 409, 503} | BODY | RETRIED),
    "D2": ("get", f"{PROJECT}/datasets", 200, {400, 401, 404, 503}),
    "D3": ("get", f"{PROJECT}/datasets/{{name}}", 200, {401, 404, 503} | CACHED),
    "D4": ("patch", f"{PROJECT}/datasets/{{name}}", 200, {401, 404, 409, 503} | BODY | CHECKED),
    "D5": ("delete", f"{PROJECT}/datasets/{{name}}", 200, {401, 404, 503} | CHECKED),
    "C1": ("post", f"{PROJECT}/collections", 201, {401, 404, 409, 503} | BODY | RETRIED),
    "C2": ("get", f"{PROJECT}/collections", 200, {400, 401, 404, 503}),
    "C3": ("get", f"{PROJECT}/collections/{{name}}", 200, {401, 404, 503} | CACHED),
    "C4": ("patch", f"{PROJECT}/collections/{{name}}", 200, {401, 404, 409, 503} | BODY | CHECKED),
    "C5": ("post", f"{PROJECT}/collections/{{name}}/members", 200, {401, 404, 503} | BODY | RETRIED | CHECKED),
    "C6": ("delete", f"{PROJECT}/collections/{{name}}", 200, {401, 404, 503} | CHECKED),
    "M1": ("get", f"{PROJECT}/collections/{{name}}/members", 200, {400, 401, 404, 503}),
    "R1": ("get", f"{PROJECT}/nodes/{{nodeId}}/collections", 200, {401, 404, 503}),
    "R2": ("post", f"{PROJECT}/nodes/lookup", 200, {401, 404, 503} | BODY | RETRIED),
    "V1": ("post", f"{VERSIONS}", 201, {401, 404, 503} | BODY | RETRIED),
    "V2": ("get", f"{VERSIONS}", 200, {400, 401, 404, 503}),
    "V3": ("get", f"{VERSIONS}/{{number}}", 200, {401, 404, 503} | CACHED),
    "V4": ("get", f"{VERSIONS}/{{fromNumber}}/diff/{{toNumber}}", 200, {400, 401, 404, 503}),
    "T1": ("get", TRASH, 200, {400, 401, 404, 503}),
    "T2": ("post", f"{TRASH}/datasets/{{datasetId}}/restore", 200, {401, 404, 409, 503} | BODY | RETRIED),
    "T3": ("post", f"{TRASH}/collections/{{collectionId}}/restore", 200, {401, 404, 409, 503} | BODY | RETRIED),
    "T4 datasets": ("delete", f"{TRASH}/datasets/{{datasetId}}", 200, {401, 404, 503}),
    "T4 collections": ("delete", f"{TRASH}/collections/{{collectionId}}", 200, {401, 404, 503}),
    "H1": ("get", "/healthz", 200, set()),
    "H2": ("get", "/readyz", 200, {503}),
    "O1": ("get", "/openapi.json", 200, set()),
}
UNAUTHENTICATED = {"H1", "H2", "O1"}
# Contract §5 and §8: each endpoint's roundtrip budget, in all and effective.
BUDGETS = {"N1": (1, 1), "N2": (2, 1), "N3": (1, 1), "P1": (2, 2), "P2": (3, 2), "P3": (2, 2), "D1": (3, 3),
           "D2": (4, 3), "D3": (4, 4), "D4": (4, 4), "D5": (4, 4), "C1": (6, 6), "C2": (4, 3), "C3": (4, 4),
           "C4": (5, 5), "C5": (6, 6), "C6": (3, 3), "H1": (0, 0), "H2": (1, 1), "O1": (0, 0), "V1": (5, 5),
           "V2": (4, 3), "V3": (5, 5), "V4": (6, 6), "T1": (4, 3), "T2": (6, 6), "T3": (6, 6),
           "T4 datasets": (5, 5), "T4 collections": (5, 5), "R1": (3, 3), "R2": (3, 3),
           "M1": (4, 4)}


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _contract_id(op, path):
    """The contract ID of an operation, read from its summary; T4, which is two operations, with
    what it deletes ("T4 datasets")."""
    contract_id = op["summary"].split(" ")[0]
    return f"T4 {path.split('/trash/')[1].split('/')[0]}" if contract_id == "T4" else contract_id


def _operations(document):
    """{contract id: (method, path, operation)}."""
    return {_contract_id(op, path): (method, path, op)
            for path, item in document["paths"].items() for method, op in item.items()}


def _marshmallow_schemas():
    """{class name: schema class} of every marshmallow schema the service defines."""
    found = {}
    for module in (schemas.common, schemas.namespaces, schemas.projects, schemas.datasets, schemas.collections,
                   schemas.versions, schemas.trash, schemas.nodes):
        for value in vars(module).values():
            if isinstance(value, Schema):
                value = type(value)
            if inspect.isclass(value) and issubclass(value, Schema) and value is not Schema:
                found[value.__name__] = value
    return found


def _keys(schema_class):
    return {field.data_key or name for name, field in schema_class().fields.items()}


def _resolve(document, schema):
    """A JSON Schema validator for `schema`, its $refs resolved in the document's components."""
    return Draft202012Validator({**schema, "components": document["components"]})


def test_the_document_is_served_without_a_token_or_a_query(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"] == "3.1.0"
    assert queries(response) == 0


def test_the_document_is_valid_openapi_3_1(document):
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_operation_of_the_contract_and_no_other(document):
    operations = _operations(document)
    assert {i: (method, path) for i, (method, path, _) in operations.items()} == \
        {i: (method, path) for i, (method, path, _, _) in CONTRACT.items()}


def _route_key(method, path):
    """(method, path with every parameter as <>), alike for a Flask rule and an OpenAPI path."""
    return method.lower(), re.sub(r"<[^>]+>|\{\w+\}", "<>", path)


def test_every_route_of_the_app_is_documented(app, document):
    routes = {_route_key(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == {_route_key(method, path) for path, item in document["paths"].items() for method in item}


def test_every_operation_states_its_roundtrip_budget(document):
    stated = {cid: (op["x-roundtrip-budget"]["total"], op["x-roundtrip-budget"]["effective"])
              for cid, (_, _, op) in _operations(document).items()}
    assert stated == BUDGETS


def test_every_status_of_the_contract_with_its_body(document):
    for contract_id, (_, _, op) in _operations(document).items():
        _, _, success, errors = CONTRACT[contract_id]
        assert set(map(int, op["responses"])) == {success} | errors, contract_id
        assert "application/json" in op["responses"][str(success)]["content"], contract_id
        for status in errors - CACHED:  # a 304 has no body
            content = op["responses"][str(status)]["content"]
            assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, \
                (contract_id, status)


def test_a_304_has_no_body_and_the_etag(document):
    for contract_id, (_, _, op) in _operations(document).items():
        if "304" in op["responses"]:
            assert set(op["responses"]["304"]) == {"description", "headers"} and "ETag" in op["responses"]["304"][
                "headers"], contract_id
            assert "ETag" in op["responses"]["200"]["headers"], contract_id


def test_the_error_shape_is_the_one_the_service_answers(client, document):
    body = client.post("/namespaces", json={}).get_json()  # 401
    _resolve(document, {"$ref": "#/components/schemas/Error"}).validate(body)
    assert set(document["components"]["schemas"]["ErrorDetail"]["properties"]) == {"code", "message", "fields"}


def test_bearer_security_everywhere_but_health_and_this_document(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == \
        {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert document["security"] == [{"bearerAuth": []}]
    for contract_id, (_, _, op) in _operations(document).items():
        assert ("security" in op and op["security"] == []) == (contract_id in UNAUTHENTICATED), contract_id


def test_component_schemas_are_the_marshmallow_schemas(document):
    """Each component has exactly the fields (by their JSON names) of the marshmallow schema
    of that name, and the required ones; no component is written by hand."""
    marshmallow = _marshmallow_schemas()
    components = document["components"]["schemas"]
    assert set(components) <= set(marshmallow)
    for name, component in components.items():
        schema = marshmallow[name]()
        assert set(component["properties"]) == _keys(marshmallow[name]), name
        required = {field.data_key or key for key, field in schema.fields.items() if field.required}
        assert set(component.get("required", [])) <= required, name
        assert component["additionalProperties"] is False, name


def _example_url(path, op):
    return re.sub(r"\{(\w+)\}",
                  lambda m: str(next(p["example"] for p in op["parameters"] if p["name"] == m.group(1))), path)


def test_bodies_and_query_arguments_are_those_the_handlers_load(api, document):
    """What the document says an operation reads is what its handler loads: a body with a
    field the document does not list is refused naming that field, and the fields the
    document requires are the ones reported missing; likewise for query arguments."""
    checked = 0
    for contract_id, (method, path, op) in _operations(document).items():
        url = _example_url(path, op)
        if "requestBody" in op:
            schema = _resolve(document, op["requestBody"]["content"]["application/json"]["schema"]).schema
            component = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            response = api.request(method.upper(), url, json={"notDocumented": 1})
            assert response.status_code == 400, (contract_id, response.get_json())
            fields = response.get_json()["error"]["fields"]
            missing = {name for name in fields if name not in ("notDocumented", "_schema")}
            assert "notDocumented" in fields and missing == set(component.get("required", [])), (contract_id, fields)
            checked += 1
        query = {p["name"] for p in op["parameters"] if p["in"] == "query"}
        if query:
            response = api.request(method.upper(), url, query_string={"notDocumented": "1"})
            assert response.status_code == 400 and set(response.get_json()["error"]["fields"]) == {"notDocumented"}
            for name in query:  # every documented argument is read (and checked)
                response = api.request(method.upper(), url, query_string={name: "\x00"})
                assert response.status_code == 400, (contract_id, name)
                assert set(response.get_json()["error"]["fields"]) == {name}, (contract_id, name)
            checked += 1
    # 11 bodies (N1, P1, D1, D4, C1, C4, C5, V1, T2, T3, R2), 7 lists (N2, P2, D2, C2, V2, T1, M1)
    assert checked == 18


def _reference_examples():
    """(contract id, status, example) of every JSON response example in docs/api.md."""
    text = REFERENCE.read_text(encoding="utf-8")
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        contract_id = section.split(maxsplit=1)[0]
        for status, example in re.findall(r"^Response (\d{3})[^\n]*\n\n```json\n(.*?)\n```", section, re.M | re.S):
            yield contract_id, status, json.loads(example)


def test_the_reference_examples_match_the_document(document):
    examples = list(_reference_examples())
    operations = _operations(document)
    assert {contract_id for contract_id, _, _ in examples} == {i.split(" ")[0] for i in CONTRACT} - {"O1"}
    for contract_id, status, example in examples:
        for _, _, op in [operations[i] for i in operations if i.split(" ")[0] == contract_id]:
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            _resolve(document, schema).validate(example)


NAME_EDGES = ["a", "a b", "x" * 128, "x" * 129, "", " a", "a ", "a\u00a0", "\u3000a", "a/b", "a\x00", "a\x9f",
              "\u202ea", "a\u2069b", "é", "名前", "\U0001f600", "\ufeffa", "a\u200b", "..", "%2F"]


@pytest.mark.parametrize("value", NAME_EDGES)
def test_the_documented_name_pattern_is_the_name_rule(value):
    assert bool(re.fullmatch(NAME_REGEX, value)) == is_valid_name(value)


@given(st.text(max_size=140))
def test_the_documented_name_pattern_is_the_name_rule_on_any_text(value):
    assert bool(re.fullmatch(NAME_REGEX, value)) == is_valid_name(value)


@given(st.text(max_size=20))
def test_the_documented_pattern_of_tags_and_node_ids_is_their_rule(value):
    try:
        check_no_control(value)
        valid = True
    except Exception:
        valid = False
    assert bool(re.fullmatch(NO_CONTROL_PATTERN, value)) == valid
