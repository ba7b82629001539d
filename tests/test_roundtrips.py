"""docs/api.md states, for every endpoint, how many SQL roundtrips each of its responses
costs ("Roundtrips, measured"). These tests make each of those requests through HTTP on both
databases, read the count the response reports (Server-Timing), and fail when it differs
from the reference, or exceeds the contract's budget (contract §5), or when the reference
states an outcome that is not measured here (or the other way round)."""
import re
from pathlib import Path

import pytest

from service.db import db
from service.models import Collection, Dataset
from tests.support.api import NS, PROJECT, queries

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "api.md"

# Contract §5 and §8.1: the budget of each endpoint, in effective roundtrips (every statement here is
# sent one after another, so the effective count is the count).
BUDGET = {"N1": 1, "N2": 1, "N3": 1, "P1": 2, "P2": 2, "P3": 2, "D1": 3, "D2": 3, "D3": 4, "D4": 4, "D5": 4,
          "C1": 6, "C2": 3, "C3": 4, "C4": 5, "C5": 6, "C6": 3, "M1": 4, "R1": 3, "R2": 3, "V1": 5, "V2": 3, "V3": 5,
          "V4": 6, "T1": 3, "T2": 6, "T3": 6, "T4": 5, "H1": 0, "H2": 1, "O1": 0}

DATASET, OTHER_DATASET = "training-v2", "eval-set"
COLLECTION, STANDALONE = "front-camera-clips", "edge-cases"
ONE_NAMESPACE = ("acme",)  # a token for this namespace only
# In the trash (see `seeded`): a dataset, a collection deleted from a dataset, and one deleted
# while standalone.
TRASHED_DATASET, TRASHED_COLLECTION, TRASHED_STANDALONE = "trashed-dataset", "trashed-in-dataset", "trashed-alone"
TOO_LARGE = b"{" + b" " * (1024 * 1024) + b"}"  # one byte past the default MAX_CONTENT_LENGTH


def _reference():
    """{endpoint id: ({response label: roundtrips}, budget)} as docs/api.md states them."""
    sections = re.split(r"^### ", REFERENCE.read_text(encoding="utf-8"), flags=re.M)[1:]
    stated = {}
    for section in sections:
        endpoint = section.split(maxsplit=1)[0]
        budget = re.search(r"^\| Budget \| (\d+)", section, flags=re.M)
        table = re.search(r"^\| Response \| Roundtrips \|\n\|[-|]+\|\n((?:\|.*\n)+)", section, flags=re.M)
        assert budget and table, f"docs/api.md, {endpoint}: no Budget row or no 'Response | Roundtrips' table"
        rows = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in table.group(1).splitlines()]
        stated[endpoint] = ({label: int(n) for label, n in rows}, int(budget.group(1)))
    return stated


class Endpoint:
    """One endpoint and the requests of its documented outcomes. `path` has {namespace},
    {project}, {dataset}, {collection}, {node}, {version}, {from} and {to} fields; `ok` lists the
    success cases as (label, request options, path fields); `lookups` names what may be
    missing: a path field (its value becomes "missing"), or (what, request options[, path
    fields]) for a dataset named in the body or the query, or a row named by a path field
    whose "missing" would not even be routed (a version number); `bad_path` gives path fields
    that the endpoint refuses with a 400 before any lookup. The error cases follow from what
    the endpoint reads and looks up."""

    def __init__(self, method, path, ok, body=False, query=False, lookups=(), conflict=None, scoped=True,
                 all_namespaces=False, bad_path=None):
        self.method, self.path, self.ok = method, path, ok
        self.body, self.query, self.lookups, self.conflict = body, query, lookups, conflict
        self.scoped, self.all_namespaces, self.bad_path = scoped, all_namespaces, bad_path

    def url(self, **fields):
        values = {"namespace": "acme", "project": "vision", "dataset": DATASET, "collection": COLLECTION, "node": "n1",
                  "version": 1, "from": 1, "to": 2, "kind": "datasets", "item": TRASHED_DATASET,
                  "collection_item": TRASHED_COLLECTION, **fields}
        return self.path.format(**values)

    def cases(self):
        """(label, method, url, request options) of every outcome, errors first (they change nothing)."""
        first_ok = self.ok[0][1]
        if self.scoped:
            yield "401", self.method, self.url(), {**first_ok, "token_for": None}
        if self.all_namespaces:
            yield "403", self.method, self.url(), {**first_ok, "token_for": ONE_NAMESPACE}
        if self.body:
            yield "400", self.method, self.url(), {"json": {"unknown": 1}}
            yield "413", self.method, self.url(), {"data": TOO_LARGE, "content_type": "application/json"}
            yield "415", self.method, self.url(), {"data": b"{}", "content_type": "text/plain"}
        if self.query:
            yield "400", self.method, self.url(), {"query_string": {"page": "0"}}
        if self.bad_path:
            yield "400", self.method, self.url(**self.bad_path), first_ok
        for lookup in self.lookups:
            if isinstance(lookup, str):
                yield f"404, {lookup}", self.method, self.url(**{lookup: "missing"}), first_ok
            else:
                what, options, *fields = lookup
                yield f"404, {what}", self.method, self.url(**(fields[0] if fields else {})), options
        if self.conflict:
            yield "409", self.method, self.url(), {"json": self.conflict}
        yield "405", "PUT", self.url(), {}
        for label, options, fields in self.ok:
            yield label, self.method, self.url(**fields), options


