"""Tenancy: a namespace outside the token's `namespaces` behaves exactly as if it did not
exist, on every endpoint, and nothing in it changes."""
import pytest

from tests.support.api import assert_error, create, listed, ok

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
]


def probe(api):
    """Status and body of every endpoint under the other namespace."""
    return [(method, path, *answer(api.request(method, path, json=body))) for method, path, body in ENDPOINTS]


def answer(response):
    return response.status_code, response.get_json()


def populate_other(admin):
    """Namespace `beta`, project `lab`, dataset `train` holding collection `clips`."""
    ok(admin.post("/namespaces", json={"slug": "beta"}), 201)
    ok(admin.post(f"{OTHER}/projects", json={"slug": "lab"}), 201)
    ok(admin.post(f"{OTHER_PROJECT}/datasets", json={"name": "train", "tags": ["cars"]}), 201)
    ok(admin.post(f"{OTHER_PROJECT}/collections", json={"name": "clips", "dataset": "train", "members": ["n1"]}), 201)


def other_state(admin):
    return [answer(admin.get(path)) for path in (
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
