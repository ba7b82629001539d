"""service/compiled.py: reads whose SQL peewee writes once per query shape."""
from datetime import datetime

import pytest
from peewee import SQL

from service import compiled, data
from service.db import db
from service.models import Namespace


def _by_slugs(slugs, *, descending):
    order = Namespace.slug.desc() if descending else Namespace.slug
    return Namespace.select().where(compiled.in_array(Namespace.slug, slugs)).order_by(order)


def _inlined(slug):
    return Namespace.select().where(SQL(f"slug = '{slug}'"))


@pytest.fixture
def namespaces(app):
    with app.app_context(), db.connection_context():
        for slug in ("a", "b", "c"):
            Namespace.create(slug=slug, name=slug.upper())
        yield


def _shapes(build):
    return [key for key in compiled._COMPILED if key[0] is build and key[-1] is type(db.obj)]


def test_lists_of_any_length_share_one_sql(namespaces):
    for slugs in ([], ["a"], ["a", "c"], ["c", "b", "a", "zz"] * 50):
        found = compiled.rows(_by_slugs, compiled.array(slugs), descending=False)
        assert [row.slug for row in found] == [s for s in ("a", "b", "c") if s in slugs]
    assert len(_shapes(_by_slugs)) == 1


def test_each_shape_has_its_own_sql(namespaces):
    ascending = compiled.rows(_by_slugs, compiled.array(["a", "b"]), descending=False)
    descending = compiled.rows(_by_slugs, compiled.array(["a", "b"]), descending=True)
    assert [r.slug for r in ascending] == ["a", "b"] and [r.slug for r in descending] == ["b", "a"]
    assert len(_shapes(_by_slugs)) == 2


def test_values_reach_the_database_as_parameters(namespaces):
    assert compiled.rows(_by_slugs, compiled.array(["a' OR '1'='1"]), descending=False) == []
    with pytest.raises(RuntimeError, match="must reach the SQL as a parameter"):
        compiled.rows(_inlined, "a")


def test_rows_carry_the_values_their_fields_give(namespaces):
    row = compiled.first(_by_slugs, compiled.array(["b"]), descending=False)
    assert (row.slug, row.name) == ("b", "B") and isinstance(row.created_at, datetime)
    assert compiled.first(_by_slugs, compiled.array(["nope"]), descending=False) is None


def test_without_the_cache_every_read_answers_the_same(api, app, project):
    for body in ({"name": "d1", "tags": ["x", "y"], "metadata": {"k": [1]}}, {"name": "d2", "tags": ["y"]}):
        assert api.post(f"{project}/datasets", json=body).status_code == 201
    collection = {"name": "c", "dataset": "d1", "members": ["n2", "n1"]}
    assert api.post(f"{project}/collections", json=collection).status_code == 201

    def read_everything():
        with app.app_context(), db.connection_context():
            namespace = data.find_namespace("acme", {"acme", "other"})
            project_row = data.find_project(namespace, "vision")
            dataset = data.find_dataset(project_row, "d1")
            collection = data.find_collection(project_row, "c")
            first_page, after = data.Window(10, 0, ()), data.Window(1, 0, (dataset.created_at, dataset.id))
            return [namespace, project_row, dataset, collection, data.list_members(collection, first_page),
                    data.list_namespaces(None, first_page), data.list_projects(namespace, first_page),
                    data.list_datasets(project_row, first_page), data.list_datasets(project_row, after),
                    data.list_datasets(project_row, first_page, ["y", "x"]),
                    data.list_collections(project_row, first_page, "d1")]

    cached = read_everything()
    compiled.enabled = False
    try:
        uncached = read_everything()
    finally:
        compiled.enabled = True
    assert uncached == cached
    assert [d.name for d in cached[9][0]] == ["d1"] and cached[4] == (["n2", "n1"], None)


def test_an_insert_sends_what_create_sends_and_gives_the_row(app):
    from service.models import Dataset, Project

    with app.app_context(), db.connection_context():
        namespace = Namespace.create(slug="n", name="N")
        project = Project.create(namespace=namespace.id, slug="p", name="P")
        values = dict(namespace=namespace.id, project=project.id, description=None, tags=["é", "b"],
                      metadata='{"k":1}', created_by="alice", updated_by="alice")
        sent = []
        db.obj.query_hooks.append(lambda event: sent.append(event.sql))
        try:
            Dataset.create(**values, id="by-peewee", name="d")
            row = compiled.insert(Dataset, **values, id="compiled", name="e")
        finally:
            db.obj.query_hooks.pop()
        assert sent[0] == sent[1]
        assert (row.id, row.namespace_id, row.tags, row.version_count) == ("compiled", namespace.id, ["é", "b"], 0)
        stored = {d.id: d for d in Dataset.select()}
        assert stored["compiled"].tags == ["é", "b"] and stored["compiled"].created_at == row.created_at
        assert [stored["compiled"].__data__[k] for k in values if k not in ("namespace", "project")] == \
            [stored["by-peewee"].__data__[k] for k in values if k not in ("namespace", "project")]
