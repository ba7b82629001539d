"""O1: the OpenAPI 3.1 document of the API, served at GET /openapi.json without a token.

It is built, not written: the paths and their parameters come from the application's own
routes, and every body, query and response schema is a marshmallow schema of schemas/ (the
very instances the handlers load bodies and query arguments with), converted by apispec.
What the schemas cannot say by themselves (the rules their validator functions enforce, the
statuses of each endpoint) is added here, next to the contract's endpoint ids."""
import re
from importlib.metadata import version

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app

from schemas.collections import (
    CollectionPage, collection_create_schema, collection_detail_schema, collection_list_args_schema,
    collection_schema, collection_update_schema, members_change_schema,
)
from schemas.common import (
    NAME_REGEX, Error, Metadata, Name, PageArgs, QueryBoolean, QueryInteger, Success, Text, Timestamp, check_name,
    check_no_control,
)
from schemas.datasets import (
    DatasetPage, dataset_create_schema, dataset_detail_schema, dataset_list_args_schema, dataset_schema,
    dataset_update_schema,
)
from schemas.namespaces import NamespacePage, namespace_create_schema, namespace_schema
from schemas.projects import ProjectPage, project_create_schema, project_schema

from . import NameConverter, SlugConverter

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


def _op(contract_id, summary, ok, *, body=None, query=None, errors=None, status=200):
    return {"id": contract_id, "summary": summary, "ok": (status, ok), "body": body, "query": query,
            "errors": errors or {}}


_NS404 = {404: "The namespace does not exist"}
_PROJECT404 = {404: "The namespace or project does not exist"}
_DATASET404 = {404: "The namespace, project or dataset does not exist"}
_COLLECTION404 = {404: "The namespace, project or collection does not exist"}

# What each handler (by Flask endpoint) reads and answers, with its contract-specific errors.
# 400, 401, 413, 415 and 503 are added where they apply (see _responses).
OPERATIONS = {
    "api.namespaces.create_namespace": _op(
        "N1", "Create a namespace", namespace_schema, status=201, body=namespace_create_schema,
        errors={403: "Only a token for every namespace (\"*\") may create a namespace",
                409: "The slug is taken"}),
    "api.namespaces.list_namespaces": _op(
        "N2", "List the namespaces the token may act in", NamespacePage, query=PageArgs()),
    "api.namespaces.get_namespace": _op("N3", "Get a namespace", namespace_schema, errors=_NS404),
    "api.projects.create_project": _op(
        "P1", "Create a project", project_schema, status=201, body=project_create_schema,
        errors={**_NS404, 409: "The slug is taken in this namespace"}),
    "api.projects.list_projects": _op(
        "P2", "List the projects of a namespace", ProjectPage, query=PageArgs(), errors=_NS404),
    "api.projects.get_project": _op("P3", "Get a project", project_schema, errors=_PROJECT404),
    "api.datasets.create_dataset": _op(
        "D1", "Create a dataset", dataset_schema, status=201, body=dataset_create_schema,
        errors={**_PROJECT404, 409: "A live dataset of the project has this name"}),
    "api.datasets.list_datasets": _op(
        "D2", "List the datasets of a project (those carrying every `tag` given)", DatasetPage,
        query=dataset_list_args_schema, errors=_PROJECT404),
    "api.datasets.get_dataset": _op(
        "D3", "Get a dataset with its collections and their members", dataset_detail_schema, errors=_DATASET404),
    "api.datasets.update_dataset": _op(
        "D4", "Update a dataset: only the fields present change", dataset_schema, body=dataset_update_schema,
        errors={**_DATASET404, 409: "Another live dataset of the project has the new name"}),
    "api.datasets.delete_dataset": _op(
        "D5", "Soft-delete a dataset; its collections become standalone", Success, errors=_DATASET404),
    "api.collections.create_collection": _op(
        "C1", "Create a collection, standalone or in a dataset, with its first members", collection_schema,
        status=201, body=collection_create_schema,
        errors={404: "The namespace, project or named dataset does not exist",
                409: "A live collection of the project has this name"}),
    "api.collections.list_collections": _op(
        "C2", "List the collections of a project: all, those of one `dataset`, or the `standalone=true` "
              "ones (giving both is a 400)", CollectionPage,
        query=collection_list_args_schema,
        errors={404: "The namespace, project or named dataset does not exist"}),
    "api.collections.get_collection": _op(
        "C3", "Get a collection with its members", collection_detail_schema, errors=_COLLECTION404),
    "api.collections.update_collection": _op(
        "C4", "Rename a collection or move it (`dataset: null`: standalone)", collection_schema,
        body=collection_update_schema,
        errors={404: "The namespace, project, collection or named dataset does not exist",
                409: "Another live collection of the project has the new name"}),
    "api.collections.change_members": _op(
        "C5", "Add and remove members: at most 10,000 node IDs in all, none in both `add` and `remove` "
              "(a 400)", collection_schema,
        body=members_change_schema, errors=_COLLECTION404),
    "api.collections.delete_collection": _op(
        "C6", "Soft-delete a collection; its members are kept", Success, errors=_COLLECTION404),
    "health.healthz": _op("H1", "Liveness: the process answers (no database)", None),
    "health.readyz": _op("H2", "Readiness: the database answers", None,
                         errors={503: _ERROR_SUMMARIES[503]}),
    "openapi.openapi_document": _op("O1", "This OpenAPI document", None),
}

