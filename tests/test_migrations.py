"""Versioned schema: a database of the previous version, holding rows of every kind, taken
forward by the real `flask --app wsgi migrate` command; and several processes starting at
once on one empty database."""
import json
import os
import subprocess
import sys
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from service import create_app
from service.auth import mint_token
from service.db import db
from service.migrations import SCHEMA_VERSION
from tests.support.api import Api
from tests.support.databases import connect, new_postgres_database, placeholder
from tests.support.live import ROOT

FLASK = str(Path(sys.executable).with_name("flask"))
V1_SCHEMA = Path(__file__).parent / "schema_v1"
SECRET = "migration-test-secret-" + "m" * 32


def _t(day):
    """A stored timestamp (peewee's text form on SQLite; PostgreSQL parses it)."""
    return f"2025-03-{day:02d} 10:00:00.123000"


# Version 1 rows of every table, soft-deleted ones included (a deleted row may share the
# name of a live one).
ROWS = {
    "namespace": [
        {"id": "ns-acme", "created_at": _t(1), "updated_at": _t(1), "deleted_at": None, "slug": "acme", "name": "Acme"},
        {"id": "ns-beta", "created_at": _t(2), "updated_at": _t(3), "deleted_at": None, "slug": "beta", "name": "β"},
        {"id": "ns-old", "created_at": _t(1), "updated_at": _t(4), "deleted_at": _t(4), "slug": "acme",
         "name": "old acme"},
    ],
    "project": [
        {"id": "p-vision", "created_at": _t(2), "updated_at": _t(2), "deleted_at": None, "namespace_id": "ns-acme",
         "slug": "vision", "name": "Vision", "description": "cameras"},
        {"id": "p-empty", "created_at": _t(3), "updated_at": _t(3), "deleted_at": None, "namespace_id": "ns-acme",
         "slug": "empty", "name": "empty", "description": None},
        {"id": "p-gone", "created_at": _t(2), "updated_at": _t(5), "deleted_at": _t(5),
         "namespace_id": "ns-acme", "slug": "vision", "name": "old vision", "description": None},
        {"id": "p-beta", "created_at": _t(4), "updated_at": _t(4), "deleted_at": None, "namespace_id": "ns-beta",
         "slug": "lidar", "name": "Lidar", "description": "déjà vu"},
    ],
    "dataset": [
        {"id": "d-cars", "created_at": _t(5), "updated_at": _t(6), "deleted_at": None, "namespace_id": "ns-acme",
         "project_id": "p-vision", "name": "cars", "description": "street scenes", "tags": '["day","night"]',
         "metadata": '{"z": 1, "a": [1, 2], "ключ": "значение"}'},
        {"id": "d-bikes", "created_at": _t(6), "updated_at": _t(6), "deleted_at": None, "namespace_id": "ns-acme",
         "project_id": "p-vision", "name": "bikes", "description": None, "tags": "[]", "metadata": None},
        {"id": "d-cars-old", "created_at": _t(4), "updated_at": _t(5), "deleted_at": _t(5),
         "namespace_id": "ns-acme", "project_id": "p-vision", "name": "cars", "description": None,
         "tags": '["old"]', "metadata": "{}"},
        {"id": "d-orphan", "created_at": _t(3), "updated_at": _t(3), "deleted_at": None, "namespace_id": "ns-acme",
         "project_id": "p-gone", "name": "orphan", "description": None, "tags": "[]", "metadata": None},
        {"id": "d-x", "created_at": _t(7), "updated_at": _t(8), "deleted_at": _t(8), "namespace_id": "ns-beta",
         "project_id": "p-beta", "name": "x", "description": None, "tags": "[]", "metadata": None},
        {"id": "d-y", "created_at": _t(8), "updated_at": _t(8), "deleted_at": None, "namespace_id": "ns-beta",
         "project_id": "p-beta", "name": "y", "description": None, "tags": '["scan"]', "metadata": '{"k": null}'},
    ],
    "collection": [
        {"id": "c-train", "created_at": _t(7), "updated_at": _t(9), "deleted_at": None, "namespace_id": "ns-acme",
         "project_id": "p-vision", "dataset_id": "d-cars", "member_count": 2, "member_seq": 3, "name": "train"},
        {"id": "c-loose", "created_at": _t(8), "updated_at": _t(8), "deleted_at": None, "namespace_id": "ns-acme",
         "project_id": "p-vision", "dataset_id": None, "member_count": 1, "member_seq": 1, "name": "loose"},
        {"id": "c-train-old", "created_at": _t(6), "updated_at": _t(7), "deleted_at": _t(7),
         "namespace_id": "ns-acme", "project_id": "p-vision", "dataset_id": "d-cars", "member_count": 1,
         "member_seq": 1, "name": "train"},
        {"id": "c-ys", "created_at": _t(9), "updated_at": _t(9), "deleted_at": None, "namespace_id": "ns-beta",
         "project_id": "p-beta", "dataset_id": "d-y", "member_count": 0, "member_seq": 0, "name": "ys"},
    ],
    "member": [
        {"namespace_id": "ns-acme", "collection_id": "c-train", "node_id": "node-1", "position": 1},
        {"namespace_id": "ns-acme", "collection_id": "c-train", "node_id": "node-3", "position": 3},
        {"namespace_id": "ns-acme", "collection_id": "c-loose", "node_id": "clip/ünï côde", "position": 1},
        {"namespace_id": "ns-acme", "collection_id": "c-train-old", "node_id": "node-9", "position": 1},
    ],
}
ORDER = {"member": "collection_id, node_id", "schema_version": "version"}


