"""D1–D5: datasets of a project, as documented on the seed reference page."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.common import Success
from schemas.datasets import (
    DatasetPage,
    dataset_create_schema,
    dataset_detail_schema,
    dataset_list_args_schema,
    dataset_schema,
    dataset_update_schema,
    dump_dataset,
    dump_detail,
    dump_list_item,
)

from .. import auth, data, etags
from ..contract import operation
from ..errors import conflict, not_found
from .common import dataset_or_404, json_body, list_response, list_window, project_or_404, query_args, streamed

bp = Blueprint("datasets", __name__, url_prefix="/namespaces/<slug:slug>/projects/<slug:project_slug>/datasets")

PROJECT_404 = {404: "The namespace or project does not exist"}
DATASET_404 = {404: "The namespace, project or dataset does not exist"}


@bp.post("")
@operation("D1", "Create a dataset", dataset_schema, status=201, body=dataset_create_schema,
           errors={**PROJECT_404, 409: "A live dataset of the project has this name"}, budget=3)
def create_dataset(slug, project_slug):
    body = dataset_create_schema.load(json_body())
    project = project_or_404(slug, project_slug)  # 1, 2
    try:
        dataset = data.create_dataset(project, auth.subject(), **body)  # 3
    except IntegrityError:
        raise conflict(f"dataset '{body['name']}'") from None
    return dump_dataset(dataset), 201


@bp.get("")
@operation("D2", "List the datasets of a project (those carrying every `tag` given)", DatasetPage,
           query=dataset_list_args_schema, errors=PROJECT_404, budget=4, effective=3)
def list_datasets(slug, project_slug):
    args = query_args(dataset_list_args_schema, repeated=("tag",))
    window, key = list_window(args)
    project = project_or_404(slug, project_slug)  # 1, 2
    rows, total, after = data.list_datasets(project, window, args["tag"])  # 3
    return list_response("datasets", [dump_list_item(row) for row in rows], args, total, key, after)


@bp.get("/<name:name>")
@operation("D3", "Get a dataset with its collections and their members", dataset_detail_schema,
           errors=DATASET_404, conditional="read", budget=4)
def get_dataset(slug, project_slug, name):
    project = project_or_404(slug, project_slug)  # 1, 2
    dataset = dataset_or_404(project, name, state=True)  # 3
    tag = etags.of_dataset(dataset, dataset.collections_state)
    return etags.not_modified(tag) or streamed(
        dump_detail(dataset, ()), "collections", data.stream_dataset_members(dataset), tag, grouped=True)  # 4


@bp.patch("/<name:name>")
@operation("D4", "Update a dataset: only the fields present change", dataset_schema, body=dataset_update_schema,
           errors={**DATASET_404, 409: "Another live dataset of the project has the new name"},
           conditional="write", budget=4)
def update_dataset(slug, project_slug, name):
    changes = dataset_update_schema.load(json_body())
    project = project_or_404(slug, project_slug)  # 1, 2
    with data.transaction():
        dataset = dataset_or_404(project, name, lock="update", state=True)  # 3
        state = dataset.collections_state
        etags.require(etags.of_dataset(dataset, state))
        if changes:
            try:
                dataset = data.update_dataset(dataset, changes, auth.subject())  # 4
            except IntegrityError:
                raise conflict(f"dataset '{changes['name']}'") from None
    return etags.tagged(dump_dataset(dataset), etags.of_dataset(dataset, state))


@bp.delete("/<name:name>")
@operation("D5", "Delete a dataset (to the trash); its collections become standalone", Success, errors=DATASET_404,
           conditional="write", budget=4)
def delete_dataset(slug, project_slug, name):
    project = project_or_404(slug, project_slug)  # 1, 2
    with data.transaction():
        dataset = data.soft_delete_dataset(project, name, auth.subject())  # 3
        if dataset is None:
            raise not_found(f"dataset '{name}'")
        etags.require(etags.of_dataset(dataset, data.list_of(dataset.collections_state)))  # undone if stale
        data.detach_collections(project, dataset.id, auth.subject())  # 4
    return {"success": True}
