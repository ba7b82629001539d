"""O1: the OpenAPI 3.1 document of the API, served at GET /openapi.json without a token.

It is built, not written: the paths and their parameters come from the application's own
routes, and every body, query and response schema is a marshmallow schema of schemas/ (the
very instances the handlers load bodies and query arguments with), converted by apispec.
What the schemas cannot say by themselves (the rules their validator functions enforce, the
statuses every endpoint shares) is added here; what each endpoint is, reads and answers is
recorded on its handler (service/contract.py)."""
import re
from importlib.metadata import version

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app

from schemas.common import (
    NAME_REGEX,
    Error,
    Metadata,
    Name,
    QueryBoolean,
    QueryInteger,
    Text,
    Timestamp,
    check_name,
    check_no_control,
)

from . import idempotency
from .contract import operation, operation_of
from .converters import IdConverter, NameConverter, NodeIdConverter, SlugConverter, VersionNumberConverter

bp = Blueprint("openapi", __name__)

# The field rules of contract §2 that validator functions enforce, as JSON Schema patterns
# (Python and ECMA-262 alike). tests/test_openapi.py checks them against the validators.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
NAME_PATTERN = f"^{NAME_REGEX}$"
NO_CONTROL_PATTERN = rf"^[^{_CONTROL}]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"
MAX_QUERY_INTEGER = 10 ** 18 - 1  # QueryInteger takes at most 18 digits

_ERROR_SUMMARIES = {
    400: "A field or query argument breaks a rule (`validation_error`), or the body is not a JSON object "
         "(`invalid_json`)",
    401: "The bearer token is missing, malformed, badly signed, expired, not yet valid, or lacks a claim",
    403: "The token may not do this",
    404: "Not found",
    409: "The name or slug is taken by a live row",
    413: "The body is larger than the configured maximum",
    415: "The body is not sent as JSON (Content-Type: application/json)",
    503: "The database cannot be reached; the request had no effect",
}


# The example of each path parameter (a dataset's or a collection's name, by resource).
PATH_EXAMPLES = {"slug": "acme", "projectSlug": "vision", "datasets": "training-v2", "versions": "training-v2",
                 "collections": "front-camera-clips", "number": 3, "fromNumber": "2", "toNumber": "current",
                 "datasetId": "Zk3q9X1mYb7LwT0a", "collectionId": "c8Rv2NqL0xWm4YtA", "nodeId": "clip-001"}