def migrate(url):
    """`flask --app wsgi migrate` as an operator runs it, with DATABASE_URL set."""
    env = {**os.environ, "DATABASE_URL": url, "SERVICE_ENV": "production", "JWT_SECRET_KEY": SECRET}
    return subprocess.run([FLASK, "--app", "wsgi", "migrate"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def migrated(url):
    result = migrate(url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"schema at version {SCHEMA_VERSION}"), result.stdout
    return result


def rows(url):
    """Every row of every table, in primary key order, as dicts."""
    with closing(connect(url)) as conn:
        cur = conn.cursor()
        out = {}
        for table in [*ROWS, "schema_version"]:
            cur.execute(f'SELECT * FROM "{table}" ORDER BY {ORDER.get(table, "id")}')
            names = [c[0] for c in cur.description]
            out[table] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return out


@contextmanager
def service_on(url):
    """An API client of the service on the database at `url`, with a token for every namespace."""
    app = create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test"})
    try:
        with app.app_context():
            yield Api(app.test_client(), mint_token("ops", ["*"], timedelta(minutes=5)))
    finally:
        db.close()
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()


def schema(url):
    """Tables with their columns, indexes, constraints and triggers, as the database reports them."""
    with closing(connect(url)) as conn:
        cur = conn.cursor()
        if url.startswith("sqlite"):
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            tables = [name for (name,) in cur.fetchall()]
            described = {}
            for t in tables:
                columns = sorted(cur.execute(f'PRAGMA table_info("{t}")').fetchall(), key=lambda c: c[1])
                keys = sorted(cur.execute(f'PRAGMA foreign_key_list("{t}")').fetchall())
                described[t] = ([c[1:] for c in columns], [k[2:5] for k in keys])
            cur.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                        "ORDER BY name")
            return described, cur.fetchall()
        queries = [
            "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2",
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 2",
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 2",
            "SELECT event_object_table, trigger_name, event_manipulation, action_timing, action_statement "
            "FROM information_schema.triggers ORDER BY 2, 3",
            "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
        ]
        described = []
        for sql in queries:
            cur.execute(sql)
            described.append(cur.fetchall())
        return described


@contextmanager
def empty_database(backend, request, tmp_path, name):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / name}"
    else:
        with new_postgres_database(request.getfixturevalue("pg_url")) as url:
            yield url


@pytest.fixture
def version_1_database(backend, request, tmp_path):
    """A database as version 1 of the service left it: its schema, and ROWS."""
    with empty_database(backend, request, tmp_path, "v1.sqlite3") as url:
        with closing(connect(url)) as conn:
            ddl = (V1_SCHEMA / f"{backend}.sql").read_text(encoding="utf-8")
            if backend == "sqlite":
                conn.executescript(ddl)
            else:
                conn.cursor().execute(ddl)
            mark = placeholder(conn)
            for table, records in ROWS.items():
                columns = ", ".join(f'"{c}"' for c in records[0])
                conn.cursor().executemany(
                    f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join([mark] * len(records[0]))})',
                    [tuple(r.values()) for r in records])
        yield url


def _live_datasets_per_project():
    counts = {p["id"]: 0 for p in ROWS["project"]}
    for d in ROWS["dataset"]:
        counts[d["project_id"]] += d["deleted_at"] is None
    return counts


