"""T1–T4: the trash of a project, a delete that can be undone (contract §8.2)."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.collections import collection_schema, dump_collection
from schemas.common import Success
from schemas.datasets import dataset_schema, dump_dataset
from schemas.trash import TrashPage, dump_item, restore_schema, trash_list_args_schema

from .. import auth, data, trash
from ..contract import operation
from ..errors import conflict, not_found
from .common import json_body, list_response, list_window, project_or_404, query_args

bp = Blueprint("trash", __name__, url_prefix="/namespaces/<slug:slug>/projects/<slug:project_slug>/trash")

DATASET_404 = {404: "The namespace or project does not exist, or no dataset of the project's trash has this ID"}
COLLECTION_404 = {404: "The namespace or project does not exist, or no collection of the project's trash has this ID"}


@bp.get("")
@operation("T1", "List what was deleted in the project, most recently deleted first (only datasets or "
                 "collections with `kind`)", TrashPage, query=trash_list_args_schema,
           errors={404: "The namespace or project does not exist"}, budget=4, effective=3)
def list_trash(slug, project_slug):
    args = query_args(trash_list_args_schema)
    window, key = list_window(args)
    project = project_or_404(slug, project_slug)  # 1, 2
    rows, total, after = trash.list_trash(project, window, args.get("kind"))  # 3
    return list_response("items", [dump_item(row) for row in rows], args, total, key, after)


@bp.post("/datasets/<id:dataset_id>/restore")
@operation("T2", "Restore a dataset, with the collections its deletion made standalone that are still live, "
                 "standalone and unmoved, and its versions", dataset_schema, body=restore_schema,
           errors={**DATASET_404, 409: "A live dataset of the project has this name"}, budget=6)
def restore_dataset(slug, project_slug, dataset_id):
    body = restore_schema.load(json_body())
    project = project_or_404(slug, project_slug)  # 1, 2
    try:
        with data.transaction():
            dataset = trash.restore_dataset(project, dataset_id, body.get("name"), auth.subject())  # 3
            if dataset is None:
                raise not_found(f"dataset {dataset_id} in the trash")
            trash.reattach_collections(dataset, auth.subject())  # 4
    except IntegrityError:
        raise conflict(f"dataset '{body['name']}'" if "name" in body else "a live dataset with its name") from None
    return dump_dataset(dataset)


@bp.post("/collections/<id:collection_id>/restore")
@operation("T3", "Restore a collection with its members, into its dataset if that dataset is live",
           collection_schema, body=restore_schema,
           errors={**COLLECTION_404, 409: "A live collection of the project has this name"}, budget=6)
def restore_collection(slug, project_slug, collection_id):
    body = restore_schema.load(json_body())
    project = project_or_404(slug, project_slug)  # 1, 2
    try:
        with data.transaction():
            collection = trash.find_trashed_collection(project, collection_id, lock=True)  # 3
            if collection is None:
                raise not_found(f"collection {collection_id} in the trash")
            dataset = None
            if collection.former_dataset_id:
                dataset = trash.find_live_dataset(project, collection.former_dataset_id, lock=True)  # 4
            restored = trash.restore_collection(collection, dataset, body.get("name"), auth.subject())  # 5
    except IntegrityError:  # at 5: the name it would take is held
        raise conflict(f"collection '{body.get('name') or collection.name}'") from None
    return dump_collection(restored, dataset.name if dataset else None)


@bp.delete("/datasets/<id:dataset_id>")
@operation("T4", "Delete a dataset of the trash for good, with its versions", Success, errors=DATASET_404, budget=5)
def purge_dataset(slug, project_slug, dataset_id):
    project = project_or_404(slug, project_slug)  # 1, 2
    return _purged(trash.purge_datasets, project, dataset_id, "dataset")  # 3, 4, 5


@bp.delete("/collections/<id:collection_id>")
@operation("T4", "Delete a collection of the trash for good, with its members", Success, errors=COLLECTION_404,
           budget=5)
def purge_collection(slug, project_slug, collection_id):
    project = project_or_404(slug, project_slug)  # 1, 2
    return _purged(trash.purge_collections, project, collection_id, "collection")  # 3, 4, 5


def _purged(purge, project, row_id, kind):
    """T4 queries 3-5 (`purge`), in one transaction: a 404, with queries 3 and 4 undone, when
    nothing of the project's trash has this id."""
    with data.transaction():
        if not purge(project, row_id):
            raise not_found(f"{kind} {row_id} in the trash")
    return {"success": True}
