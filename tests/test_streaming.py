"""D3 and C3 stream their members (contract §8.4): the body is written as the database reads
it, a few chunks at a time, in the seed's shape and order; the status and headers are decided
before the first byte; a response closed early ends its transaction."""
import json
import time

import jwt
import pytest

from service.db import db
from tests.support.api import COLLECTIONS, DATASETS, create, ok
from tests.support.live import LiveServer

BIG = 10_000  # members: more than two chunks of positions


def big_collection(api):
    """Collection big in dataset train: node-0 … node-9999, then the even ones below 5,000
    removed and node-2 added again (a gap in the positions, and one at the end)."""
    create(api, DATASETS, {"name": "train"})
    create(api, COLLECTIONS, {"name": "big", "dataset": "train", "members": [f"node-{i}" for i in range(BIG)]})
    create(api, COLLECTIONS, {"name": "small", "dataset": "train", "members": ['a "quoted" \\ one']})
    ok(api.post(f"{COLLECTIONS}/big/members", json={"remove": [f"node-{i}" for i in range(0, 5000, 2)]}))
    ok(api.post(f"{COLLECTIONS}/big/members", json={"add": ["node-2"]}))
    return [f"node-{i}" for i in range(BIG) if i >= 5000 or i % 2] + ["node-2"]


def test_a_streamed_detail_is_the_whole_dataset_in_order(api, project):
    expected = big_collection(api)
    create(api, COLLECTIONS, {"name": "none", "dataset": "train"})
    detail = ok(api.get(f"{DATASETS}/train"))
    assert [(c["name"], c["members"]) for c in detail["collections"]] == \
        [("big", expected), ("small", ['a "quoted" \\ one']), ("none", [])]
    assert ok(api.get(f"{COLLECTIONS}/big"))["members"] == expected
    assert ok(api.get(f"{COLLECTIONS}/none"))["members"] == []


def test_the_body_is_written_in_pieces_with_its_headers_first(client, api, project):
    big_collection(api)
    response = client.get(f"{DATASETS}/train", headers={"Authorization": f"Bearer {api.bearer}"}, buffered=False)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "application/json")
    assert response.headers["ETag"] and 'desc="4 queries"' in response.headers["Server-Timing"]
    pieces = list(response.iter_encoded())
    response.close()
    assert len(pieces) > 1 and max(len(p) for p in pieces) < 256 * 1024
    assert json.loads(b"".join(pieces))["name"] == "train"


def test_a_response_closed_early_leaves_no_transaction_behind(app, client, api, project, backend):
    big_collection(api)
    response = client.get(f"{COLLECTIONS}/big", headers={"Authorization": f"Bearer {api.bearer}"}, buffered=False)
    next(iter(response.iter_encoded()))
    response.close()  # the client went away
    assert ok(api.get(f"{COLLECTIONS}/small"))["members"] == ['a "quoted" \\ one']
    if backend == "postgresql":
        with app.app_context(), db.connection_context():
            open_transactions = db.execute_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state IN ('idle in transaction', 'idle in transaction (aborted)')").fetchone()[0]
        assert open_transactions == 0


def test_more_rows_than_one_batch_stream_whole(api, project):
    """More chunks than the first batch reads (40 collections: 40 rows): the rest is read
    after the view has returned, on the same connection, in the same transaction."""
    create(api, DATASETS, {"name": "wide"})
    for i in range(40):
        create(api, COLLECTIONS, {"name": f"c{i:02d}", "dataset": "wide", "members": [f"n{i}", f"m{i}"]})
    response = api.get(f"{DATASETS}/wide")
    body = response.get_data()
    assert body.count(b'"collections":') == 1 and b'", "' not in body.split(b'"collections":')[0]
    assert [(c["name"], c["members"]) for c in json.loads(body)["collections"]] == \
        [(f"c{i:02d}", [f"n{i}", f"m{i}"]) for i in range(40)]
    assert ok(api.get(f"{COLLECTIONS}/c00"))["members"] == ["n0", "m0"]  # the connection is usable after


@pytest.mark.gunicorn
def test_under_gunicorn_a_wide_dataset_streams_whole_and_the_worker_goes_on(pg_url, tmp_path):
    """The same through a real gunicorn worker on PostgreSQL: the body is read after the view
    has returned, and the worker serves the next request on its connection."""
    secret = "stream-secret-" + "x" * 32
    env = {"DATABASE_URL": pg_url, "JWT_SECRET_KEY": secret, "SERVICE_ENV": "test", "LOG_LEVEL": "warning"}
    token = jwt.encode({"sub": "t", "namespaces": ["*"], "exp": int(time.time()) + 600}, secret, "HS256")
    with LiveServer(env, workers=1, log_path=tmp_path / "gunicorn.log") as live:
        for path, body in [("/namespaces", {"slug": "wide"}), ("/namespaces/wide/projects", {"slug": "p"}),
                           ("/namespaces/wide/projects/p/datasets", {"name": "d"})]:
            assert live.request("POST", path, body, token=token)[0] == 201
        for i in range(40):
            body = {"name": f"c{i:02d}", "dataset": "d", "members": [f"n{i}-{j}" for j in range(100)]}
            assert live.request("POST", "/namespaces/wide/projects/p/collections", body, token=token)[0] == 201
        for _ in range(3):
            status, _, detail = live.request("GET", "/namespaces/wide/projects/p/datasets/d", token=token)
            assert status == 200 and [len(c["members"]) for c in detail["collections"]] == [100] * 40
