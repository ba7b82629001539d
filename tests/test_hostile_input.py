"""Hostile input (OWASP API3/API4): a catalogue of bodies, paths and query strings that a
careless or malicious client sends. Each gets its documented 4xx in the error envelope, and
the database is the same afterwards, row for row, on both databases."""
import json
from urllib.parse import quote

import pytest

from tests.support.api import COLLECTIONS, DATASETS, NS, PROJECT
from tests.support.dbstate import assert_unchanged, table_rows

TRAIN, CLIPS = f"{DATASETS}/train", f"{COLLECTIONS}/clips"
MEMBERS = f"{CLIPS}/members"
MIB = 1024 * 1024


def raw(text, content_type="application/json"):
    """A body sent exactly as given."""
    return {"data": text, "content_type": content_type}


def body(value):
    """A JSON body, every non-ASCII character escaped (so lone surrogates travel as \\ud800)."""
    return raw(json.dumps(value))


def nested(depth):
    value = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def ids(count, prefix="n"):
    return [f"{prefix}{i}" for i in range(count)]


SQL_INJECTION = "x'); DROP TABLE dataset; --"

# (method, path, request arguments, status, error code)
CATALOGUE = {
    # bodies that are not a JSON object
    "malformed JSON": ("POST", DATASETS, raw('{"name": "x"'), 400, "invalid_json"),
    "JSON array": ("POST", DATASETS, raw('[{"name": "x"}]'), 400, "invalid_json"),
    "JSON string": ("PATCH", TRAIN, raw('"x"'), 400, "invalid_json"),
    "JSON null": ("POST", COLLECTIONS, raw("null"), 400, "invalid_json"),
    "NaN literal": ("POST", DATASETS, raw('{"name": "x", "metadata": {"v": NaN}}'), 400, "invalid_json"),
    "number that overflows to infinity": ("POST", DATASETS, raw('{"name": "x", "metadata": {"v": -1e400}}'),
                                          400, "invalid_json"),
    "integer of 5000 digits": ("POST", DATASETS, raw('{"name": "x", "metadata": {"v": 1' + "0" * 5000 + "}}"),
                               400, "invalid_json"),
    "nesting too deep to parse": ("POST", DATASETS, raw('{"name": "x", "metadata": ' + "[" * 200_000), 400,
                                  "invalid_json"),
    "invalid UTF-8": ("POST", DATASETS, raw(b'{"name": "\xc3\x28"}'), 400, "invalid_json"),
    "no body at all": ("PATCH", TRAIN, raw(b""), 400, "invalid_json"),
    # content types and sizes
    "text/plain": ("POST", DATASETS, raw('{"name": "x"}', "text/plain"), 415, "unsupported_media_type"),
    "form encoded": ("POST", COLLECTIONS, raw("name=x", "application/x-www-form-urlencoded"), 415,
                     "unsupported_media_type"),
    "multipart": ("POST", MEMBERS, raw("--b\r\n\r\n--b--", "multipart/form-data; boundary=b"), 415,
                  "unsupported_media_type"),
    "no content type": ("PATCH", CLIPS, raw('{"name": "x"}', None), 415, "unsupported_media_type"),
    "body over 1 MiB": ("POST", MEMBERS, body({"add": ids(MIB // 8)}), 413, "payload_too_large"),
    "body over 1 MiB, not JSON": ("POST", DATASETS, raw("x" * (MIB + 1), "text/plain"), 413, "payload_too_large"),
    "size announced over 1 MiB": ("POST", DATASETS, {**raw('{"name": "x"}'), "environ_overrides": {
        "CONTENT_LENGTH": str(MIB + 1)}}, 413, "payload_too_large"),
    # metadata: deep and large
    "metadata 33 deep": ("POST", DATASETS, body({"name": "x", "metadata": nested(33)}), 400, "validation_error"),
    "metadata 500 deep": ("PATCH", TRAIN, body({"metadata": nested(500)}), 400, "validation_error"),
    "metadata of 50,000 keys": ("PATCH", TRAIN, body({"metadata": {f"k{i}": 0 for i in range(50_000)}}), 400,
                                "validation_error"),
    "metadata of 64 KiB + 1": ("POST", DATASETS, body({"name": "x", "metadata": {"k": "x" * (64 * 1024 - 7)}}),
                               400, "validation_error"),
    # U+0000 and lone surrogates
    "U+0000 in a name": ("POST", DATASETS, body({"name": "a\x00b"}), 400, "validation_error"),
    "U+0000 in a metadata key": ("PATCH", TRAIN, body({"metadata": {"a\x00": 1}}), 400, "validation_error"),
    "U+0000 in a member": ("POST", MEMBERS, body({"add": ["n\x00"]}), 400, "validation_error"),
    "U+0000 in a tag filter": ("GET", f"{DATASETS}?tag=a%00b", {}, 400, "validation_error"),
    "U+0000 in a path name": ("GET", f"{DATASETS}/a%00b", {}, 404, "not_found"),
    "lone surrogate in a name": ("POST", COLLECTIONS, body({"name": "a\ud800"}), 400, "validation_error"),
    "lone surrogate in a description": ("PATCH", TRAIN, body({"description": "\udfff"}), 400, "validation_error"),
    "lone surrogate in a tag": ("POST", DATASETS, body({"name": "x", "tags": ["\ud83d"]}), 400, "validation_error"),
    "lone surrogate in a member": ("POST", COLLECTIONS, body({"name": "x", "members": ["\udc00"]}), 400,
                                   "validation_error"),
    # very long names and path segments
    "name of 10,000 characters": ("POST", DATASETS, body({"name": "x" * 10_000}), 400, "validation_error"),
    "dataset path segment of 10,000": ("GET", f"{DATASETS}/{'x' * 10_000}", {}, 404, "not_found"),
    "collection path segment of 10,000": ("DELETE", f"{COLLECTIONS}/{'x' * 10_000}", {}, 404, "not_found"),
    "namespace path segment of 10,000": ("POST", f"/namespaces/{'a' * 10_000}/projects", body({"slug": "p"}), 404,
                                         "not_found"),
    # %2F and other impossible names in paths
    "/ in a name": ("POST", DATASETS, body({"name": "a/b"}), 400, "validation_error"),
    "%2F in a dataset path": ("DELETE", f"{DATASETS}/tr%2Fain", {}, 404, "not_found"),
    "%2F in a collection path": ("PATCH", f"{COLLECTIONS}/a%2Fb", body({"name": "y"}), 404, "not_found"),
    "%2F in a member path": ("POST", f"{COLLECTIONS}/clips%2Fmembers", body({"add": ["n"]}), 404, "not_found"),
    "%2E%2E in a path": ("DELETE", f"{DATASETS}/%2E%2E/%2E%2E/datasets/train", {}, 404, "not_found"),
    "slug with a quote in a path": ("GET", f"{NS}'--/projects", {}, 404, "not_found"),
    # SQL and JSON injection where the field rules forbid it
    "SQL in a slug": ("POST", "/namespaces", body({"slug": "a' OR '1'='1"}), 400, "validation_error"),
    "SQL in page": ("GET", f"{DATASETS}?page=1%20OR%201=1", {}, 400, "validation_error"),
    "SQL in pageSize": ("GET", f"{COLLECTIONS}?pageSize=50;DROP%20TABLE%20member", {}, 400, "validation_error"),
    "SQL in a dataset filter": ("GET", f"{COLLECTIONS}?dataset={quote(SQL_INJECTION)}", {}, 404, "not_found"),
    "operator object as a name": ("POST", DATASETS, body({"name": {"$ne": None}}), 400, "validation_error"),
    "operator object as a member": ("POST", MEMBERS, body({"add": [{"$gt": ""}]}), 400, "validation_error"),
    # mass assignment: fields the server owns
    "forged id": ("POST", DATASETS, body({"name": "x", "id": "forged"}), 400, "validation_error"),
    "forged projectId": ("POST", COLLECTIONS, body({"name": "x", "projectId": "p"}), 400, "validation_error"),
    "forged createdAt": ("PATCH", TRAIN, body({"createdAt": "2000-01-01T00:00:00.000Z"}), 400, "validation_error"),
    "forged deleted_at": ("PATCH", TRAIN, body({"deleted_at": None}), 400, "validation_error"),
    "forged memberCount": ("PATCH", CLIPS, body({"memberCount": 0}), 400, "validation_error"),
    "forged members on a rename": ("PATCH", CLIPS, body({"members": ["n"]}), 400, "validation_error"),
    "forged namespace_id": ("POST", f"{NS}/projects", body({"slug": "p", "namespace_id": "n"}), 400,
                            "validation_error"),
    # 10,001 members
    "10,001 members on create": ("POST", COLLECTIONS, body({"name": "x", "members": ids(10_001)}), 400,
                                 "validation_error"),
    "10,001 members added": ("POST", MEMBERS, body({"add": ids(10_001)}), 400, "validation_error"),
    "10,001 members added and removed": ("POST", MEMBERS, body({"add": ids(5_001), "remove": ids(5_000, "r")}),
                                         400, "validation_error"),
    "one member added and removed": ("POST", MEMBERS, body({"add": ["n1", "n9"], "remove": ["n9"]}), 400,
                                     "validation_error"),
    # absurd pages
    **{f"page={value}": ("GET", f"{path}?page={value}", {}, 400, "validation_error")
       for path, values in ((DATASETS, ["0", "-1", "abc", "1.5", "1e9", "10000001"]),
                            (COLLECTIONS, ["100000000000000000", "1" + "0" * 30, "%EF%BC%91", ""]),
                            (f"{NS}/projects", ["0x10", "+1"]), ("/namespaces", ["NaN", "%00"]))
       for value in values},
    **{f"pageSize={value}": ("GET", f"{DATASETS}?pageSize={value}", {}, 400, "validation_error")
       for value in ["0", "-5", "2e2", "9" * 40]},
    "65 tag filters": ("GET", f"{DATASETS}?" + "&".join(f"tag=t{i}" for i in range(65)), {}, 400,
                       "validation_error"),
    "dataset and standalone together": ("GET", f"{COLLECTIONS}?dataset=train&standalone=true", {}, 400,
                                        "validation_error"),
    "method not allowed": ("PUT", TRAIN, body({"name": "x"}), 405, "method_not_allowed"),
}


@pytest.fixture
def world(api, project):
    """Dataset `train` holding collection `clips` (members n1, n2)."""
    assert api.post(DATASETS, json={"name": "train", "tags": ["t"], "metadata": {"k": 1}}).status_code == 201
    assert api.post(COLLECTIONS, json={"name": "clips", "dataset": "train", "members": ["n1", "n2"]}).status_code == 201


def envelope_code(response):
    body = response.get_json(silent=True)
    return body["error"].get("code") if isinstance(body, dict) and set(body) == {"error"} else body


def test_hostile_requests_get_their_4xx_and_write_nothing(api, world):
    """One pass over the catalogue (one set-up keeps it fast); every miss is reported."""
    misses = {}
    for case, (method, path, kwargs, status, code) in CATALOGUE.items():
        before = table_rows()
        response = api.request(method, path, **kwargs)
        answered = (response.status_code, envelope_code(response))
        if answered != (status, code):
            misses[case] = answered
        if table_rows() != before:
            misses[case] = ("wrote to the database", answered)
    assert not misses, misses


@pytest.mark.parametrize("value", [SQL_INJECTION, "' OR '1'='1", '"]} OR 1=1 --', '{"$gt": ""}', "t%"])
def test_injection_strings_are_data_stored_and_matched_verbatim(api, world, value):
    created = api.post(DATASETS, json={"name": value, "tags": [value], "description": value})
    assert created.status_code == 201, created.get_json()
    assert api.post(COLLECTIONS, json={"name": value, "members": [value]}).status_code == 201
    before = table_rows()

    fetched = api.get(f"{DATASETS}/{quote(value, safe='')}")
    assert fetched.status_code == 200 and fetched.get_json()["tags"] == [value]
    assert api.get(f"{COLLECTIONS}/{quote(value, safe='')}").get_json()["members"] == [value]
    tagged = api.get(DATASETS, query_string={"tag": value}).get_json()
    assert [d["name"] for d in tagged["datasets"]] == [value]
    assert api.get(DATASETS, query_string={"tag": value + "x"}).get_json()["total"] == 0
    in_dataset = api.get(COLLECTIONS, query_string={"dataset": value}).get_json()
    assert in_dataset["collections"] == []
    assert_unchanged(before)
    assert api.get(DATASETS).get_json()["total"] == 2


def test_the_largest_page_number_is_an_empty_page_with_the_true_total(api, world):
    response = api.get(PROJECT + "/datasets", query_string={"page": 10_000_000, "pageSize": 10**6})
    assert response.status_code == 200
    assert response.get_json() == {
        "datasets": [], "page": 10_000_000, "pageSize": 200, "total": 1, "totalPages": 1, "nextCursor": None}
