"""What every handler shares: reading the JSON body and the query arguments, and the lookups
that answer 404 when what the URL names is not there (queries 1 and 2 of every endpoint
below a namespace, and the dataset and collection lookups after them)."""
import json
import math

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

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
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH when announced
    if request.content_length is None and len(raw) >= request.max_content_length and \
            request.environ["wsgi.input"].read(1):
        # A body without Content-Length (chunked) is cut at MAX_CONTENT_LENGTH by werkzeug,
        # which does not say so: one more byte in the server's stream means it was longer.
        raise RequestEntityTooLarge()
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


def namespace_or_404(slug):
    """Query 1: the namespace (also 404 when it lies outside the token's namespaces)."""
    namespace = data.find_namespace(slug, auth.scope())
    if namespace is None:
        raise not_found(f"namespace '{slug}'")
    return namespace


def project_or_404(slug, project_slug):
    """Queries 1 and 2: the namespace, then its project."""
    project = data.find_project(namespace_or_404(slug), project_slug)
    if project is None:
        raise not_found(f"project '{project_slug}'")
    return project


def dataset_or_404(project, name, lock=None, state=False):
    """The live dataset `name` of the project (see data.find_dataset for `lock` and `state`)."""
    dataset = data.find_dataset(project, name, lock=lock, state=state)
    if dataset is None:
        raise not_found(f"dataset '{name}'")
    return dataset


def collection_or_404(project, name, lock=False):
    """The live collection `name` of the project (see data.find_collection for `lock`)."""
    collection = data.find_collection(project, name, lock=lock)
    if collection is None:
        raise not_found(f"collection '{name}'")
    return collection
