"""D3 and C3 stream their members (contract §8.4): the body is written as the database reads
it, a few chunks at a time, in the seed's shape and order; the status and headers are decided
before the first byte; a response closed early ends its transaction."""
import json

from service.db import db
from tests.support.api import COLLECTIONS, DATASETS, create, ok

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