def test_migrate_keeps_every_row_of_a_version_1_database(version_1_database):
    before = rows(version_1_database)
    assert before["schema_version"] == [{"version": 1}]
    assert {t: len(before[t]) for t in ROWS} == {t: len(r) for t, r in ROWS.items()}

    migrated(version_1_database)

    after = rows(version_1_database)
    assert after["schema_version"] == [{"version": SCHEMA_VERSION}]
    counts = {p["id"]: p.pop("dataset_count") for p in after["project"]}
    # The columns later versions add, with what they hold for the rows there were.
    who = {"created_by": None, "updated_by": None, "deleted_by": None}
    added = {"dataset": {"version_count": 0, **who}, "collection": {"change_seq": 0, "purged_at": None, **who},
             "member": {"added_seq": 0, "removed_seq": None}}
    for table, columns in added.items():
        for row in after[table]:
            assert {column: row.pop(column) for column in columns} == columns, (table, row)
    # A deleted collection no longer points at its dataset: it remembers it, with its name.
    names = {d["id"]: d["name"] for d in before["dataset"]}
    for row, was in zip(after["collection"], before["collection"], strict=True):
        former = (row.pop("former_dataset_id"), row.pop("former_dataset_name"))
        if was["deleted_at"] is not None:
            assert (former, row["dataset_id"]) == ((was["dataset_id"], names.get(was["dataset_id"])), None)
            row["dataset_id"] = was["dataset_id"]
        else:
            assert former == (None, None)
    for table in ROWS:
        assert after[table] == before[table], table
    assert counts == _live_datasets_per_project() == {"p-vision": 2, "p-empty": 0, "p-gone": 1, "p-beta": 1}


def test_migrated_database_keeps_the_dataset_count_as_datasets_come_and_go(version_1_database):
    migrated(version_1_database)
    with service_on(version_1_database) as api:
        datasets = "/namespaces/acme/projects/vision/datasets"
        assert api.get(datasets).get_json()["total"] == 2
        assert api.post(datasets, json={"name": "trucks"}).status_code == 201
        assert api.get(datasets).get_json()["total"] == 3
        assert api.delete(f"{datasets}/cars").status_code == 200
        listed = api.get(datasets).get_json()
        assert (listed["total"], [d["name"] for d in listed["datasets"]]) == (2, ["bikes", "trucks"])


def test_migrated_schema_is_the_schema_of_a_new_database(version_1_database, backend, request, tmp_path):
    migrated(version_1_database)
    with empty_database(backend, request, tmp_path, "new.sqlite3") as new:
        migrated(new)
        assert schema(version_1_database) == schema(new)


def test_migrating_twice_changes_nothing(version_1_database):
    migrated(version_1_database)
    before = rows(version_1_database), schema(version_1_database)

    again = migrated(version_1_database)

    assert again.stdout.strip() == f"schema at version {SCHEMA_VERSION}"
    assert (rows(version_1_database), schema(version_1_database)) == before


