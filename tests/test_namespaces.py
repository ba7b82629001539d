"""N1–N3: creating, listing and reading namespaces."""
import pytest

from tests.support.api import assert_error, assert_id, assert_timestamp, create, listed, ok

NAMESPACE_KEYS = {"id", "slug", "name", "createdAt", "updatedAt"}


def assert_namespace(body, slug, name):
    assert set(body) == NAMESPACE_KEYS
    assert_id(body["id"])
    assert (body["slug"], body["name"]) == (slug, name)
    assert_timestamp(body["createdAt"])
    assert_timestamp(body["updatedAt"])


def test_create_answers_201_with_the_namespace_and_the_name_defaults_to_the_slug(api):
    created = ok(api.post("/namespaces", json={"slug": "acme"}), 201)
    assert_namespace(created, "acme", "acme")
    assert ok(api.get("/namespaces/acme")) == created


def test_create_keeps_the_given_name(api):
    created = ok(api.post("/namespaces", json={"slug": "acme", "name": "Acme Robotics"}), 201)
    assert_namespace(created, "acme", "Acme Robotics")
    assert ok(api.get("/namespaces/acme"))["name"] == "Acme Robotics"


def test_a_taken_slug_is_409_and_changes_nothing(api):
    first = ok(api.post("/namespaces", json={"slug": "acme", "name": "First"}), 201)
    assert_error(api.post("/namespaces", json={"slug": "acme", "name": "Second"}), 409, "conflict")
    items, body = listed(api, "/namespaces", "namespaces")
    assert (items, body["total"]) == ([first], 1)


@pytest.mark.parametrize("body, field", [
    ({}, "slug"),
    ({"slug": "Acme"}, "slug"),
    ({"slug": "acme_corp"}, "slug"),
    ({"slug": "acme", "name": ""}, "name"),
    ({"slug": "acme", "name": "x" * 129}, "name"),
    ({"slug": "acme", "owner": "bob"}, "owner"),
], ids=["missing-slug", "uppercase-slug", "underscore-slug", "empty-name", "long-name", "unknown-field"])
def test_a_bad_body_is_400_naming_the_field(api, body, field):
    error = assert_error(api.post("/namespaces", json=body), 400, "validation_error")
    assert field in error["fields"]
    assert listed(api, "/namespaces", "namespaces")[1]["total"] == 0


@pytest.mark.parametrize("namespaces", [("acme",), ()], ids=["one-namespace", "no-namespace"])
def test_only_a_token_for_every_namespace_may_create_one(api, token, namespaces):
    scoped = api.as_(token(namespaces=namespaces))
    assert_error(scoped.post("/namespaces", json={"slug": "acme"}), 403, "forbidden")
    assert_error(scoped.post("/namespaces", json={"slug": "other"}), 403, "forbidden")
    assert listed(api, "/namespaces", "namespaces")[1]["total"] == 0


def test_list_returns_every_namespace_oldest_first(api):
    created = [create(api, "/namespaces", {"slug": slug}) for slug in ("zeta", "alpha", "mid")]
    body = ok(api.get("/namespaces"))
    assert body == {"namespaces": created, "page": 1, "pageSize": 50, "total": 3, "totalPages": 1,
                    "nextCursor": None}


def test_get_answers_the_namespace(api):
    ok(api.post("/namespaces", json={"slug": "acme"}), 201)
    other = ok(api.post("/namespaces", json={"slug": "globex", "name": "Globex"}), 201)
    assert ok(api.get("/namespaces/globex")) == other


@pytest.mark.parametrize("path", ["/namespaces/missing", "/namespaces/ACME", "/namespaces/acme-",
                                  "/namespaces/acme/nothing-here"])
def test_get_of_an_unknown_namespace_is_404(api, path):
    ok(api.post("/namespaces", json={"slug": "acme"}), 201)
    assert_error(api.get(path), 404, "not_found")
