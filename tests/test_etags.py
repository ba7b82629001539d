"""Conditional requests (contract §8.3): every single-resource GET carries a strong ETag that
changes whenever its representation would; If-None-Match with it is a 304 that reads no
member; If-Match that does not name the current representation is a 412 that changes
nothing; PATCH and C5 answer with the new ETag. The race of two writes with one If-Match is
in tests/test_races.py."""
import pytest

from tests.support.api import (
    COLLECTIONS,
    DATASETS,
    NS,
    PROJECT,
    assert_error,
    create_collection,
    create_dataset,
    ok,
    queries,
)

DATASET, CLIPS = f"{DATASETS}/train", f"{COLLECTIONS}/clips"


@pytest.fixture
def world(api, project):
    create_dataset(api, "train", tags=["a"])
    create_dataset(api, "other")
    create_collection(api, "clips", dataset="train", members=["n1", "n2"])
    create_collection(api, "loose", members=["x"])
    ok(api.post(f"{DATASET}/versions", json={}), 201)


def etag(api, path):
    response = api.get(path)
    assert response.status_code == 200 and response.headers["ETag"].startswith('"'), response.headers
    return response.headers["ETag"]


@pytest.mark.parametrize("path, own", [(NS, 1), (PROJECT, 2), (DATASET, 3), (CLIPS, 3), (f"{DATASET}/versions/1", 3)])
def test_a_get_with_the_current_etag_is_a_304_without_its_members(api, world, path, own):
    tag = etag(api, path)
    again = api.get(path, headers={"If-None-Match": tag})
    assert (again.status_code, again.get_data(), again.headers["ETag"]) == (304, b"", tag)
    assert queries(again) == own  # the members are not read
    assert api.get(path, headers={"If-None-Match": '"stale", "other"'}).status_code == 200
    assert api.get(path).headers["ETag"] == tag  # the same representation, the same tag


FRONT, RENAMED = f"{COLLECTIONS}/front", f"{DATASETS}/renamed"
CHANGES = {  # what changes D3's and C3's representations: (method, path, body, {D3 now, C3 now: changed})
    "dataset patched": ("PATCH", DATASET, {"description": "x"}, {DATASET: True, CLIPS: False}),
    "member added": ("POST", f"{CLIPS}/members", {"add": ["n3"]}, {DATASET: True, CLIPS: True}),
    "member removed": ("POST", f"{CLIPS}/members", {"remove": ["n1"]}, {DATASET: True, CLIPS: True}),
    "collection renamed": ("PATCH", CLIPS, {"name": "front"}, {DATASET: True, FRONT: True}),
    "collection moved in": ("PATCH", f"{COLLECTIONS}/loose", {"dataset": "train"}, {DATASET: True, CLIPS: False}),
    "collection created": ("POST", COLLECTIONS, {"name": "new", "dataset": "train"}, {DATASET: True, CLIPS: False}),
    "collection deleted": ("DELETE", CLIPS, None, {DATASET: True}),
    "dataset renamed": ("PATCH", DATASET, {"name": "renamed"}, {RENAMED: True, CLIPS: True}),
}
UNCHANGED = {  # and what does not
    "a version frozen": ("POST", f"{DATASET}/versions", {}),
    "nothing to change": ("POST", f"{CLIPS}/members", {"add": ["n1"], "remove": ["zz"]}),
    "another dataset patched": ("PATCH", f"{DATASETS}/other", {"description": "y"}),
    "an empty patch": ("PATCH", DATASET, {}),
}


@pytest.mark.parametrize("change", CHANGES, ids=CHANGES.keys())
def test_the_etag_changes_with_the_representation(api, world, change):
    method, path, body, after = CHANGES[change]
    before = {DATASET: etag(api, DATASET), RENAMED: etag(api, DATASET), CLIPS: etag(api, CLIPS),
              FRONT: etag(api, CLIPS)}
    assert api.request(method, path, json=body).status_code in (200, 201)
    assert {p: etag(api, p) != before[p] for p in after} == after


@pytest.mark.parametrize("change", UNCHANGED, ids=UNCHANGED.keys())
def test_the_etag_stays_while_the_representation_does(api, world, change):
    method, path, body = UNCHANGED[change]
    before = {p: etag(api, p) for p in (DATASET, CLIPS)}
    assert api.request(method, path, json=body).status_code in (200, 201)
    assert {p: etag(api, p) for p in (DATASET, CLIPS)} == before


WRITES = {  # every write that takes If-Match, and the GET whose representation it names
    "D4": ("PATCH", DATASET, {"description": "changed"}, DATASET),
    "D5": ("DELETE", DATASET, None, DATASET),
    "C4": ("PATCH", CLIPS, {"name": "renamed"}, CLIPS),
    "C5": ("POST", f"{CLIPS}/members", {"add": ["n9"]}, CLIPS),
    "C6": ("DELETE", CLIPS, None, CLIPS),
}


@pytest.mark.parametrize("write", WRITES)
def test_a_stale_if_match_is_a_412_that_changes_nothing(api, world, write):
    method, path, body, resource = WRITES[write]
    stale = etag(api, resource)
    ok(api.post(f"{CLIPS}/members", json={"add": ["n-meanwhile"]}))  # both D3 and C3 change
    if resource == DATASET:
        ok(api.patch(DATASET, json={"description": "meanwhile"}))
    current = {p: api.get(p).get_data() for p in (DATASET, CLIPS)}
    assert_error(api.request(method, path, json=body, headers={"If-Match": stale}), 412, "precondition_failed")
    assert {p: api.get(p).get_data() for p in (DATASET, CLIPS)} == current


@pytest.mark.parametrize("write", WRITES)
def test_the_current_if_match_lets_the_write_through(api, world, write):
    method, path, body, resource = WRITES[write]
    response = api.request(method, path, json=body, headers={"If-Match": etag(api, resource)})
    assert response.status_code == 200, response.get_json()
    if method != "DELETE":  # PATCH and C5 answer with the new representation's tag
        path_now = f"{COLLECTIONS}/renamed" if body == {"name": "renamed"} else resource
        assert response.headers["ETag"] == etag(api, path_now)
    assert api.request(method, path, json=body, headers={"If-Match": "*"}).status_code in (200, 404, 409)
