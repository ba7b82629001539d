"""A client generated from the OpenAPI document the service serves, as a caller would make one:
openapi-python-client (httpx + attrs) must generate every operation and parse every documented
response with no warning, and the generated code must drive the main path against the live
service under gunicorn, on both databases."""
import importlib
import json
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import jwt
import pytest

from tests.support.databases import new_postgres_database
from tests.support.live import LiveServer

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
SECRET = "generated-client-secret-" + "g" * 32

pytestmark = pytest.mark.gunicorn


@pytest.fixture
def server(request, backend, tmp_path):
    with ExitStack() as stack:
        url = (f"sqlite:///{tmp_path / 'registry.sqlite3'}" if backend == "sqlite"
               else stack.enter_context(new_postgres_database(request.getfixturevalue("pg_url"))))
        yield stack.enter_context(LiveServer({"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test"}))


@pytest.fixture
def generated(server, backend, tmp_path):
    """The package openapi-python-client generates from the served document: (import, models)."""
    status, _, document = server.request("GET", "/openapi.json")
    assert status == 200
    (tmp_path / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    package = f"registry_generated_{backend}"
    (tmp_path / "config.yaml").write_text(f"package_name_override: {package}\npost_hooks: []\n", encoding="utf-8")
    done = subprocess.run([GENERATOR, "generate", "--path", str(tmp_path / "openapi.json"), "--config",
                           str(tmp_path / "config.yaml"), "--output-path", str(tmp_path / package), "--meta", "none"],
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower() and "unable" not in output.lower(), output  # nothing skipped
    sys.path.insert(0, str(tmp_path))
    try:
        models = importlib.import_module(f"{package}.models")
        yield (lambda module: importlib.import_module(f"{package}.{module}")), models
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith(package)]:
            del sys.modules[name]


def test_every_operation_is_generated(generated, server):
    module, _ = generated
    document = server.request("GET", "/openapi.json")[2]
    for item in document["paths"].values():
        for operation in item.values():
            tag = operation["tags"][0]
            name = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation["operationId"])
            assert hasattr(module(f"api.{tag}.{name}"), "sync_detailed"), (tag, name)


def test_the_generated_client_drives_the_main_path(generated, server):
    module, m = generated
    token = jwt.encode({"sub": "generated", "exp": int(time.time()) + 600, "namespaces": ["*"]}, SECRET, "HS256")
    client = module("client").AuthenticatedClient(base_url=server.url, token=token)

    def call(group, operation, *args, status=200, **kwargs):
        response = module(f"api.{group}.{operation}").sync_detailed(*args, client=client, **kwargs)
        assert response.status_code == status, response.content
        return response.parsed

    where = {"slug": "acme", "project_slug": "vision"}
    assert isinstance(call("namespaces", "create_namespace", body=m.NamespaceCreate(slug="acme"), status=201),
                      m.Namespace)
    assert call("projects", "create_project", "acme", body=m.ProjectCreate(slug="vision"), status=201).slug == "vision"
    metadata = {"source": "fleet", "drives": [1, 2], "night": {"rain": True}}
    created = call("datasets", "create_dataset", **where, status=201, body=m.DatasetCreate(
        name="training-v2", tags=["q1", "lidar"], metadata=m.DatasetCreateMetadataType0.from_dict(metadata)))
    assert (created.name, created.tags, created.metadata.to_dict()) == ("training-v2", ["q1", "lidar"], metadata)
    clips = call("collections", "create_collection", **where, status=201,
                 body=m.CollectionCreate(name="clips", dataset="training-v2", members=["n1", "n2"]))
    assert (clips.dataset, clips.member_count) == ("training-v2", 2)

    page = call("datasets", "list_datasets", **where, tag=["lidar"])
    assert (page.total, [d.name for d in page.datasets]) == (1, ["training-v2"])
    detail = call("datasets", "get_dataset", **where, name="training-v2")
    assert [(c.name, c.members) for c in detail.collections] == [("clips", ["n1", "n2"])]
    assert detail.metadata.to_dict() == metadata
    assert call("datasets", "update_dataset", **where, name="training-v2",
                body=m.DatasetUpdate(description="Q1 data")).description == "Q1 data"

    listed = call("collections", "list_collections", **where, dataset="training-v2")
    assert [c.name for c in listed.collections] == ["clips"]
    assert call("collections", "get_collection", **where, name="clips").members == ["n1", "n2"]
    assert call("collections", "update_collection", **where, name="clips",
                body=m.CollectionUpdate(name="front")).name == "front"
    changed = call("collections", "change_members", **where, name="front",
                   body=m.MembersChange(add=["n3"], remove=["n1"]))
    assert changed.member_count == 2
    assert call("collections", "get_collection", **where, name="front").members == ["n2", "n3"]

    version = call("versions", "create_version", **where, name="training-v2", status=201,
                   body=m.VersionCreate(note="run 42"))
    assert (version.number, version.created_by, version.member_count) == (1, "generated", 2)
    assert [v.number for v in call("versions", "list_versions", **where, name="training-v2").versions] == [1]
    call("collections", "change_members", **where, name="front", body=m.MembersChange(add=["n9"]))
    frozen = call("versions", "get_version", **where, name="training-v2", number=1)
    assert [c.members for c in frozen.dataset.collections] == [["n2", "n3"]]
    diff = call("versions", "diff_versions", **where, name="training-v2", from_number="1", to_number="current")
    assert (diff.to, [(c.name, c.added) for c in diff.collections.members]) == ("current", [("front", ["n9"])])
    assert call("collections", "delete_collection", **where, name="front").success is True
    assert call("datasets", "delete_dataset", **where, name="training-v2").success is True

    refused = call("datasets", "create_dataset", **where, body=m.DatasetCreate(name=" padded"), status=400)
    assert isinstance(refused, m.Error) and refused.error.code == "validation_error"
    assert refused.error.fields.to_dict()["name"] == ["Must not start or end with white space."]
    missing = call("datasets", "get_dataset", **where, name="training-v2", status=404)
    assert (missing.error.code, missing.error.message) == ("not_found", "dataset 'training-v2' not found")
