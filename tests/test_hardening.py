"""What an attacker's probe found, each as a class (contract §2–§4): lists counted as sent
and refused before their items are looked at, error bodies bounded, a chunked body over the
limit refused like an announced one, names compared in NFC, log lines that stay one line.
Tokens are in test_auth.py, the request line and headers in test_request_limits.py."""
import io
import json
import logging

import pytest

from service.logs import JSONFormatter
from tests.support.api import COLLECTIONS, DATASETS, assert_error, create_collection, create_dataset, ok
from tests.support.dbstate import assert_unchanged, table_rows

MAX_ERROR_BYTES = 16 * 1024


def compact(body):
    return json.dumps(body, separators=(",", ":"))


def post(api, path, body):
    return api.post(path, data=compact(body), content_type="application/json")


# A body of about 1 MB (under the 1 MiB limit) whose every item breaks a rule, or that holds
# far more items than the limit allows.
HUGE = {
    "C5 add of 500,000 numbers": (f"{COLLECTIONS}/clips/members", {"add": [1] * 500_000}),
    "C5 add of 340,000 empty IDs": (f"{COLLECTIONS}/clips/members", {"add": [""] * 340_000}),
    "C1 members of 250,000 copies": (COLLECTIONS, {"name": "big", "members": ["m"] * 250_000}),
    "D1 tags of 250,000 copies": (DATASETS, {"name": "big", "tags": ["t"] * 250_000}),
    "D1 with 90,000 unknown fields": (DATASETS, {f"k{i}": 0 for i in range(90_000)}),
    "D1 with an unknown field of 160,000 characters": (DATASETS, {"é" * 160_000: 0}),
}


@pytest.fixture
def clips(api, project):
    create_dataset(api, "train")
    create_collection(api, "clips", dataset="train", members=["n1"])


@pytest.mark.parametrize("path, body", HUGE.values(), ids=HUGE.keys())
def test_a_huge_bad_body_gets_a_small_400_and_writes_nothing(api, clips, path, body):
    raw = compact(body)
    assert 900_000 < len(raw.encode()) <= 1024 * 1024
    before = table_rows()
    response = api.post(path, data=raw, content_type="application/json")
    error = assert_error(response, 400, "validation_error")
    assert len(response.get_data()) <= MAX_ERROR_BYTES
    assert all(len(messages) <= 10 for messages in error["fields"].values())
    assert_unchanged(before)


def test_every_bad_item_of_a_list_at_its_limit_is_counted_and_ten_are_listed(api, clips):
    response = post(api, f"{COLLECTIONS}/clips/members", {"add": [7] * 10_000})
    error = assert_error(response, 400, "validation_error")
    assert error["fields"] == {"add": [f"{i}: Not a valid string." for i in range(10)]}
    assert error["message"] == "add: 0: Not a valid string. (9990 more messages not listed)"
    assert len(response.get_data()) <= MAX_ERROR_BYTES


def test_an_error_body_stays_under_16_kib_however_many_fields_break(api, clips):
    body = {("ü" * 300) + str(i): 0 for i in range(10)}  # 10 unknown fields: each named, cut short
    response = post(api, DATASETS, body)
    error = assert_error(response, 400, "validation_error")
    assert len(response.get_data()) <= MAX_ERROR_BYTES and len(error["fields"]) >= 2
    assert all(len(field) <= 120 for field in error["fields"])


def test_count_limits_hold_for_the_list_as_sent(api, clips):
    assert_error(post(api, DATASETS, {"name": "d", "tags": ["t"] * 65}), 400, "validation_error")
    assert ok(post(api, DATASETS, {"name": "d", "tags": ["t"] * 64}), 201)["tags"] == ["t"]
    assert_error(post(api, COLLECTIONS, {"name": "c", "members": ["m"] * 10_001}), 400, "validation_error")
    both = {"add": ["a"] * 5_001, "remove": ["r"] * 5_000}  # 2 distinct IDs, 10,001 as sent
    error = assert_error(post(api, f"{COLLECTIONS}/clips/members", both), 400, "validation_error")
    assert error["fields"] == {"_schema": ["At most 10000 node IDs in add and remove together."]}
    changed = ok(post(api, f"{COLLECTIONS}/clips/members", {"add": ["a"] * 5_000, "remove": ["r"] * 5_000}))
    assert changed["memberCount"] == 2


def _chunked(api, path, body):
    """`body` sent as a stream without Content-Length, as a WSGI server hands a chunked one."""
    return api.post(path, input_stream=io.BytesIO(body), content_type="application/json",
                    environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})


def test_a_chunked_body_over_the_limit_is_413_and_writes_nothing(api, project):
    before = table_rows()
    padded = b'{"name": "padded-chunked"}' + b" " * (3 * 1024 * 1024)
    assert_error(_chunked(api, DATASETS, padded), 413, "payload_too_large")
    one_over = b'{"name": "one-over"}'.ljust(1024 * 1024 + 1)
    assert_error(_chunked(api, DATASETS, one_over), 413, "payload_too_large")
    assert_unchanged(before)
    at_limit = b'{"name": "at-limit"}'.ljust(1024 * 1024)
    assert ok(_chunked(api, DATASETS, at_limit), 201)["name"] == "at-limit"


NFC, NFD = "caf\u00e9", "cafe\u0301"


@pytest.mark.parametrize("kind, path", [("dataset", DATASETS), ("collection", COLLECTIONS)])
def test_names_are_one_name_in_either_normalization_form(api, project, kind, path):
    created = ok(post(api, path, {"name": NFD}), 201)
    assert created["name"] == NFC
    assert_error(post(api, path, {"name": NFC}), 409, "conflict")
    for spelling in (NFC, NFD):
        assert ok(api.get(f"{path}/{spelling}"))["id"] == created["id"]
    other = ok(post(api, path, {"name": "other"}), 201)
    assert_error(api.patch(f"{path}/other", json={"name": NFD}), 409, "conflict")
    assert ok(api.get(f"{path}/other"))["id"] == other["id"]


@pytest.mark.parametrize("name", [".", "..", "train\u200b", "\ufeff", "a\u00adb"])
def test_a_name_that_cannot_be_stored_is_404_in_a_url_whatever_the_method(api, project, name):
    for method in ("GET", "PATCH", "DELETE", "POST", "PUT"):
        response = api.request(method, f"{DATASETS}/{name}", json={})
        assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found"), method


def test_unicode_line_breaks_are_escaped_in_log_lines():
    message = "a\x85b\u2028c\u2029d\ne\rf"
    record = logging.makeLogRecord({"name": "t", "levelno": logging.INFO, "levelname": "INFO", "msg": message})
    line = JSONFormatter().format(record)
    assert line.splitlines() == [line]
    assert json.loads(line)["message"] == message


@pytest.mark.parametrize("given", ["abc\n", "abc\r\n", "a" * 129, "a b", "abc\x85"])
def test_an_odd_request_id_is_replaced(client, given):
    response = client.open("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": given})
    assert response.headers["X-Request-ID"] not in (given, given.strip())
    assert client.get("/healthz", headers={"X-Request-ID": "abc"}).headers["X-Request-ID"] == "abc"
