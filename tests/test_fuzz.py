"""A client nobody here wrote: schemathesis generates requests from /openapi.json, valid and
invalid, for every operation, and sends them with a valid token to a real gunicorn serving
the app on SQLite and on PostgreSQL. No response may be a 5xx, carry a status the document
does not declare, or contradict the document's schemas, headers and content types; data the
document calls valid must be accepted and data it calls invalid rejected.

The run is bounded (FUZZ_MAX_EXAMPLES generated cases per operation, default 25, besides the
document's examples and schemathesis' coverage cases) and reproducible (FUZZ_SEED); set
either to fuzz deeper or elsewhere."""
import os
import time
import uuid

import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from marshmallow import ValidationError
from schemathesis import GenerationMode, checks

from schemas.common import Metadata
from service import create_app, idempotency
from service.openapi import PATH_EXAMPLES, build
from tests.support.live import LiveServer

SECRET = "fuzz-secret-" + "x" * 32
TOKEN = jwt.encode({"sub": "fuzzer", "namespaces": ["*"], "exp": int(time.time()) + 6 * 3600}, SECRET, "HS256")
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# The document of this code (test_served_document_is_the_one_fuzzed: the same as served).
DOCUMENT = build(create_app({"DATABASE_URL": "sqlite:///:memory:", "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test"}))

schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", "25")))
schema.config.seed = int(os.environ.get("FUZZ_SEED", "20260415"))

CHECKS = [
    checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
    checks.response_schema_conformance, checks.response_headers_conformance, checks.positive_data_acceptance,
    checks.negative_data_rejection, checks.missing_required_header, checks.unsupported_method,
    checks.allow_header_conformance, checks.ignored_auth,
]

# What the examples of the document's path parameters name, so that requests reach them.
NAMESPACE, PROJECT = f"/namespaces/{PATH_EXAMPLES['slug']}", f"/projects/{PATH_EXAMPLES['projectSlug']}"
COLLECTIONS = "/namespaces/{slug}/projects/{projectSlug}/collections"
MEMBERS = f"{COLLECTIONS}/{{name}}/members"
SEED = [
    ("/namespaces", {"slug": PATH_EXAMPLES["slug"]}),
    (f"{NAMESPACE}/projects", {"slug": PATH_EXAMPLES["projectSlug"], "description": "Camera clips"}),
    (f"{NAMESPACE}{PROJECT}/datasets", {"name": PATH_EXAMPLES["datasets"], "tags": ["q1"], "metadata": {"v": 2}}),
    (f"{NAMESPACE}{PROJECT}/collections",
     {"name": PATH_EXAMPLES["collections"], "dataset": PATH_EXAMPLES["datasets"], "members": ["node-1", "node-2"]}),
    (f"{NAMESPACE}{PROJECT}/collections", {"name": "edge-cases", "members": ["node-3"]}),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    url = f"sqlite:///{folder / 'registry.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    env = {"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test", "LOG_LEVEL": "warning"}
    with LiveServer(env, workers=2, log_path=folder / "gunicorn.log") as live:
        yield live


@pytest.fixture
def seeded(server):
    """The resources the document's examples name exist (again) before each operation is fuzzed."""
    for path, body in SEED:
        status, _, answer = server.request("POST", path, body, token=TOKEN)
        assert status in (201, 409), (path, status, answer)
    return server


def _valid_apart_invalid_together(case):
    """Rules that JSON Schema cannot state simply; the document states them in prose (each is a
    400): C2's `dataset` with `standalone=true`, C5's node ID in both `add` and `remove`, C1's
    `from` with `members` or with more than one operation (the operations' summaries and field
    descriptions); `metadata`'s size, depth and strings (its description, which client
    generators need instead of a recursive schema); a list's `cursor`, which only the service
    makes, and `page` with it (the parameter's description)."""
    if "cursor" in (case.query or {}):
        return True
    if isinstance(case.body, dict) and isinstance(case.body.get("metadata"), dict):
        try:
            Metadata().deserialize(case.body["metadata"])
        except ValidationError:
            return True
    if case.operation.label == f"GET {COLLECTIONS}":
        query = case.query or {}
        return "dataset" in query and query.get("standalone") == "true"
    if case.operation.label == f"POST {COLLECTIONS}" and isinstance(case.body, dict):
        source = case.body.get("from")
        return "from" in case.body and ("members" in case.body or not isinstance(source, dict) or len(source) != 1)
    if case.operation.label == f"POST {MEMBERS}" and isinstance(case.body, dict):
        add, remove = case.body.get("add"), case.body.get("remove")
        return isinstance(add, list) and isinstance(remove, list) and bool(set(map(str, add)) & set(map(str, remove)))
    return False


@pytest.mark.gunicorn
@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_request_breaks_the_document(case, seeded):
    excluded = [checks.positive_data_acceptance] if _valid_apart_invalid_together(case) else []
    # A fresh Idempotency-Key for every request, as a client gives every new request one: the
    # fuzzer's own valid picks repeat, and a key sent again with another body is rightly a 422.
    # A key it made invalid on purpose is sent as it is.
    # If-Match "*": the fuzzer cannot know the current ETag, and a stale one is rightly a 412.
    headers = {**AUTH, "If-Match": "*"}
    if idempotency.KEY.fullmatch((case.headers or {}).get(idempotency.HEADER, "fresh")):
        headers[idempotency.HEADER] = uuid.uuid4().hex
    case.call_and_validate(base_url=seeded.url, headers=headers, checks=CHECKS, excluded_checks=excluded)


@pytest.mark.gunicorn
def test_served_document_is_the_one_fuzzed(server):
    status, headers, document = server.request("GET", "/openapi.json")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert document == DOCUMENT


# What the fuzzer found, kept as plain tests.

def test_options_answers_the_allowed_methods_to_a_token_and_401_without(api):
    path = "/namespaces/acme/projects/vision/datasets/training-v2"
    response = api.request("OPTIONS", path)
    assert response.status_code == 200
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
    assert api.as_(None).request("OPTIONS", path).status_code == 401


@pytest.mark.parametrize("name", ["x\x9b", " x", "x\u202e"])
def test_a_name_that_cannot_exist_is_404_whatever_the_method(api, name):
    for method in ("GET", "PATCH", "DELETE", "POST"):
        response = api.request(method, f"/namespaces/acme/projects/vision/datasets/{name}", json={})
        assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found"), method
