"""C1–C6: collections of a project, their dataset, and their members."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.collections import (
    collection_create_schema, collection_detail_schema, collection_list_args_schema, collection_schema,
    collection_update_schema, members_change_schema,
)
from schemas.common import page_body

from .. import data
from ..errors import conflict, not_found
from . import find_project, json_body, query_args

bp = Blueprint("collections", __name__,
               url_prefix="/namespaces/<slug:slug>/projects/<slug:project_slug>/collections")


def _find_dataset(project, name):
    """The dataset a collection is put in, locked against deletion until the write commits."""
    dataset = data.find_dataset(project, name, lock=True)
    if dataset is None:
        raise not_found(f"dataset '{name}'")
    return dataset


def _find_collection(project, name, lock=False):
    collection = data.find_collection(project, name, lock=lock)
    if collection is None:
        raise not_found(f"collection '{name}'")
    return collection


@bp.post("")
def create_collection(slug, project_slug):
    body = collection_create_schema.load(json_body())
    members = body.get("members", [])
    project = find_project(slug, project_slug)  # 1, 2
    try:
        with data.transaction():
            dataset = _find_dataset(project, body["dataset"]) if body.get("dataset") else None  # 3
            collection = data.create_collection(project, body["name"], dataset, len(members))  # 4
            if members:
                data.add_members(collection, members, 1)  # 5
    except IntegrityError:
        raise conflict(f"collection '{body['name']}'") from None
    collection.dataset_name = dataset.name if dataset else None
    return collection_schema.dump(collection), 201


@bp.get("")
def list_collections(slug, project_slug):
    args = query_args(collection_list_args_schema)
    project = find_project(slug, project_slug)  # 1, 2
    rows, total, dataset_found = data.list_collections(  # 3+4, one statement
        project, args["page"], args["page_size"], args.get("dataset"), args.get("standalone", False))
    if not dataset_found:
        raise not_found(f"dataset '{args['dataset']}'")
    return page_body("collections", collection_schema.dump(rows, many=True), args, total)


@bp.get("/<name:name>")
def get_collection(slug, project_slug, name):
    project = find_project(slug, project_slug)  # 1, 2
    collection = _find_collection(project, name)  # 3
    collection.members = data.find_members(collection)  # 4
    return collection_detail_schema.dump(collection)


@bp.patch("/<name:name>")
def update_collection(slug, project_slug, name):
    body = collection_update_schema.load(json_body())
    project = find_project(slug, project_slug)  # 1, 2
    try:
        with data.transaction():
            collection = _find_collection(project, name, lock=True)  # 3
            changes, dataset_name = {}, collection.dataset_name
            if "name" in body:
                changes["name"] = body["name"]
            if "dataset" in body:
                dataset = _find_dataset(project, body["dataset"]) if body["dataset"] else None  # 4
                changes["dataset"], dataset_name = (dataset.id, dataset.name) if dataset else (None, None)
            if changes:
                collection = data.update_collection(collection, changes)  # 5
    except IntegrityError:
        raise conflict(f"collection '{body['name']}'") from None
    collection.dataset_name = dataset_name
    return collection_schema.dump(collection)


@bp.post("/<name:name>/members")
def change_members(slug, project_slug, name):
    change = members_change_schema.load(json_body())
    project = find_project(slug, project_slug)  # 1, 2
    with data.transaction():
        collection = _find_collection(project, name, lock=True)  # 3
        dataset_name = collection.dataset_name
        added = data.add_members(collection, change["add"], collection.member_seq + 1) if change["add"] else 0  # 4
        removed = data.remove_members(collection, change["remove"]) if change["remove"] else 0  # 5
        if added or removed:
            collection = data.record_member_change(collection, added, removed, len(change["add"]))  # 6
    collection.dataset_name = dataset_name
    return collection_schema.dump(collection)


@bp.delete("/<name:name>")
def delete_collection(slug, project_slug, name):
    project = find_project(slug, project_slug)  # 1, 2
    if not data.soft_delete_collection(project, name):  # 3
        raise not_found(f"collection '{name}'")
    return {"success": True}