# Path parameters that a handler reads itself (a 400 when malformed), as the document gives them.
PATH_SCHEMAS = {"fromNumber": {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"},
                "toNumber": {"type": "string", "pattern": "^(?:[1-9][0-9]{0,8}|current)$"}}


def _field_rules(converter, field, ret, **kwargs):
    """An apispec attribute function: what our own field types and validator functions enforce."""
    if check_name in field.validators:
        return {"minLength": 1, "maxLength": 128, "pattern": NAME_PATTERN}
    if check_no_control in field.validators:
        return {"pattern": NO_CONTROL_PATTERN}
    if isinstance(field, Text) and "pattern" not in ret:
        return {"pattern": NO_NUL_PATTERN}
    if isinstance(field, QueryInteger):
        return {"maximum": min(ret.get("maximum", MAX_QUERY_INTEGER), MAX_QUERY_INTEGER)}
    if isinstance(field, QueryBoolean):
        return {"enum": ["true", "false"]}
    if isinstance(field, Metadata):
        # An object with any properties: what client generators understand. A recursive schema
        # of every JSON value (with no U+0000 in keys) made openapi-python-client drop every
        # dataset operation; the rules JSON Schema cannot say simply are in the description.
        return {"additionalProperties": True,
                "description": f"Any JSON object: at most {Metadata.MAX_BYTES} bytes once serialized, nesting "
                               f"depth at most {Metadata.MAX_DEPTH}, no U+0000 and no lone surrogate in any key or "
                               "string."}
    return {}


def _camel(name):
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _path(rule):
    """/namespaces/<slug:slug>/projects/<slug:project_slug> as /namespaces/{slug}/projects/{projectSlug}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "{" + _camel(m.group(1)) + "}", rule.rule)


def _path_parameters(rule, converter):
    parameters = []
    for argument, url_converter in rule._converters.items():
        if isinstance(url_converter, SlugConverter):
            schema = {"type": "string", "pattern": f"^{SlugConverter.regex}$"}
        elif isinstance(url_converter, NameConverter):
            schema = converter.field2property(Name())
        elif isinstance(url_converter, IdConverter):
            schema = {"type": "string", "pattern": f"^{IdConverter.regex}$"}
        elif isinstance(url_converter, NodeIdConverter):
            schema = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": NO_CONTROL_PATTERN,
                      "description": "A node ID; its `/` written as is or as %2F"}
        elif isinstance(url_converter, VersionNumberConverter):
            schema = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
        elif _camel(argument) in PATH_SCHEMAS:
            schema = PATH_SCHEMAS[_camel(argument)]
        else:  # a route with a converter this document does not know
            raise TypeError(f"{rule.rule}: no parameter schema for {type(url_converter).__name__}")
        name = _camel(argument)
        example = PATH_EXAMPLES.get(name) or PATH_EXAMPLES[rule.endpoint.split(".")[1]]
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema, "example": example})
    return parameters


# Every POST of the API honours Idempotency-Key (service/idempotency.py).
_IDEMPOTENCY_KEY = {
    "in": "header", "name": idempotency.HEADER, "required": False,
    "description": "Sent again with the same request, the stored answer is replayed (`Idempotent-Replayed: "
                   "true`) and nothing is written; kept 24 hours for the token's subject.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
_IDEMPOTENCY_ERRORS = {
    409: "Taken by a live row, or a request with this Idempotency-Key is still running",
    422: "This Idempotency-Key was used for another request (`idempotency_key_reused`)",
}
# Conditional requests (service/etags.py).
_ETAG = {"ETag": {"description": "A strong tag of the representation", "schema": {"type": "string"}}}
_CONDITIONS = {
    "read": {"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
             "description": "The ETag the caller holds: a 304 without a body while it is current"},
    "write": {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
              "description": "The ETag of the representation the change is meant for: a 412 if it is not current"},
}
_REPLAYED = {"Idempotent-Replayed": {"description": "`true` on an answer replayed for an Idempotency-Key",
                                     "schema": {"type": "string", "enum": ["true"]}}}


def _responses(endpoint, op, method):
    idempotent = method == "POST" and endpoint.startswith("api.")
    ok = {"description": "Success", "headers": {}}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": op.response}}
    if idempotent:
        ok["headers"].update(_REPLAYED)
    if op.conditional == "read" or (op.conditional == "write" and method != "DELETE"):
        ok["headers"].update(_ETAG)
    if not ok["headers"]:
        del ok["headers"]
    errors = {**op.errors, **(_IDEMPOTENCY_ERRORS if idempotent else {})}
    if op.conditional == "write":
        errors[412] = "If-Match does not name the current representation (`precondition_failed`); nothing changed"
    if endpoint.startswith("api."):
        errors.update({401: _ERROR_SUMMARIES[401], 503: _ERROR_SUMMARIES[503]})
    if op.body is not None or op.query is not None:
        errors[400] = _ERROR_SUMMARIES[400]
    if op.body is not None:
        errors.update({413: _ERROR_SUMMARIES[413], 415: _ERROR_SUMMARIES[415]})
    responses = {str(op.status): ok}
    if op.conditional == "read":
        responses["304"] = {"description": "If-None-Match names the current representation", "headers": _ETAG}
    for code in sorted(errors):
        responses[str(code)] = {"description": errors[code],
                                "content": {"application/json": {"schema": Error}}}
    return responses


def build(app):
    """The document for `app`: every API route, health route and this one."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Dataset registry", version=version("dataset-registry"), openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": "Namespaces › projects › datasets and collections of node IDs. "
                             "Every endpoint but /healthz, /readyz and /openapi.json needs a bearer JWT."},
        security=[{"bearerAuth": []}],
    )
    converter = plugin.converter
    converter.map_to_openapi_type(Timestamp, "string", "date-time")
    converter.map_to_openapi_type(Metadata, "object", None)
    converter.map_to_openapi_type(QueryBoolean, "string", None)
    converter.add_attribute_function(_field_rules)
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=Error)

    paths = {}
    for rule in app.url_map.iter_rules():
        op = operation_of(app.view_functions[rule.endpoint])
        if op is None:
            continue
        (method,) = rule.methods - {"HEAD", "OPTIONS"}
        entry = {
            "operationId": _camel(rule.endpoint.rsplit(".", 1)[-1]),
            "summary": f"{op.id} · {op.summary}",
            "tags": [rule.endpoint.split(".")[-2]],
            "parameters": _path_parameters(rule, converter),
            "responses": _responses(rule.endpoint, op, method),
        }
        if op.query is not None:
            entry["parameters"].append({"in": "query", "schema": op.query})
        if method == "POST" and rule.endpoint.startswith("api."):
            entry["parameters"].append(_IDEMPOTENCY_KEY)
        if op.conditional:
            entry["parameters"].append(_CONDITIONS[op.conditional])
        if op.body is not None:
            entry["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": op.body}}}
        if not rule.endpoint.startswith("api."):
            entry["security"] = []
        # The contract's roundtrip budget (docs/api.md gives what each response measures).
        entry["x-roundtrip-budget"] = {"total": op.budget, "effective": op.effective}
        paths.setdefault(_path(rule), {})[method.lower()] = entry
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
@operation("O1", "This OpenAPI document", {"type": "object"}, budget=0)
def openapi_document():
    """The document, built once per application (no database work)."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build(current_app)
    return current_app.extensions["openapi"]
