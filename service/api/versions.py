"""V1–V4: versions of a dataset, what exactly a run trained on (contract §8.1)."""
import json
from types import SimpleNamespace

from flask import Blueprint

from schemas.common import page_args_schema
from schemas.datasets import dump_detail
from schemas.versions import (
    VersionPage,
    diff_args_schema,
    dump_version,
    version_create_schema,
    version_detail_schema,
    version_diff_schema,
    version_schema,
)

from .. import auth, data, etags, versions
from ..contract import operation
from ..errors import not_found
from ..models import new_id
from .common import dataset_or_404, json_body, list_response, list_window, project_or_404, query_args

bp = Blueprint("versions", __name__,
               url_prefix="/namespaces/<slug:slug>/projects/<slug:project_slug>/datasets/<name:name>/versions")

DATASET_404 = {404: "The namespace, project or dataset does not exist"}
VERSION_404 = {404: "The namespace, project, dataset or version does not exist"}


@bp.post("")
@operation("V1", "Freeze the dataset as a new version: its fields, collections and members as they are now",
           version_schema, status=201, body=version_create_schema, errors=DATASET_404, budget=5)
def create_version(slug, project_slug, name):
    body = version_create_schema.load(json_body())
    project = project_or_404(slug, project_slug)  # 1, 2
    with data.transaction():
        dataset = versions.freeze_dataset(project, name)  # 3
        if dataset is None:
            raise not_found(f"dataset '{name}'")
        version_id = new_id()
        versions.record_version_collections(dataset, version_id)  # 4
        version = versions.create_version(dataset, version_id, body.get("note"), auth.subject())  # 5
    return dump_version(version), 201


@bp.get("")
@operation("V2", "List the versions of a dataset, oldest first", VersionPage, query=page_args_schema,
           errors=DATASET_404, budget=4, effective=3)
def list_versions(slug, project_slug, name):
    args = query_args(page_args_schema)
    window, key = list_window(args)
    project = project_or_404(slug, project_slug)  # 1, 2
    rows, total, after, found = versions.list_versions(project, name, window)  # 3
    if not found:
        raise not_found(f"dataset '{name}'")
    return list_response("versions", [dump_version(row) for row in rows], args, total, key, after)


def _frozen(version):
    """The dataset row a version froze, as dump_detail reads a dataset."""
    return SimpleNamespace(id=version.dataset_id, name=version.name, description=version.description,
                           tags=version.tags, created_at=version.dataset_created_at,
                           updated_at=version.dataset_updated_at, project_id=version.project_id,
                           metadata=version.metadata, created_by=version.dataset_created_by,
                           updated_by=version.dataset_updated_by)


@bp.get("/<number:number>")
@operation("V3", "Get a version: the dataset detail exactly as it was frozen", version_detail_schema,
           errors=VERSION_404, conditional="read", budget=5)
def get_version(slug, project_slug, name, number):
    project = project_or_404(slug, project_slug)  # 1, 2
    version = versions.find_version(project, name, number)  # 3
    if version is None:
        raise not_found(f"version {number} of dataset '{name}'")
    tag = etags.of_version(version)
    return etags.not_modified(tag) or etags.tagged(
        {**dump_version(version),
         "dataset": dump_detail(_frozen(version), versions.find_version_collections(version))}, tag)  # 4


@bp.get("/<from_number>/diff/<to_number>")
@operation("V4", "What changed between two versions of a dataset, or a version and `current`",
           version_diff_schema,
           errors={400: "`from` is not a version number, or `to` neither one nor `current`", **VERSION_404}, budget=6)
def diff_versions(slug, project_slug, name, from_number, to_number):
    args = diff_args_schema.load({"from": from_number, "to": to_number})
    project = project_or_404(slug, project_slug)  # 1, 2
    dataset = dataset_or_404(project, name)  # 3
    numbers = [n for n in (args["from_number"], args["to_number"]) if n is not None]
    found = versions.find_versions(dataset, numbers)  # 4
    for number in numbers:
        if number not in found:
            raise not_found(f"version {number} of dataset '{name}'")
    old, new = found[args["from_number"]], found.get(args["to_number"])
    before, after = versions.find_sides(dataset, old, new)  # 5
    changes = versions.find_member_changes(dataset.namespace_id, before, after)  # 6
    return {"from": old.number, "to": new.number if new else "current",
            "dataset": _field_changes(old, new or dataset), "collections": _collection_changes(before, after, changes)}


def _field_changes(old, new):
    """{field: {from, to}} for each of the dataset's fields that differ between a version and
    another version or the dataset now."""
    def fields(row):
        return {"name": row.name, "description": row.description, "tags": list(row.tags),
                "metadata": None if row.metadata is None else json.loads(row.metadata)}
    was, now = fields(old), fields(new)
    return {key: {"from": was[key], "to": now[key]} for key in was if was[key] != now[key]}


def _collection_changes(before, after, changes):
    """The diff's `collections`, from both sides' {id: (name, change)} and their member changes;
    collections in the order of the `from` side, then those only on the `to` side."""
    return {
        "added": [{"id": c, "name": after[c][0]} for c in after if c not in before],
        "removed": [{"id": c, "name": before[c][0]} for c in before if c not in after],
        "renamed": [{"id": c, "from": before[c][0], "to": after[c][0]}
                    for c in before if c in after and before[c][0] != after[c][0]],
        "members": [{"id": c, "name": (after.get(c) or before[c])[0], **changes[c]}
                    for c in [*before, *(c for c in after if c not in before)]
                    if changes[c]["added"] or changes[c]["removed"]],
    }
