"""P1–P3: projects of a namespace."""
from flask import Blueprint
from peewee import IntegrityError

from schemas.common import page_args_schema
from schemas.projects import ProjectPage, dump_project, project_create_schema, project_schema

from .. import data, etags
from ..contract import operation
from ..errors import conflict
from .common import json_body, list_response, list_window, namespace_or_404, project_or_404, query_args

bp = Blueprint("projects", __name__, url_prefix="/namespaces/<slug:slug>/projects")

NAMESPACE_404 = {404: "The namespace does not exist"}


@bp.post("")
@operation("P1", "Create a project", project_schema, status=201, body=project_create_schema,
           errors={**NAMESPACE_404, 409: "The slug is taken in this namespace"}, budget=2)
def create_project(slug):
    body = project_create_schema.load(json_body())
    namespace = namespace_or_404(slug)  # 1
    try:
        project = data.create_project(namespace, body["slug"], body["name"], body.get("description"))  # 2
    except IntegrityError:
        raise conflict(f"project '{body['slug']}'") from None
    return dump_project(project), 201


@bp.get("")
@operation("P2", "List the projects of a namespace", ProjectPage, query=page_args_schema, errors=NAMESPACE_404,
           budget=3, effective=2)
def list_projects(slug):
    args = query_args(page_args_schema)
    window, key = list_window(args)
    namespace = namespace_or_404(slug)  # 1
    rows, total, after = data.list_projects(namespace, window)  # 2
    return list_response("projects", [dump_project(row) for row in rows], args, total, key, after)


@bp.get("/<slug:project_slug>")
@operation("P3", "Get a project", project_schema, errors={404: "The namespace or project does not exist"},
           conditional="read", budget=2)
def get_project(slug, project_slug):
    body = dump_project(project_or_404(slug, project_slug))  # 1, 2
    tag = etags.of_body(body)
    return etags.not_modified(tag) or etags.tagged(body, tag)
