"""The API blueprints, and what every handler shares: reading the JSON body and query
arguments, and resolving the namespace and project of the URL (queries 1 and 2)."""
import json
import math

from flask import Blueprint, request

from .. import auth, data
from ..errors import APIError, not_found

def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    """A JSON number too large for a double (1e400) would come back as the non-JSON Infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def json_body():
    """The request's JSON object. 413, 400, 415 and 400 (in the contract's order) for a body
    that is too large, missing, not JSON by its Content-Type, or not a JSON object."""
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH, read or announced
    if not raw:
        raise APIError(400, "invalid_json", "a JSON object body is required")
    if not request.is_json:
        raise APIError(415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)")
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise APIError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise APIError(400, "invalid_json", "the body must be a JSON object")
    return body


def query_args(schema, repeated=()):
    """Query arguments loaded by `schema`; names in `repeated` may be given several times."""
    args = {key: request.args.getlist(key) if key in repeated else request.args.get(key)
            for key in request.args}
    return schema.load(args)


def find_namespace(slug):
    """Query 1: the namespace, or 404 (also when it lies outside the token's namespaces)."""
    namespace = data.find_namespace(slug, auth.scope())
    if namespace is None:
        raise not_found(f"namespace '{slug}'")
    return namespace


def find_project(slug, project_slug):
    """Queries 1 and 2: the namespace, then its project, or 404."""
    namespace = find_namespace(slug)
    project = data.find_project(namespace, project_slug)
    if project is None:
        raise not_found(f"project '{project_slug}'")
    return project


def register(app):
    from . import collections, datasets, health, namespaces, projects

    api = Blueprint("api", __name__)  # every endpoint under it needs a token
    api.before_request(auth.authenticate)
    for module in (namespaces, projects, datasets, collections):
        api.register_blueprint(module.bp)
    app.register_blueprint(api)
    app.register_blueprint(health.bp)
    from .. import openapi

    app.register_blueprint(openapi.bp)  # GET /openapi.json, no token
