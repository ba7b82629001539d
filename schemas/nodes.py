"""R1, R2: which collections of a project hold a node."""
from marshmallow import Schema, fields

from .common import NodeIds, RequestSchema

# One node ID, by the rules of the body field (1–256 characters, no control character, no
# lone surrogate): R1 checks the node ID of its path with it.
NODE_ID = NodeIds().item_pattern


class NodeLookup(RequestSchema):
    node_ids = NodeIds(data_key="nodeIds", required=True)


class NodeCollection(Schema):
    """A live collection that holds the node; `dataset` is its dataset's name, or null."""
    id = fields.String(required=True)
    name = fields.String(required=True)
    dataset = fields.String(allow_none=True, required=True)


class NodeCollections(Schema):
    nodeId = fields.String(required=True)
    collections = fields.List(fields.Nested(NodeCollection), required=True)


class NodeLookupResults(Schema):
    results = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(NodeCollection)), required=True,
                          metadata={"description": "Every node ID asked, each with the collections that hold it "
                                                   "(an empty list: none)."})


def dump_node_collection(row):
    """NodeCollection of a row (id, name, dataset_name), written out."""
    return {"id": row.id, "name": row.name, "dataset": row.dataset_name}


node_lookup_schema = NodeLookup()
