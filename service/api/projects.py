"""P1–P3: projects of a namespace."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.common import PageArgs, page_body
from schemas.projects import project_create_schema, project_schema

from .. import data
from ..errors import conflict
from . import find_namespace, find_project, json_body, query_args

bp = Blueprint("projects", __name__, url_prefix="/namespaces/<slug:slug>/projects")
page_args_schema = PageArgs()


@bp.post("")
def create_project(slug):
    body = project_create_schema.load(json_body())
    namespace = find_namespace(slug)  # 1
    try:
        project = data.create_project(namespace, body["slug"], body["name"], body.get("description"))  # 2
    except IntegrityError:
        raise conflict(f"project '{body['slug']}'") from None
    return project_schema.dump(project), 201


@bp.get("")
def list_projects(slug):
    args = query_args(page_args_schema)
    namespace = find_namespace(slug)  # 1
    rows, total = data.list_projects(namespace, args["page"], args["page_size"])  # 2+3, one statement
    return page_body("projects", project_schema.dump(rows, many=True), args, total)


@bp.get("/<slug:project_slug>")
def get_project(slug, project_slug):
    return project_schema.dump(find_project(slug, project_slug))  # 1, 2
