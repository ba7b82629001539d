"""C1–C6: collections of a project, their dataset, and their members."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.collections import (
    CollectionPage,
    MembersPage,
    collection_create_schema,
    collection_detail_schema,
    collection_list_args_schema,
    collection_schema,
    collection_update_schema,
    dump_collection,
    members_args_schema,
    members_change_schema,
)
from schemas.common import Success

from .. import auth, data, etags
from ..contract import operation
from ..errors import conflict, not_found
from .common import (
    collection_or_404,
    dataset_or_404,
    json_body,
    list_response,
    list_window,
    next_page,
    project_or_404,
    query_args,
    streamed,
)

bp = Blueprint("collections", __name__,
               url_prefix="/namespaces/<slug:slug>/projects/<slug:project_slug>/collections")

COLLECTION_404 = {404: "The namespace, project or collection does not exist"}


@bp.post("")
@operation("C1", "Create a collection, standalone or in a dataset, with its first members, or with the union, "
                 "intersection or difference of other collections (`from`)", collection_schema,
           status=201, body=collection_create_schema,
           errors={404: "The namespace, project, named dataset or a collection named in `from` does not exist",
                   409: "A live collection of the project has this name"}, budget=6)
def create_collection(slug, project_slug):
    body = collection_create_schema.load(json_body())
    members = body.get("members", [])
    project = project_or_404(slug, project_slug)  # 1, 2
    try:
        with data.transaction():
            dataset = dataset_or_404(project, body["dataset"], lock="share") if body.get("dataset") else None  # 3
            if "source" in body:
                collection = _create_from(project, body["name"], dataset, body["source"])  # 4 to 6
            else:
                collection = data.create_collection(project, auth.subject(), body["name"], dataset, len(members))  # 4
                if members:
                    data.add_members(collection, members, 1, 1)  # 5
    except IntegrityError:
        raise conflict(f"collection '{body['name']}'") from None
    return dump_collection(collection, dataset.name if dataset else None), 201


def _create_from(project, name, dataset, source):
    """C1 with `from`, queries 4 to 6 (in the caller's transaction): the collections named,
    held; the new collection with the size of their set; its members, the set itself."""
    ((kind, names),) = source.items()  # "union", "intersection" or "difference"
    found = data.find_collections_named(project, names)  # 4
    missing = [n for n in names if n not in found]
    if missing:
        raise not_found(f"collection '{missing[0]}'")
    source_ids = [found[n] for n in names]
    collection = data.create_collection_from(project, auth.subject(), name, dataset, kind, source_ids)  # 5
    if collection.member_count:
        data.add_members_from(collection, kind, source_ids)  # 6
    return collection


@bp.get("")
@operation("C2", "List the collections of a project: all, those of one `dataset`, or the `standalone=true` "
                 "ones (giving both is a 400)", CollectionPage, query=collection_list_args_schema,
           errors={404: "The namespace, project or named dataset does not exist"}, budget=4, effective=3)
def list_collections(slug, project_slug):
    args = query_args(collection_list_args_schema)
    window, key = list_window(args)
    project = project_or_404(slug, project_slug)  # 1, 2
    rows, total, after, dataset_found = data.list_collections(  # 3
        project, window, args.get("dataset"), args.get("standalone", False))
    if not dataset_found:
        raise not_found(f"dataset '{args['dataset']}'")
    return list_response("collections", [dump_collection(row, row.dataset_name) for row in rows], args, total, key,
                         after)


@bp.get("/<name:name>")
@operation("C3", "Get a collection with its members", collection_detail_schema, errors=COLLECTION_404,
           conditional="read", budget=4)
def get_collection(slug, project_slug, name):
    project = project_or_404(slug, project_slug)  # 1, 2
    collection = collection_or_404(project, name)  # 3
    tag = etags.of_collection(collection, collection.dataset_name)
    return etags.not_modified(tag) or streamed(
        dump_collection(collection, collection.dataset_name), "members", data.stream_members(collection), tag)  # 4


@bp.get("/<name:name>/members")
@operation("M1", "The members of a collection page by page, in the order they were added", MembersPage,
           query=members_args_schema, errors=COLLECTION_404, budget=4)
def list_members(slug, project_slug, name):
    args = query_args(members_args_schema)
    window, key = list_window(args)
    project = project_or_404(slug, project_slug)  # 1, 2
    collection = collection_or_404(project, name)  # 3
    members, after = data.list_members(collection, window)  # 4
    headers = {}
    return {"members": members, "nextCursor": next_page(key, after, headers)}, 200, headers


@bp.patch("/<name:name>")
@operation("C4", "Rename a collection or move it (`dataset: null`: standalone)", collection_schema,
           body=collection_update_schema,
           errors={404: "The namespace, project, collection or named dataset does not exist",
                   409: "Another live collection of the project has the new name"}, conditional="write", budget=5)
def update_collection(slug, project_slug, name):
    body = collection_update_schema.load(json_body())
    project = project_or_404(slug, project_slug)  # 1, 2
    try:
        with data.transaction():
            # The dataset before the collection: every write that locks both (V1, D5) takes them
            # in this order, so that two of them never wait for each other.
            dataset = dataset_or_404(project, body["dataset"], lock="share") if body.get("dataset") else None  # 3
            collection = collection_or_404(project, name, lock=True)  # 3 or 4
            etags.require(etags.of_collection(collection, collection.dataset_name))
            changes, dataset_name = {}, collection.dataset_name
            if "name" in body:
                changes["name"] = body["name"]
            if "dataset" in body:
                changes["dataset"], dataset_name = (dataset.id, dataset.name) if dataset else (None, None)
            if changes:
                collection = data.update_collection(collection, changes, auth.subject())  # 4 or 5
    except IntegrityError:
        raise conflict(f"collection '{body['name']}'") from None
    return etags.tagged(dump_collection(collection, dataset_name), etags.of_collection(collection, dataset_name))


@bp.post("/<name:name>/members")
@operation("C5", "Add and remove members: at most 10,000 node IDs in all, none in both `add` and `remove` "
                 "(a 400)", collection_schema, body=members_change_schema, errors=COLLECTION_404,
           conditional="write", budget=6)
def change_members(slug, project_slug, name):
    change = members_change_schema.load(json_body())
    project = project_or_404(slug, project_slug)  # 1, 2
    with data.transaction():
        collection = collection_or_404(project, name, lock=True)  # 3
        dataset_name = collection.dataset_name
        etags.require(etags.of_collection(collection, dataset_name))
        seq = collection.change_seq + 1
        added = data.add_members(collection, change["add"], collection.member_seq + 1, seq) if change["add"] else 0  # 4
        removed = data.remove_members(collection, change["remove"], seq) if change["remove"] else 0  # 5
        if added or removed:
            collection = data.record_member_change(collection, auth.subject(), added, removed, len(change["add"]))  # 6
    return etags.tagged(dump_collection(collection, dataset_name), etags.of_collection(collection, dataset_name))


@bp.delete("/<name:name>")
@operation("C6", "Delete a collection (to the trash); its members are kept", Success, errors=COLLECTION_404,
           conditional="write", budget=3)
def delete_collection(slug, project_slug, name):
    project = project_or_404(slug, project_slug)  # 1, 2
    with data.transaction():
        collection = data.soft_delete_collection(project, name, auth.subject())  # 3
        if collection is None:
            raise not_found(f"collection '{name}'")
        etags.require(etags.of_collection(collection, collection.dataset_name))  # the delete is undone if stale
    return {"success": True}
