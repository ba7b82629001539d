"""Tenancy (OWASP API1): a namespace outside the token's `namespaces` behaves exactly as if it
did not exist, on every endpoint and with every method, and nothing in it changes; lists and
details in a namespace never show a row of another, although both hold the same names.

The first tests are generated from the app's routes: a token for namespace `acme` asking about
namespace `other` gets exactly the answer (status, headers, bytes) it got before `other`
existed, and no row of the database changes. The tests after them are written by hand: query
strings, tokens scoped to no namespace or to names near the other's, the token's own
namespace, and the list of namespaces."""
import pytest

from service.db import db
from service.models import Collection, Dataset, Namespace, Project
from tests.support.api import assert_error, create, listed, ok
from tests.support.dbstate import assert_unchanged, table_rows

# A valid body for every endpoint that takes one, so that a request passes validation and
# reaches the namespace check (and succeeds with a token that may act in the namespace).
BODIES = {
    "api.projects.create_project": {"slug": "fresh"},
    "api.datasets.create_dataset": {"name": "fresh", "tags": ["t"], "metadata": {"k": 1}},
    "api.datasets.update_dataset": {"description": "changed", "tags": ["u"]},
    "api.collections.create_collection": {"name": "fresh", "dataset": "shared", "members": ["n9"]},
    "api.collections.update_collection": {"dataset": None},
    "api.collections.change_members": {"add": ["n9"], "remove": ["n1"]},
    "api.versions.create_version": {"note": "frozen"},
    "api.trash.restore_dataset": {},
    "api.trash.restore_collection": {"name": "back"},
    "api.nodes.lookup_nodes": {"nodeIds": ["n1", "n3", "n9"]},
}
URL_VALUES = {"project_slug": "vision", "name": "shared", "number": 1, "from_number": "1", "to_number": "current",
              "node_id": "n1"}
# The trash's items, by endpoint: one of each kind to restore, one to purge (see populate).
TRASH_IDS = {"api.trash.restore_dataset": "SLUG-restored", "api.trash.purge_dataset": "SLUG-purged",
             "api.trash.restore_collection": "SLUG-restored", "api.trash.purge_collection": "SLUG-purged"}
# Reads first, then writes, deletes last: the order in which they all succeed once.
METHOD_ORDER = ["GET", "HEAD", "OPTIONS", "POST", "PATCH", "DELETE"]


def namespaced_requests(app):
    """(method, path, body) for every route under /namespaces/<slug> and every method it
    takes, built for namespace `{slug}` (format it)."""
    adapter = app.url_map.bind("localhost")
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/namespaces/<"):
            continue
        for method in rule.methods:
            if method in ("POST", "PATCH"):
                assert rule.endpoint in BODIES, f"give {rule.endpoint} a valid body in BODIES"
            values = {key: URL_VALUES.get(key, "SLUG") for key in rule.arguments}
            values.update({key: TRASH_IDS[rule.endpoint] for key in ("dataset_id", "collection_id") if key in values})
            path = adapter.build(rule.endpoint, values, method=method).replace("SLUG", "{slug}")
            found[method, path] = BODIES.get(rule.endpoint)
    assert len({path for _, path in found}) >= 8, found
    return [(m, p, found[m, p]) for m, p in sorted(found, key=lambda mp: (METHOD_ORDER.index(mp[0]), mp[1]))]


def populate(api, slug):
    """Namespace `slug`, its project `vision`, dataset `shared` holding collection `shared`
    (members n1, n2; frozen as version 1, then n4 and `<slug>-node` added), a standalone
    collection `solo`, and in the trash datasets and collections `restored` and `purged` (IDs
    `<slug>-restored` and `<slug>-purged`): the same names in every namespace."""
    project = f"/namespaces/{slug}/projects/vision"
    for path, body in ((("/namespaces", {"slug": slug})), (f"/namespaces/{slug}/projects", {"slug": "vision"}),
                       (f"{project}/datasets", {"name": "shared", "tags": ["t"]}),
                       (f"{project}/collections", {"name": "shared", "dataset": "shared", "members": ["n1", "n2"]}),
                       (f"{project}/collections", {"name": "solo", "members": ["n3"]}),
                       (f"{project}/datasets/shared/versions", {}),
                       (f"{project}/collections/shared/members", {"add": ["n4", f"{slug}-node"]})):
        response = api.post(path, json=body)
        assert response.status_code in (200, 201), response.get_json()
    for kind, model in (("datasets", Dataset), ("collections", Collection)):
        for name in ("restored", "purged"):
            created = create(api, f"{project}/{kind}", {"name": name})
            assert api.delete(f"{project}/{kind}/{name}").status_code == 200
            with db.connection_context():
                model.update(id=f"{slug}-{name}").where(model.id == created["id"]).execute()


