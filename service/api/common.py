"""What every handler shares: reading the JSON body and the query arguments, and the lookups
that answer 404 when what the URL names is not there (queries 1 and 2 of every endpoint
below a namespace, and the dataset and collection lookups after them)."""
import itertools
import json
import math
from urllib.parse import quote, urlencode

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from schemas.common import page_body

from .. import auth, cursors, data
from ..db import release
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


def list_window(args):
    """The rows a list request asks for (data.Window): a page by number, or the page after a
    cursor (a 400, with no database work, for a cursor not made for this list); and the list's
    key (service/cursors.py)."""
    key = cursors.list_key()
    size = args["page_size"] if "page_size" in args else args["limit"]
    if "cursor" in args:
        return data.Window(size, 0, cursors.decode(args["cursor"], key)), key
    return data.Window(size, (args.get("page", 1) - 1) * size, ()), key


def next_page(key, after, headers):
    """The cursor of the page after the one whose last row has the ordering values `after`
    (None: it was the last), and its `Link: <…>; rel="next"` added to `headers`."""
    if after is None:
        return None
    cursor = cursors.encode(key, after)
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "cursor")]
    url = f"{quote(request.script_root + request.path)}?{urlencode([*kept, ('cursor', cursor)])}"
    headers["Link"] = f'<{url}>; rel="next"'
    return cursor


def list_response(name, items, args, total, key, after):
    """A list's answer: its envelope (page_body) and, when a page follows, its Link."""
    headers = {}
    return page_body(name, items, args, total, next_page(key, after, headers)), 200, headers


def _buffered(pieces, size=64 * 1024):
    """`pieces` of text as UTF-8 writes of about `size` bytes (not one write per piece), the
    first piece written at once: the server then has sent the status and headers, and a
    failure later cuts the body short (the client sees an incomplete answer), never turns it
    into an error page."""
    yield next(pieces).encode()
    buffer, held = [], 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(buffer).encode()
            buffer, held = [], 0
    yield "".join(buffer).encode()


_dumps = json.JSONEncoder(separators=(",", ":")).encode  # made once: json.dumps makes one a call


def _member_lists(rows, grouped):
    """The JSON of the members of data.stream_*_members rows: with `grouped`, a list of
    {"id", "name", "members"} a collection; else one list."""
    dumps, current, separator = _dumps, None, ""
    for collection_id, name, chunk in rows:
        if grouped and collection_id != current:
            yield f'{"]}," if current else ""}{{"id":{dumps(collection_id)},"name":{dumps(name)},"members":['
            current, separator = collection_id, ""
        if chunk != "[]":
            yield separator + chunk[1:-1]
            separator = ","
    if grouped and current:
        yield "]}"


def streamed(head, key, rows, tag, grouped=False):
    """A 200 whose body is the JSON object `head` with `key` last: the members of `rows`
    (data.stream_dataset_members or data.stream_members), written as they are read, so that
    a worker holds a few chunks of them at a time, whatever their number; with its ETag. The
    request's database connection stays with the response until the server closes it."""
    opening = _dumps({k: v for k, v in head.items() if k != key})[:-1] + f',"{key}":['
    body = itertools.chain([opening], _member_lists(rows, grouped), ["]}"])
    response = current_app.response_class(_buffered(body), mimetype="application/json")
    response.set_etag(tag)
    g.streaming = True
    response.call_on_close(release)
    return response
