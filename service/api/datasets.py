"""D1–D5: datasets of a project, as documented on the seed reference page."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.common import page_body
from schemas.datasets import (
    dataset_create_schema, dataset_list_args_schema, dataset_schema, dataset_update_schema, dump_detail,
    dump_list_item,
)

from .. import data
from ..errors import conflict, not_found
from . import find_project, json_body, query_args

bp = Blueprint("datasets", __name__, url_prefix="/namespaces/<slug:slug>/projects/<slug:project_slug>/datasets")


@bp.post("")
def create_dataset(slug, project_slug):
    body = dataset_create_schema.load(json_body())
    project = find_project(slug, project_slug)  # 1, 2
    try:
        dataset = data.create_dataset(project, **body)  # 3
    except IntegrityError:
        raise conflict(f"dataset '{body['name']}'") from None
    return dataset_schema.dump(dataset), 201


@bp.get("")
def list_datasets(slug, project_slug):
    args = query_args(dataset_list_args_schema, repeated=("tag",))
    project = find_project(slug, project_slug)  # 1, 2
    rows, total = data.list_datasets(project, args["page"], args["page_size"], args["tag"])  # 3+4, one statement
    return page_body("datasets", [dump_list_item(row) for row in rows], args, total)


@bp.get("/<name:name>")
def get_dataset(slug, project_slug, name):
    project = find_project(slug, project_slug)  # 1, 2
    dataset = data.find_dataset(project, name)  # 3
    if dataset is None:
        raise not_found(f"dataset '{name}'")
    return dump_detail(dataset, data.find_dataset_collections(dataset))  # 4


@bp.patch("/<name:name>")
def update_dataset(slug, project_slug, name):
    changes = dataset_update_schema.load(json_body())
    project = find_project(slug, project_slug)  # 1, 2
    dataset = data.find_dataset(project, name)  # 3
    if dataset is not None and changes:
        try:
            dataset = data.update_dataset(dataset, changes)  # 4
        except IntegrityError:
            raise conflict(f"dataset '{changes['name']}'") from None
    if dataset is None:
        raise not_found(f"dataset '{name}'")
    return dataset_schema.dump(dataset)


@bp.delete("/<name:name>")
def delete_dataset(slug, project_slug, name):
    project = find_project(slug, project_slug)  # 1, 2
    with data.transaction():
        dataset_id = data.soft_delete_dataset(project, name)  # 3
        if dataset_id is None:
            raise not_found(f"dataset '{name}'")
        data.detach_collections(project, dataset_id)  # 4
    return {"success": True}