PROJECT_PATH = "/namespaces/{namespace}/projects/{project}"
# A list's second page, by the cursor that its first page of one item gives (the test asks for it).
NEXT = "the next page's cursor"
BY_CURSOR = ("200, by `cursor`", {"query_string": {"pageSize": 1, "cursor": NEXT}}, {})
ENDPOINTS = {
    "N1": Endpoint("POST", "/namespaces", [("201", {"json": {"slug": "beta"}}, {})], body=True,
                   conflict={"slug": "acme"}, all_namespaces=True),
    "N2": Endpoint("GET", "/namespaces", [("200", {}, {}), BY_CURSOR], query=True),
    "N3": Endpoint("GET", "/namespaces/{namespace}", [("200", {}, {})], lookups=("namespace",)),
    "P1": Endpoint("POST", "/namespaces/{namespace}/projects", [("201", {"json": {"slug": "beta"}}, {})],
                   body=True, lookups=("namespace",), conflict={"slug": "vision"}),
    "P2": Endpoint("GET", "/namespaces/{namespace}/projects", [("200", {}, {}), BY_CURSOR], query=True,
                   lookups=("namespace",)),
    "P3": Endpoint("GET", PROJECT_PATH, [("200", {}, {})], lookups=("namespace", "project")),
    "D1": Endpoint("POST", f"{PROJECT_PATH}/datasets",
                   [("201", {"json": {"name": "beta", "tags": ["q2"], "metadata": {"v": 1}}}, {})], body=True,
                   lookups=("namespace", "project"), conflict={"name": DATASET}),
    "D2": Endpoint("GET", f"{PROJECT_PATH}/datasets",
                   [("200", {}, {}), ("200, with `tag`", {"query_string": {"tag": ["q1", "lidar"]}}, {}), BY_CURSOR],
                   query=True, lookups=("namespace", "project")),
    "D3": Endpoint("GET", f"{PROJECT_PATH}/datasets/{{dataset}}", [("200", {}, {})],
                   lookups=("namespace", "project", "dataset")),
    "D4": Endpoint("PATCH", f"{PROJECT_PATH}/datasets/{{dataset}}",
                   [("200", {"json": {"description": "Q2 training data", "tags": ["q2"]}}, {}),
                    ("200, `{}`", {"json": {}}, {})],
                   body=True, lookups=("namespace", "project", "dataset"), conflict={"name": OTHER_DATASET}),
    "D5": Endpoint("DELETE", f"{PROJECT_PATH}/datasets/{{dataset}}", [("200", {}, {})],
                   lookups=("namespace", "project", "dataset")),
    "C1": Endpoint("POST", f"{PROJECT_PATH}/collections",
                   [("201", {"json": {"name": "a"}}, {}),
                    ("201, with `members`", {"json": {"name": "b", "members": ["n1"]}}, {}),
                    ("201, with `dataset`", {"json": {"name": "c", "dataset": DATASET}}, {}),
                    ("201, with `dataset` and `members`",
                     {"json": {"name": "d", "dataset": DATASET, "members": ["n1", "n2"]}}, {}),
                    ("201, with `from`", {"json": {"name": "f", "from": {"union": [COLLECTION, STANDALONE]}}}, {}),
                    ("201, with `from`, no members",
                     {"json": {"name": "g", "from": {"intersection": [COLLECTION, STANDALONE]}}}, {}),
                    ("201, with `dataset` and `from`",
                     {"json": {"name": "h", "dataset": DATASET, "from": {"difference": [COLLECTION, STANDALONE]}}}, {}),
                    ("409, with `from`", {"json": {"name": STANDALONE, "from": {"union": [COLLECTION, "f"]}}}, {})],
                   body=True, lookups=("namespace", "project", ("dataset", {"json": {"name": "e", "dataset": "x"}}),
                                       ("collection", {"json": {"name": "e", "from": {"union": [COLLECTION, "x"]}}})),
                   conflict={"name": COLLECTION}),
    "C2": Endpoint("GET", f"{PROJECT_PATH}/collections",
                   [("200", {}, {}), ("200, with `dataset`", {"query_string": {"dataset": DATASET}}, {}),
                    ("200, with `standalone=true`", {"query_string": {"standalone": "true"}}, {}), BY_CURSOR],
                   query=True, lookups=("namespace", "project", ("dataset", {"query_string": {"dataset": "x"}}))),
    "C3": Endpoint("GET", f"{PROJECT_PATH}/collections/{{collection}}", [("200", {}, {})],
                   lookups=("namespace", "project", "collection")),
    "C4": Endpoint("PATCH", f"{PROJECT_PATH}/collections/{{collection}}",
                   [("200, `{}`", {"json": {}}, {}),
                    ("200, with `name`", {"json": {"name": "front-camera"}}, {}),
                    ("200, with `dataset`", {"json": {"dataset": DATASET}}, {"collection": STANDALONE}),
                    ("200, with `dataset: null`", {"json": {"dataset": None}}, {"collection": STANDALONE})],
                   body=True, lookups=("namespace", "project", "collection", ("dataset", {"json": {"dataset": "x"}})),
                   conflict={"name": STANDALONE}),
    "C5": Endpoint("POST", f"{PROJECT_PATH}/collections/{{collection}}/members",
                   [("200, `{}`", {"json": {}}, {}),
                    ("200, nothing to change", {"json": {"add": ["n1"], "remove": ["n9"]}}, {}),
                    ("200, with `add`", {"json": {"add": ["n3"]}}, {}),
                    ("200, with `add` and `remove`", {"json": {"add": ["n4"], "remove": ["n1"]}}, {})],
                   body=True, lookups=("namespace", "project", "collection")),
    "M1": Endpoint("GET", f"{PROJECT_PATH}/collections/{{collection}}/members",
                   [("200", {}, {}), ("200, by `cursor`", {"query_string": {"limit": 1, "cursor": NEXT}}, {})],
                   query=True, lookups=("namespace", "project", "collection")),
    "C6": Endpoint("DELETE", f"{PROJECT_PATH}/collections/{{collection}}", [("200", {}, {})],
                   lookups=("namespace", "project", "collection")),
    "R1": Endpoint("GET", f"{PROJECT_PATH}/nodes/{{node}}/collections", [("200", {}, {})],
                   lookups=("namespace", "project", ("node ID", {}, {"node": "x" * 257}))),
    "R2": Endpoint("POST", f"{PROJECT_PATH}/nodes/lookup",
                   [("200", {"json": {"nodeIds": ["n1", "n2", "n9"]}}, {}),
                    ("200, 10,000 node IDs", {"json": {"nodeIds": [f"n{i}" for i in range(10_000)]}}, {})],
                   body=True, lookups=("namespace", "project")),
    "V1": Endpoint("POST", f"{PROJECT_PATH}/datasets/{{dataset}}/versions",
                   [("201", {"json": {"note": "resnet50 run"}}, {})], body=True,
                   lookups=("namespace", "project", "dataset")),
    "V2": Endpoint("GET", f"{PROJECT_PATH}/datasets/{{dataset}}/versions", [("200", {}, {}), BY_CURSOR], query=True,
                   lookups=("namespace", "project", "dataset")),
    "V3": Endpoint("GET", f"{PROJECT_PATH}/datasets/{{dataset}}/versions/{{version}}", [("200", {}, {})],
                   lookups=("namespace", "project", "dataset", ("version", {}, {"version": 9}))),
    "V4": Endpoint("GET", f"{PROJECT_PATH}/datasets/{{dataset}}/versions/{{from}}/diff/{{to}}",
                   [("200", {}, {}), ("200, to `current`", {}, {"to": "current"})], bad_path={"from": "x"},
                   lookups=("namespace", "project", "dataset", ("version", {}, {"to": 9}))),
    "T1": Endpoint("GET", f"{PROJECT_PATH}/trash",
                   [("200", {}, {}), ("200, with `kind`", {"query_string": {"kind": "collection"}}, {}), BY_CURSOR],
                   query=True,
                   lookups=("namespace", "project")),
    "T2": Endpoint("POST", f"{PROJECT_PATH}/trash/datasets/{{item}}/restore", [("200", {"json": {}}, {})], body=True,
                   lookups=("namespace", "project", ("dataset", {"json": {}}, {"item": "missing"})),
                   conflict={"name": DATASET}),
    "T3": Endpoint("POST", f"{PROJECT_PATH}/trash/collections/{{collection_item}}/restore",
                   [("200, into its dataset", {"json": {}}, {}),
                    ("200, standalone", {"json": {}}, {"collection_item": TRASHED_STANDALONE})], body=True,
                   lookups=("namespace", "project", ("collection", {"json": {}}, {"collection_item": "missing"})),
                   conflict={"name": COLLECTION}),
    "T4": Endpoint("DELETE", f"{PROJECT_PATH}/trash/{{kind}}/{{item}}",
                   [("200, a dataset", {}, {}),
                    ("200, a collection", {}, {"kind": "collections", "item": TRASHED_COLLECTION})],
                   lookups=("namespace", "project", ("dataset", {}, {"item": "missing"}),
                            ("collection", {}, {"kind": "collections", "item": "missing"}))),
    "H1": Endpoint("GET", "/healthz", [("200", {}, {})], scoped=False),
    "H2": Endpoint("GET", "/readyz", [("200", {}, {})], scoped=False),
    "O1": Endpoint("GET", "/openapi.json", [("200", {}, {})], scoped=False),
}