# The example of each path parameter (a dataset's or a collection's name, by resource).
PATH_EXAMPLES = {"slug": "acme", "projectSlug": "vision", "datasets": "training-v2",
                 "collections": "front-camera-clips"}

# Any JSON value whose keys and strings hold no U+0000: what `metadata` may hold (the limits of
# 64 KiB and 32 levels, which JSON Schema cannot count, are in the field's description).
JSON_VALUE_REF = "#/components/schemas/JsonValue"
_JSON_VALUE = {"anyOf": [
    {"type": "string", "pattern": NO_NUL_PATTERN},
    {"type": ["number", "boolean", "null"]},
    {"type": "array", "items": {"$ref": JSON_VALUE_REF}},
    {"type": "object", "propertyNames": {"pattern": NO_NUL_PATTERN}, "additionalProperties": {"$ref": JSON_VALUE_REF}},
]}

_STATUS = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}},
           "additionalProperties": False}
_PLAIN_BODIES = {"health.healthz": _STATUS, "health.readyz": _STATUS,
                 "openapi.openapi_document": {"type": "object"}}


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
        return {"propertyNames": {"pattern": NO_NUL_PATTERN}, "additionalProperties": {"$ref": JSON_VALUE_REF},
                "description": f"At most {Metadata.MAX_BYTES} bytes once serialized, nesting depth at most "
                               f"{Metadata.MAX_DEPTH}, no U+0000 in any key or string."}
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
        else:  # a route with a converter this document does not know
            raise TypeError(f"{rule.rule}: no parameter schema for {type(url_converter).__name__}")
        name = _camel(argument)
        example = PATH_EXAMPLES.get(name) or PATH_EXAMPLES[rule.endpoint.split(".")[1]]
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema, "example": example})
    return parameters


def _responses(endpoint, op):
    status, schema = op["ok"]
    ok = {"description": "Success"}
    body = _PLAIN_BODIES.get(endpoint, schema)
    if body is not None:
        ok["content"] = {"application/json": {"schema": body}}
    errors = dict(op["errors"])
    if endpoint.startswith("api."):
        errors.update({401: _ERROR_SUMMARIES[401], 503: _ERROR_SUMMARIES[503]})
    if op["body"] is not None or op["query"] is not None:
        errors[400] = _ERROR_SUMMARIES[400]
    if op["body"] is not None:
        errors.update({413: _ERROR_SUMMARIES[413], 415: _ERROR_SUMMARIES[415]})
    responses = {str(status): ok}
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
    spec.components.schema("JsonValue", _JSON_VALUE)
    spec.components.schema("Error", schema=Error)

    paths = {}
    for rule in app.url_map.iter_rules():
        op = OPERATIONS.get(rule.endpoint)
        if op is None:
            continue
        (method,) = rule.methods - {"HEAD", "OPTIONS"}
        operation = {
            "operationId": _camel(rule.endpoint.rsplit(".", 1)[-1]),
            "summary": f"{op['id']} · {op['summary']}",
            "tags": [rule.endpoint.split(".")[-2]],
            "parameters": _path_parameters(rule, converter),
            "responses": _responses(rule.endpoint, op),
        }
        if op["query"] is not None:
            operation["parameters"].append({"in": "query", "schema": op["query"]})
        if op["body"] is not None:
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": op["body"]}}}
        if not rule.endpoint.startswith("api."):
            operation["security"] = []
        paths.setdefault(_path(rule), {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi_document():
    """The document, built once per application (no database work)."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build(current_app)
    return current_app.extensions["openapi"]