def send(api, method, path, body):
    return api.request(method, path, json=body)


def observed(response):
    """What a client can observe, except the request ID and the time spent."""
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("X-Request-ID", "Server-Timing"))
    return response.status_code, headers, response.get_data(), response.headers.get("Server-Timing", "").split(";")[-1]


def namespace_ids(slug):
    """The ID of namespace `slug` and of every row under it, and the node ID only it holds."""
    namespace = Namespace.get(Namespace.slug == slug)
    ids = {namespace.id, f"{slug}-node"}
    for model in (Project, Dataset, Collection):
        ids.update(row.id for row in model.select(model.id).where(model.namespace == namespace.id))
    return ids


def test_another_namespace_answers_as_if_it_did_not_exist_and_changes_nothing(app, api, token):
    tenant = api.as_(token(["acme"]))
    populate(api, "acme")
    requests = namespaced_requests(app)
    absent = {(m, p): observed(send(tenant, m, p.format(slug="other"), b)) for m, p, b in requests}
    for (method, path), (status, *_) in absent.items():
        assert status == (200 if method == "OPTIONS" else 404), (method, path, status)

    populate(api, "other")
    before = table_rows()
    for method, path, body in requests:
        response = send(tenant, method, path.format(slug="other"), body)
        assert observed(response) == absent[(method, path)], (method, path)
        assert_unchanged(before, (method, path))

    for method, path, body in requests:  # the same requests are valid: they succeed in scope
        response = send(api, method, path.format(slug="other"), body)
        assert response.status_code < 300, (method, path, response.get_json())


def test_nothing_shown_in_a_namespace_belongs_to_another(app, api, token):
    tenant = api.as_(token(["acme"]))
    populate(api, "acme")
    populate(api, "other")
    with app.app_context():
        ours, theirs = namespace_ids("acme"), namespace_ids("other")
    reads = [(m, p, b) for m, p, b in namespaced_requests(app) if m == "GET"]
    for method, path, body in [("GET", "/namespaces", None), *reads]:
        response = send(tenant, method, path.format(slug="acme"), body)
        assert response.status_code == 200, (path, response.get_json())
        text = response.get_data(as_text=True)
        assert not [i for i in theirs if i in text], (path, text)
        assert [i for i in ours if i in text], (path, text)


# -- by hand: query strings, token scopes, the token's own namespace, the list of namespaces --

OTHER = "/namespaces/beta"
OTHER_PROJECT = f"{OTHER}/projects/lab"

# Every endpoint under a namespace, with a body that passes validation.
ENDPOINTS = [
    ("GET", OTHER, None),
    ("POST", f"{OTHER}/projects", {"slug": "new-project"}),
    ("GET", f"{OTHER}/projects", None),
    ("GET", OTHER_PROJECT, None),
    ("POST", f"{OTHER_PROJECT}/datasets", {"name": "new-dataset"}),
    ("GET", f"{OTHER_PROJECT}/datasets", None),
    ("GET", f"{OTHER_PROJECT}/datasets?tag=cars", None),
    ("GET", f"{OTHER_PROJECT}/datasets/train", None),
    ("PATCH", f"{OTHER_PROJECT}/datasets/train", {"description": "changed"}),
    ("DELETE", f"{OTHER_PROJECT}/datasets/train", None),
    ("POST", f"{OTHER_PROJECT}/collections", {"name": "new-collection", "dataset": "train", "members": ["x"]}),
    ("GET", f"{OTHER_PROJECT}/collections", None),
    ("GET", f"{OTHER_PROJECT}/collections?dataset=train", None),
    ("GET", f"{OTHER_PROJECT}/collections?standalone=true", None),
    ("GET", f"{OTHER_PROJECT}/collections/clips", None),
    ("PATCH", f"{OTHER_PROJECT}/collections/clips", {"name": "renamed", "dataset": None}),
    ("POST", f"{OTHER_PROJECT}/collections/clips/members", {"add": ["x"], "remove": ["n1"]}),
    ("DELETE", f"{OTHER_PROJECT}/collections/clips", None),
    ("GET", f"{OTHER_PROJECT}/nodes/n1/collections", None),
    ("POST", f"{OTHER_PROJECT}/nodes/lookup", {"nodeIds": ["n1"]}),
    ("POST", f"{OTHER_PROJECT}/datasets/train/versions", {"note": "mine"}),
    ("GET", f"{OTHER_PROJECT}/datasets/train/versions", None),
    ("GET", f"{OTHER_PROJECT}/datasets/train/versions/1", None),
    ("GET", f"{OTHER_PROJECT}/datasets/train/versions/1/diff/current", None),
]


