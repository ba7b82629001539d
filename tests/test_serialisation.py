"""D2, D3 and the collection endpoints dump their rows through written-out functions
(schemas/datasets.py dump_list_item, dump_detail; schemas/collections.py dump_collection)
instead of marshmallow's per-field work. The marshmallow schemas stay the documented shape of
the responses: these tests hold both to the same output, for rows as each database gives
them back."""
import json
from types import SimpleNamespace

import pytest

from schemas.collections import collection_detail_schema, collection_schema, dump_collection
from schemas.datasets import (
    dataset_detail_schema,
    dataset_list_item_schema,
    dataset_schema,
    dump_dataset,
    dump_detail,
    dump_list_item,
)
from schemas.namespaces import dump_namespace, namespace_schema
from schemas.projects import dump_project, project_schema
from schemas.versions import dump_version, version_schema
from service import data, versions
from service.db import db
from tests.support.api import COLLECTIONS, DATASETS

DATASETS_CREATED = [
    {"name": "plain"},
    {"name": "full", "description": "Front camera, 2026 drives", "tags": ["night", "rain", "night"],
     "metadata": {"source": "fleet", "drives": [1, 2, 3], "nested": {"ok": True, "ratio": 0.25, "none": None}}},
    {"name": "unicode ünïcødé 日本", "description": "émoji 🚗 and \u2028 line separator",
     "tags": ["tëst", "🚦"], "metadata": {"clé": "valeur", "🔑": ["ü", "\\", "\""]}},
    {"name": "empty strings", "description": "", "tags": [], "metadata": {}},
]


@pytest.fixture
def datasets(api, project):
    for body in DATASETS_CREATED:
        assert api.post(DATASETS, json=body).status_code == 201
    for name, dataset, members in (("clips", "full", ["n2", "n1", "ñ/3 ☃"]), ("empty", "full", []),
                                   ("quoted", "plain", ['a"b', "c\\d", '\\"', "\u2028"]),
                                   ("more", "full", ["n9"]), ("elsewhere", "plain", ["x"])):
        assert api.post(COLLECTIONS, json={"name": name, "dataset": dataset, "members": members}).status_code == 201
    assert api.post(f"{COLLECTIONS}/clips/members", json={"add": ["n0", "n1"], "remove": ["n2"]}).status_code == 200
    return [body["name"] for body in DATASETS_CREATED]


PAGE = data.Window(50, 0, ())


def collections_of(dataset):
    """The dataset's collections ({id, name, members}), from the JSON chunks that D3 streams."""
    found = {}
    for collection_id, name, chunk in data.stream_dataset_members(dataset):
        found.setdefault(collection_id, {"id": collection_id, "name": name, "members": []})
        found[collection_id]["members"] += json.loads(chunk)
    return list(found.values())


def _project():
    namespace = data.find_namespace("acme", None)
    return data.find_project(namespace, "vision")


def test_list_items_dump_as_the_marshmallow_schema_does(app, datasets):
    with app.app_context(), db.connection_context():
        rows, total, _ = data.list_datasets(_project(), PAGE)
    assert total == len(rows) == len(datasets)
    for row in rows:
        assert dump_list_item(row) == dataset_list_item_schema.dump(row)
    assert [dump_list_item(row) for row in rows] == dataset_list_item_schema.dump(rows, many=True)


def test_namespaces_projects_and_datasets_dump_as_the_marshmallow_schemas_do(app, api, datasets):
    assert api.post("/namespaces/acme/projects", json={"slug": "bare"}).status_code == 201  # no description
    with app.app_context(), db.connection_context():
        namespace = data.find_namespace("acme", None)
        assert dump_namespace(namespace) == namespace_schema.dump(namespace)
        for slug in ("vision", "bare"):
            project = data.find_project(namespace, slug)
            assert dump_project(project) == project_schema.dump(project)
        for name in datasets:
            row = data.find_dataset(_project(), name)
            assert dump_dataset(row) == dataset_schema.dump(row)


def test_versions_dump_as_the_marshmallow_schema_does(app, api, datasets):
    for note in ("first", None):
        assert api.post(f"{DATASETS}/full/versions", json={} if note is None else {"note": note}).status_code == 201
    with app.app_context(), db.connection_context():
        rows, total, _, found = versions.list_versions(_project(), "full", PAGE)
    assert found and total == len(rows) == 2
    for row in rows:
        assert dump_version(row) == version_schema.dump(row)


def test_detail_dumps_as_the_marshmallow_schema_does(app, datasets):
    with app.app_context(), db.connection_context():
        project = _project()
        for name in datasets:
            row = data.find_dataset(project, name)
            collections = collections_of(row)
            expected = dataset_detail_schema.dump(SimpleNamespace(**row._asdict(), collections=collections))
            assert dump_detail(row, collections) == expected


def test_api_answers_what_the_marshmallow_schemas_would(api, app, datasets):
    listed = api.get(DATASETS).get_json()["datasets"]
    with app.app_context(), db.connection_context():
        project = _project()
        rows, *_ = data.list_datasets(project, PAGE)
        assert listed == dataset_list_item_schema.dump(rows, many=True)
        full = data.find_dataset(project, "full")
        expected = dataset_detail_schema.dump(
            SimpleNamespace(**full._asdict(), collections=collections_of(full)))
    detail = api.get(f"{DATASETS}/full").get_json()
    assert detail == expected
    assert {c["name"]: c["members"] for c in detail["collections"]} == {
        "clips": ["n1", "ñ/3 ☃", "n0"], "empty": [], "more": ["n9"]}
    assert api.get(f"{COLLECTIONS}/clips").get_json()["members"] == ["n1", "ñ/3 ☃", "n0"]


def test_collections_dump_as_the_marshmallow_schemas_do(app, datasets):
    with app.app_context(), db.connection_context():
        project = _project()
        rows, total, _, _ = data.list_collections(project, PAGE)
        assert total == len(rows) == 5
        for listed_row in rows:
            row = data.find_collection(project, listed_row.name)
            members = data.list_members(row, data.Window(10_000, 0, ()))[0]
            assert dump_collection(listed_row, listed_row.dataset_name) == collection_schema.dump(listed_row)
            assert dump_collection(row, row.dataset_name) == collection_schema.dump(row)
            detail = collection_detail_schema.dump(SimpleNamespace(**row._asdict(), members=members))
            assert dump_collection(row, row.dataset_name, members) == detail
