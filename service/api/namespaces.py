"""N1–N3: namespaces."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.common import page_args_schema
from schemas.namespaces import NamespacePage, dump_namespace, namespace_create_schema, namespace_schema

from .. import auth, data, etags
from ..contract import operation
from ..errors import conflict
from .common import json_body, list_response, list_window, namespace_or_404, query_args

bp = Blueprint("namespaces", __name__, url_prefix="/namespaces")


@bp.post("")
@operation("N1", "Create a namespace", namespace_schema, status=201, body=namespace_create_schema,
           errors={403: "Only a token for every namespace (\"*\") may create a namespace",
                   409: "The slug is taken"}, budget=1)
def create_namespace():
    auth.require_all_namespaces()
    body = namespace_create_schema.load(json_body())
    try:
        namespace = data.create_namespace(body["slug"], body["name"])  # 1
    except IntegrityError:
        raise conflict(f"namespace '{body['slug']}'") from None
    return dump_namespace(namespace), 201


@bp.get("")
@operation("N2", "List the namespaces the token may act in", NamespacePage, query=page_args_schema,
           budget=2, effective=1)
def list_namespaces():
    args = query_args(page_args_schema)
    window, key = list_window(args)
    rows, total, after = data.list_namespaces(auth.scope(), window)  # 1
    return list_response("namespaces", [dump_namespace(row) for row in rows], args, total, key, after)


@bp.get("/<slug:slug>")
@operation("N3", "Get a namespace", namespace_schema, errors={404: "The namespace does not exist"},
           conditional="read", budget=1)
def get_namespace(slug):
    body = dump_namespace(namespace_or_404(slug))  # 1
    tag = etags.of_body(body)
    return etags.not_modified(tag) or etags.tagged(body, tag)
