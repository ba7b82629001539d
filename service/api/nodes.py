"""R1, R2: the reverse lookup, which live collections of a project hold a node now."""
from flask import Blueprint

from schemas.nodes import NodeCollections, NodeLookupResults, dump_node_collection, node_lookup_schema

from .. import nodes
from ..contract import operation
from .common import json_body, project_or_404

bp = Blueprint("nodes", __name__, url_prefix="/namespaces/<slug:slug>/projects/<slug:project_slug>/nodes")


# merge_slashes=False: "//" in a node ID is its own, never redirected to a path without it.
@bp.get("/<node:node_id>/collections", merge_slashes=False)
@operation("R1", "The live collections of the project that hold a node now, by creation (a node ID may hold "
                 "`/`, written as is or as %2F)", NodeCollections,
           errors={404: "The namespace or project does not exist, or the node ID breaks its rules"}, budget=3)
def node_collections(slug, project_slug, node_id):
    project = project_or_404(slug, project_slug)  # 1, 2
    found = nodes.find_node_collections(project, node_id)  # 3
    return {"nodeId": node_id, "collections": [dump_node_collection(row) for row in found]}


@bp.post("/lookup")
@operation("R2", "For each of up to 10,000 node IDs, the live collections of the project that hold it now",
           NodeLookupResults, body=node_lookup_schema, errors={404: "The namespace or project does not exist"},
           budget=3)
def lookup_nodes(slug, project_slug):
    node_ids = node_lookup_schema.load(json_body())["node_ids"]
    project = project_or_404(slug, project_slug)  # 1, 2
    found = nodes.find_nodes_collections(project, node_ids)  # 3
    return {"results": {node_id: [dump_node_collection(row) for row in held] for node_id, held in found.items()}}
