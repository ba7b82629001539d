"""P1–P3: creating, listing and reading the projects of a namespace."""
import pytest

from tests.support.api import NS, assert_error, assert_id, assert_timestamp, create, listed, ok

PROJECT_KEYS = {"id", "namespaceId", "slug", "name", "description", "createdAt", "updatedAt"}


@pytest.fixture
def namespace(api):
    return ok(api.post("/namespaces", json={"slug": "acme"}), 201)


def test_create_answers_201_with_the_project_and_defaults(api, namespace):
    created = ok(api.post(f"{NS}/projects", json={"slug": "vision"}), 201)
    assert set(created) == PROJECT_KEYS
    assert_id(created["id"])
    assert created["namespaceId"] == namespace["id"]
    assert (created["slug"], created["name"], created["description"]) == ("vision", "vision", None)
    assert_timestamp(created["createdAt"])
    assert_timestamp(created["updatedAt"])
    assert ok(api.get(f"{NS}/projects/vision")) == created


def test_create_keeps_the_given_name_and_description(api, namespace):
    body = {"slug": "vision", "name": "Vision team", "description": "Cameras.\nAnd lidar."}
    created = ok(api.post(f"{NS}/projects", json=body), 201)
    assert (created["name"], created["description"]) == (body["name"], body["description"])
    assert ok(api.get(f"{NS}/projects/vision")) == created


def test_a_taken_slug_is_409_in_its_namespace_only(api, namespace):
    first = ok(api.post(f"{NS}/projects", json={"slug": "vision", "name": "First"}), 201)
    assert_error(api.post(f"{NS}/projects", json={"slug": "vision", "name": "Second"}), 409, "conflict")
    assert listed(api, f"{NS}/projects", "projects")[0] == [first]

    ok(api.post("/namespaces", json={"slug": "globex"}), 201)
    elsewhere = ok(api.post("/namespaces/globex/projects", json={"slug": "vision"}), 201)
    assert elsewhere["id"] != first["id"]


@pytest.mark.parametrize("body, field", [
    ({}, "slug"),
    ({"slug": "Vision"}, "slug"),
    ({"slug": "-vision"}, "slug"),
    ({"slug": "vision", "name": ""}, "name"),
    ({"slug": "vision", "name": "x" * 129}, "name"),
    ({"slug": "vision", "description": "x" * 2001}, "description"),
    ({"slug": "vision", "namespaceId": "someone-else"}, "namespaceId"),
], ids=["missing-slug", "uppercase-slug", "leading-hyphen", "empty-name", "long-name", "long-description",
        "unknown-field"])
def test_a_bad_body_is_400_naming_the_field(api, namespace, body, field):
    error = assert_error(api.post(f"{NS}/projects", json=body), 400, "validation_error")
    assert field in error["fields"]
    assert listed(api, f"{NS}/projects", "projects")[1]["total"] == 0


def test_list_returns_only_the_namespaces_projects_oldest_first(api, namespace):
    created = [create(api, f"{NS}/projects", {"slug": slug}) for slug in ("zeta", "alpha", "mid")]
    ok(api.post("/namespaces", json={"slug": "globex"}), 201)
    ok(api.post("/namespaces/globex/projects", json={"slug": "other"}), 201)
    body = ok(api.get(f"{NS}/projects"))
    assert body == {"projects": created, "page": 1, "pageSize": 50, "total": 3, "totalPages": 1,
                    "nextCursor": None}


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/namespaces/missing/projects", {"slug": "vision"}),
    ("GET", "/namespaces/missing/projects", None),
    ("GET", "/namespaces/missing/projects/vision", None),
    ("GET", f"{NS}/projects/missing", None),
    ("GET", f"{NS}/projects/Vision", None),
], ids=["create-in-unknown-namespace", "list-of-unknown-namespace", "get-in-unknown-namespace",
        "unknown-project", "impossible-slug"])
def test_unknown_namespace_or_project_is_404(api, namespace, method, path, body):
    ok(api.post(f"{NS}/projects", json={"slug": "vision"}), 201)
    assert_error(api.request(method, path, json=body), 404, "not_found")
    assert listed(api, "/namespaces", "namespaces")[1]["total"] == 1
    assert listed(api, f"{NS}/projects", "projects")[1]["total"] == 1