def probe(api):
    """Status and body of every endpoint under the other namespace."""
    return [(method, path, *status_and_body(api.request(method, path, json=body))) for method, path, body in ENDPOINTS]


def status_and_body(response):
    return response.status_code, response.get_json()


def populate_other(admin):
    """Namespace `beta`, project `lab`, dataset `train` holding collection `clips`."""
    ok(admin.post("/namespaces", json={"slug": "beta"}), 201)
    ok(admin.post(f"{OTHER}/projects", json={"slug": "lab"}), 201)
    ok(admin.post(f"{OTHER_PROJECT}/datasets", json={"name": "train", "tags": ["cars"]}), 201)
    ok(admin.post(f"{OTHER_PROJECT}/collections", json={"name": "clips", "dataset": "train", "members": ["n1"]}), 201)
    ok(admin.post(f"{OTHER_PROJECT}/datasets/train/versions", json={}), 201)


def other_state(admin):
    return [status_and_body(admin.get(path)) for path in (
        "/namespaces?pageSize=200", OTHER, f"{OTHER}/projects", f"{OTHER_PROJECT}/datasets",
        f"{OTHER_PROJECT}/datasets/train", f"{OTHER_PROJECT}/collections", f"{OTHER_PROJECT}/collections/clips")]


@pytest.mark.parametrize("scope", [("acme",), (), ("acme", "beta-2", "bet")], ids=["one", "none", "near-names"])
def test_a_namespace_outside_the_token_answers_as_if_it_did_not_exist(api, token, scope):
    ok(api.post("/namespaces", json={"slug": "acme"}), 201)
    outsider = api.as_(token(namespaces=scope))
    before_it_existed = probe(outsider)
    assert {(status, body["error"]["code"]) for _, _, status, body in before_it_existed} == {(404, "not_found")}

    populate_other(api)
    state = other_state(api)
    assert probe(outsider) == before_it_existed
    assert other_state(api) == state


def test_the_tokens_own_namespace_is_reachable(api, token):
    ok(api.post("/namespaces", json={"slug": "acme"}), 201)
    populate_other(api)
    assert ok(api.as_(token(namespaces=("beta",))).get(f"{OTHER_PROJECT}/collections/clips"))["members"] == ["n1"]


@pytest.mark.parametrize("scope, visible", [
    (("acme",), ["acme"]),
    (("gamma", "acme", "missing"), ["acme", "gamma"]),
    ((), []),
    (("*",), ["acme", "beta", "gamma"]),
    (("acme", "*"), ["acme", "beta", "gamma"]),
])
def test_list_of_namespaces_holds_only_the_tokens_namespaces(api, token, scope, visible):
    for slug in ("acme", "beta", "gamma"):
        create(api, "/namespaces", {"slug": slug})
    items, body = listed(api.as_(token(namespaces=scope)), "/namespaces", "namespaces")
    assert ([item["slug"] for item in items], body["total"], body["totalPages"]) == \
           (visible, len(visible), 1 if visible else 0)


def test_a_token_without_namespaces_sees_nothing(api, token):
    ok(api.post("/namespaces", json={"slug": "acme"}), 201)
    ok(api.post("/namespaces/acme/projects", json={"slug": "vision"}), 201)
    nobody = api.as_(token(namespaces=()))
    assert listed(nobody, "/namespaces", "namespaces")[1]["total"] == 0
    for path in ("/namespaces/acme", "/namespaces/acme/projects", "/namespaces/acme/projects/vision/datasets"):
        assert_error(nobody.get(path), 404, "not_found")
