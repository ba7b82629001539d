"""Safe retries (contract §8.3): a POST sent again with its Idempotency-Key gets the stored
answer and writes nothing; the same key with another request is a 422; keys belong to the
token's subject; a failed request stores nothing; the answer is stored in the write's own
transaction; keys expire after 24 hours. The race of a retry with the first request is in
tests/test_races.py."""
from datetime import timedelta

import pytest

from service import idempotency
from service.db import db
from service.models import IdempotencyKey
from tests.support.api import COLLECTIONS, DATASETS, NS, assert_error, listed, ok, queries


def post(api, path, body, key):
    return api.post(path, json=body, headers={"Idempotency-Key": key})


def test_a_retry_gets_the_first_answer_and_writes_nothing(api, project):
    first = post(api, DATASETS, {"name": "train", "tags": ["a"]}, "create-train-1")
    again = post(api, DATASETS, {"name": "train", "tags": ["a"]}, "create-train-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_data() == first.get_data()
    assert (first.headers.get("Idempotent-Replayed"), again.headers["Idempotent-Replayed"]) == (None, "true")
    assert [d["name"] for d in listed(api, DATASETS, "datasets")[0]] == ["train"]


def test_the_same_key_with_another_request_is_a_422_and_writes_nothing(api, project):
    ok(post(api, DATASETS, {"name": "train"}, "k"), 201)
    for path, body in ((DATASETS, {"name": "other"}), (COLLECTIONS, {"name": "train"}), (f"{NS}/projects",
                                                                                           {"slug": "x"})):
        assert_error(post(api, path, body, "k"), 422, "idempotency_key_reused")
    assert [d["name"] for d in listed(api, DATASETS, "datasets")[0]] == ["train"]
    assert listed(api, COLLECTIONS, "collections")[0] == []


def test_keys_belong_to_the_tokens_subject(api, token, project):
    ok(post(api, DATASETS, {"name": "train"}, "shared-key"), 201)
    bob = api.as_(token(sub="bob"))
    assert post(bob, DATASETS, {"name": "train"}, "shared-key").status_code == 409  # his own request: it runs
    assert ok(post(bob, DATASETS, {"name": "bobs"}, "shared-key"), 201)["name"] == "bobs"


def test_a_request_that_failed_stored_nothing_and_can_be_retried(api):
    assert_error(post(api, "/namespaces", {"slug": "acme", "bad": 1}, "n1"), 400, "validation_error")
    assert_error(post(api, f"{NS}/projects", {"slug": "vision"}, "p1"), 404, "not_found")
    ok(post(api, "/namespaces", {"slug": "acme"}, "n1"), 201)
    assert "Idempotent-Replayed" not in post(api, f"{NS}/projects", {"slug": "vision"}, "p1").headers
    assert post(api, f"{NS}/projects", {"slug": "vision"}, "p1").headers["Idempotent-Replayed"] == "true"


def test_the_answer_is_stored_with_the_write_or_neither_is(api, app, project, monkeypatch):
    def fail(*args):
        raise RuntimeError("the process died between the write and its answer")

    monkeypatch.setattr(idempotency, "store_answer", fail)
    assert_error(post(api, DATASETS, {"name": "train"}, "k"), 500, "internal_error")
    assert listed(api, DATASETS, "datasets")[0] == []
    monkeypatch.undo()
    assert "Idempotent-Replayed" not in ok(post(api, DATASETS, {"name": "train"}, "k"), 201)


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "a\tb", "a\x7f"])
def test_a_malformed_key_is_a_400(api, project, key):
    error = assert_error(post(api, DATASETS, {"name": "train"}, key), 400, "validation_error")
    assert list(error["fields"]) == ["Idempotency-Key"]
    assert listed(api, DATASETS, "datasets")[0] == []


def test_a_key_older_than_24_hours_is_forgotten_and_purged(api, app, project, monkeypatch):
    ok(post(api, DATASETS, {"name": "train"}, "old-key"), 201)
    ok(post(api, DATASETS, {"name": "stale"}, "stale-key"), 201)
    now = idempotency.clock()
    monkeypatch.setattr(idempotency, "clock", lambda: now + timedelta(hours=23, minutes=59))
    assert_error(post(api, DATASETS, {"name": "other"}, "old-key"), 422, "idempotency_key_reused")
    monkeypatch.setattr(idempotency, "clock", lambda: now + timedelta(hours=24, minutes=1))
    assert ok(post(api, DATASETS, {"name": "other"}, "old-key"), 201)["name"] == "other"  # a new request
    ok(post(api, DATASETS, {"name": "third"}, "fresh-key"), 201)
    result = app.test_cli_runner().invoke(args=["purge-idempotency-keys"])
    assert (result.exit_code, result.output) == (0, "1 idempotency keys deleted\n")
    with app.app_context(), db.connection_context():
        assert sorted(k.key for k in IdempotencyKey.select()) == ["fresh-key", "old-key"]


POSTS = {  # every POST, with a body that succeeds once, and its own roundtrips
    "N1": ("/namespaces", {"slug": "beta"}, 1),
    "P1": (f"{NS}/projects", {"slug": "lab"}, 2),
    "D1": (DATASETS, {"name": "train"}, 3),
    "C1": (COLLECTIONS, {"name": "clips", "dataset": "train", "members": ["n1"]}, 5),
    "C5": (f"{COLLECTIONS}/clips/members", {"add": ["n2"], "remove": ["n1"]}, 6),
    "V1": (f"{DATASETS}/train/versions", {}, 5),
}


def test_with_a_key_a_post_costs_two_roundtrips_more_and_a_replay_one(api, project):
    for contract_id, (path, body, own) in POSTS.items():
        first = post(api, path, body, f"key-{contract_id}")
        assert first.status_code in (200, 201), (contract_id, first.get_json())
        assert queries(first) == own + 2, contract_id
        assert queries(post(api, path, body, f"key-{contract_id}")) == 1, contract_id
