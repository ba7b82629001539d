"""N1–N3: namespaces."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.common import PageArgs, page_body
from schemas.namespaces import namespace_create_schema, namespace_schema

from .. import auth, data
from ..errors import conflict
from . import find_namespace, json_body, query_args

bp = Blueprint("namespaces", __name__, url_prefix="/namespaces")
page_args_schema = PageArgs()


@bp.post("")
def create_namespace():
    auth.require_all_namespaces()
    body = namespace_create_schema.load(json_body())
    try:
        namespace = data.create_namespace(body["slug"], body["name"])  # 1
    except IntegrityError:
        raise conflict(f"namespace '{body['slug']}'") from None
    return namespace_schema.dump(namespace), 201


@bp.get("")
def list_namespaces():
    args = query_args(page_args_schema)
    rows, total = data.list_namespaces(auth.scope(), args["page"], args["page_size"])  # 1+2, one statement
    return page_body("namespaces", namespace_schema.dump(rows, many=True), args, total)


@bp.get("/<slug:slug>")
def get_namespace(slug):
    return namespace_schema.dump(find_namespace(slug))  # 1