@pytest.fixture
def seeded(api):
    """acme/vision with datasets training-v2 (tags q1, lidar) and eval-set, collection
    front-camera-clips in training-v2 (members n1, n2, then n5 too), the standalone collection
    edge-cases, and versions 1 (n1, n2) and 2 (n1, n2, n5) of training-v2, n2 removed since; in
    the trash, a dataset whose deletion made its collection standalone, a collection deleted
    from training-v2 and one deleted standalone, with the IDs TRASHED_* (set in the database)."""
    versions, members = f"{PROJECT}/datasets/{DATASET}/versions", f"{PROJECT}/collections/{COLLECTION}/members"
    for path, body, status in [("/namespaces", {"slug": "acme"}, 201), (f"{NS}/projects", {"slug": "vision"}, 201),
                               (f"{PROJECT}/datasets", {"name": DATASET, "tags": ["q1", "lidar"]}, 201),
                               ("/namespaces", {"slug": "other"}, 201), (f"{NS}/projects", {"slug": "other"}, 201),
                               (f"{PROJECT}/datasets", {"name": OTHER_DATASET}, 201),
                               (f"{PROJECT}/collections",
                                {"name": COLLECTION, "dataset": DATASET, "members": ["n1", "n2"]}, 201),
                               (f"{PROJECT}/collections", {"name": STANDALONE}, 201),
                               (versions, {}, 201), (members, {"add": ["n5"]}, 200), (versions, {}, 201),
                               (members, {"remove": ["n2"]}, 200)]:
        assert api.post(path, json=body).status_code == status, path
    trashed = {"datasets": {"old-set": TRASHED_DATASET},
               "collections": {"old-clips": TRASHED_COLLECTION, "old-alone": TRASHED_STANDALONE}}
    for path, body in [(f"{PROJECT}/datasets", {"name": "old-set"}),
                       (f"{PROJECT}/collections", {"name": "old-set-clips", "dataset": "old-set"}),
                       (f"{PROJECT}/collections", {"name": "old-clips", "dataset": DATASET}),
                       (f"{PROJECT}/collections", {"name": "old-alone"})]:
        assert api.post(path, json=body).status_code == 201, path
    for kind, model in (("datasets", Dataset), ("collections", Collection)):
        for name, new_id in trashed[kind].items():
            assert api.delete(f"{PROJECT}/{kind}/{name}").status_code == 200
            with db.connection_context():
                old_id = model.get(model.name == name).id
                model.update(id=new_id).where(model.id == old_id).execute()
                Collection.update(former_dataset_id=new_id).where(Collection.former_dataset_id == old_id).execute()
    return api


