"""What tests share besides fixtures: an authenticated JSON client, and readers of responses."""
import json
import re
import time
from datetime import UTC, datetime, timedelta


class Api:
    """The test client with a bearer token and JSON bodies: api.post(path, json=...)."""

    def __init__(self, client, bearer):
        self.client, self.bearer = client, bearer

    def as_(self, bearer):
        return Api(self.client, bearer)

    def request(self, method, path, headers=None, **kwargs):
        headers = dict(headers or {})
        if self.bearer is not None:
            headers.setdefault("Authorization", f"Bearer {self.bearer}")
        # buffered: the body read (a streamed one included) and the response closed at once, as a
        # server does, not whenever the unread response is collected
        return self.client.open(path, method=method, headers=headers, buffered=True, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def queries(response):
    """The roundtrip count the response reports in Server-Timing."""
    match = re.search(r'desc="(\d+) queries"', response.headers.get("Server-Timing", ""))
    assert match, f"no Server-Timing count in {dict(response.headers)}"
    return int(match.group(1))


def error_code(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]


NS = "/namespaces/acme"
PROJECT = f"{NS}/projects/vision"
DATASETS = f"{PROJECT}/datasets"
COLLECTIONS = f"{PROJECT}/collections"


# -- what the endpoint tests share ----------------------------------------------------------


TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
URL_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def assert_timestamp(value):
    """RFC 3339 in UTC with milliseconds and Z, and it is now (not local time, not 1970)."""
    assert isinstance(value, str) and TIMESTAMP.match(value), value
    moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=5), value


def assert_id(value):
    assert isinstance(value, str) and URL_SAFE_ID.match(value), value


def assert_error(response, status, code):
    """The response is the contract's error envelope with this status and code; returns its
    `error` object."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert error_code(response) == code, response.get_json()
    return response.get_json()["error"]


def ok(response, status=200):
    """The JSON body of a response that must have succeeded with `status`."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json()


def send_json(api, method, path, body):
    """`body` sent as JSON text with every non-ASCII character escaped, so that lone
    surrogates travel as `\\ud800` escapes exactly as a client would write them."""
    return api.request(method, path, data=json.dumps(body), content_type="application/json")


def create(api, path, body):
    """POST a create body that must answer 201; returns the new row. The next row created
    gets a later millisecond, so that lists (by creation time, then id) show creation order."""
    row = ok(api.post(path, json=body), 201)
    time.sleep(0.002)
    return row


def create_dataset(api, name, **fields):
    return create(api, DATASETS, {"name": name, **fields})


def create_collection(api, name, **fields):
    return create(api, COLLECTIONS, {"name": name, **fields})


def listed(api, path, key, **params):
    """Every item of a list endpoint (first page of 200), and the envelope."""
    body = ok(api.get(path, query_string={"pageSize": 200, **params}))
    return body[key], body


def walk(api, path, key, params, between=None):
    """Every item of the list at `path` (its items under `key`), by cursor from the first page
    asked with `params`, with `between(page number)` run after each page; checks that each
    page's Link names its nextCursor, that only the last page has none, and that a page asked
    by cursor has no page number."""
    seen, number, query = [], 0, dict(params)
    while True:
        response = api.get(path, query_string=query)
        body = ok(response)
        assert "cursor" not in query or body.get("page") is None
        seen += body[key]
        number += 1
        if between:
            between(number)
        cursor = body["nextCursor"]
        assert ("Link" in response.headers) == (cursor is not None)
        if cursor is None:
            return seen
        assert f"cursor={cursor}>" in response.headers["Link"]
        query = {**params, "cursor": cursor}