def test_processes_starting_at_once_on_an_empty_database_all_succeed(backend, request, tmp_path):
    with empty_database(backend, request, tmp_path, "empty.sqlite3") as url:
        env = {**os.environ, "DATABASE_URL": url, "SERVICE_ENV": "production", "JWT_SECRET_KEY": SECRET}
        processes = [subprocess.Popen([FLASK, "--app", "wsgi", "migrate"], cwd=ROOT, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
        results = [(*p.communicate(timeout=60), p.returncode) for p in processes]

        reports = sorted(out.strip() for out, _, _ in results)
        assert reports == [f"schema at version {SCHEMA_VERSION}"] * 3 + [f"schema at version {SCHEMA_VERSION} (was 0)"]
        for _, err, code in results:
            assert code == 0, err
            problems = [line for line in err.splitlines() if json.loads(line)["level"] in ("warning", "error")]
            assert problems == []
        assert rows(url)["schema_version"] == [{"version": SCHEMA_VERSION}]
        with empty_database(backend, request, tmp_path, "one.sqlite3") as alone:
            migrated(alone)
            assert schema(url) == schema(alone)


# Names stored before version 3 that break its rules: (id, name, deleted, name after).
NFD_CAFE, NFC_CAFE = "cafe\u0301", "caf\u00e9"
V3_DATASETS = [
    ("d-nfd-old", NFD_CAFE, False, f"{NFC_CAFE} (d-nfd-old)"),  # older than the NFC one, but it changes
    ("d-nfc", NFC_CAFE, False, NFC_CAFE),  # already in form: keeps its name
    ("d-nfd-new", "cafe\u0341", False, f"{NFC_CAFE} (d-nfd-new)"),  # another spelling of it
    ("d-zwsp", "train\u200b", False, "train"),
    ("d-zwsp-2", "\u200btrain", False, "train (d-zwsp-2)"),
    ("d-only-bom", "\ufeff", False, "unnamed (d-only-bom)"),
    ("d-dot", ".", False, "unnamed (d-dot)"),
    ("d-dots", "..", True, "unnamed (d-dots)"),
    ("d-deleted-nfd", NFD_CAFE, True, NFC_CAFE),  # deleted: may share a live name
    ("d-long", "x" * 127 + "\u00ad", False, "x" * 127),
]
V3_COLLECTIONS = [("c-nfd", "a\u0308b", False, "\u00e4b (c-nfd)"), ("c-nfc", "\u00e4b", False, "\u00e4b")]


def _insert_v3_rows(url):
    with closing(connect(url)) as conn:
        mark = placeholder(conn)
        for day, (row_id, name, deleted, _) in enumerate(V3_DATASETS, start=10):
            conn.cursor().execute(
                "INSERT INTO dataset (id, created_at, updated_at, deleted_at, namespace_id, project_id, name, "
                f"description, tags, metadata) VALUES ({', '.join([mark] * 10)})",
                (row_id, _t(day), _t(day), _t(day) if deleted else None, "ns-acme", "p-vision", name, None, "[]",
                 None))
        for day, (row_id, name, deleted, _) in enumerate(V3_COLLECTIONS, start=10):
            conn.cursor().execute(
                "INSERT INTO collection (id, created_at, updated_at, deleted_at, namespace_id, project_id, "
                f"dataset_id, member_count, member_seq, name) VALUES ({', '.join([mark] * 10)})",
                (row_id, _t(day), _t(day), _t(day) if deleted else None, "ns-acme", "p-vision", None, 0, 0, name))


def test_version_3_stores_names_in_nfc_and_renames_what_would_collide(version_1_database):
    _insert_v3_rows(version_1_database)
    before = rows(version_1_database)

    migrated(version_1_database)

    after = rows(version_1_database)
    for table, expected in (("dataset", V3_DATASETS), ("collection", V3_COLLECTIONS)):
        names = {row["id"]: row["name"] for row in after[table]}
        assert {row_id: names[row_id] for row_id, *_ in expected} == {row_id: new for row_id, _, _, new in expected}
        untouched = {row["id"]: row for row in before[table]}
        for row in after[table]:  # every row kept, nothing but the name changed (and the later columns)
            was = {**untouched.pop(row["id"]), "name": row["name"]}
            if table == "collection" and was["deleted_at"] is not None:  # its dataset kept as its former one
                was["dataset_id"], row["former_dataset_id"] = None, was["dataset_id"]
            assert was == {key: row[key] for key in before[table][0]}
        assert untouched == {}
    with service_on(version_1_database) as api:
        datasets = "/namespaces/acme/projects/vision/datasets"
        for spelling in (NFD_CAFE, NFC_CAFE):  # either spelling in the URL names the one row
            assert api.get(f"{datasets}/{spelling}").get_json()["id"] == "d-nfc"
        assert api.post(datasets, json={"name": NFD_CAFE}).status_code == 409


def test_a_migrated_database_keeps_its_members_in_order_and_can_be_versioned(version_1_database):
    migrated(version_1_database)
    with service_on(version_1_database) as api:
        cars = "/namespaces/acme/projects/vision/datasets/cars"
        assert api.get(cars).get_json()["collections"][0]["members"] == ["node-1", "node-3"]
        assert api.post(f"{cars}/versions", json={"note": "after the upgrade"}).status_code == 201
        change = {"add": ["node-9", "node-1b"], "remove": ["node-1"]}
        assert api.post("/namespaces/acme/projects/vision/collections/train/members", json=change).status_code == 200
        assert api.get(cars).get_json()["collections"][0]["members"] == ["node-3", "node-9", "node-1b"]
        assert api.get(f"{cars}/versions/1").get_json()["dataset"]["collections"][0]["members"] == ["node-1", "node-3"]