def test_reference_states_every_endpoint_and_its_budget():
    stated = _reference()
    assert set(stated) == set(ENDPOINTS)
    assert {endpoint: budget for endpoint, (_, budget) in stated.items()} == BUDGET


@pytest.mark.parametrize("endpoint_id", list(ENDPOINTS))
def test_measured_roundtrips_are_the_reference(seeded, token, endpoint_id):
    measured = {}
    for label, method, url, options in ENDPOINTS[endpoint_id].cases():
        options = dict(options)
        api = seeded
        if "token_for" in options:  # None: no token at all; else a token for these namespaces only
            namespaces = options.pop("token_for")
            api = seeded.as_(token(namespaces=namespaces) if namespaces else None)
        if options.get("query_string", {}).get("cursor") == NEXT:
            size = {key: 1 for key in ("pageSize", "limit") if key in options["query_string"]}
            first_page = api.get(url, query_string=size).get_json()
            options["query_string"] = {**size, "cursor": first_page["nextCursor"]}
        response = api.request(method, url, **options)
        expected_status = int(label.split(",")[0])
        assert response.status_code == expected_status, (label, method, url, response.get_data(as_text=True))
        measured[label] = queries(response)
    stated, _ = _reference()[endpoint_id]
    assert measured == stated
    assert max(measured.values()) <= BUDGET[endpoint_id]
