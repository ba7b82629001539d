"""Data access for the reverse lookup (R1, R2): which live collections of a project currently
hold a node, numbered as docs/api.md numbers the queries. Each reads the index of current
members by namespace and node ID (service/models.py), then each member row's collection by its
key: its cost follows the collections holding the nodes asked, not the size of the project."""
from peewee import JOIN

from .compiled import array, in_array, rows
from .data import live
from .models import Collection, Dataset, Member


def _holding(namespace_id, project_id, node_ids):
    """The live collections of the project that hold one of `node_ids` (an `array`), one row
    per (node, collection), by the collection's creation, then id."""
    return (Member.select(Member.node_id, Collection.id, Collection.name, Dataset.name.alias("dataset_name"))
            .join(Collection, on=(Collection.id == Member.collection))
            .join(Dataset, JOIN.LEFT_OUTER, on=(Dataset.id == Collection.dataset))
            .where(Member.namespace == namespace_id, in_array(Member.node_id, node_ids), Member.removed_seq.is_null(),
                   Collection.namespace == namespace_id, Collection.project == project_id, live(Collection))
            .order_by(Collection.created_at, Collection.id))


def find_node_collections(project, node_id):
    """R1 query 3: the live collections of the project that hold `node_id` now, by creation
    (rows of id, name, dataset_name)."""
    return rows(_holding, project.namespace_id, project.id, array([node_id]))


def find_nodes_collections(project, node_ids):
    """R2 query 3: for each of `node_ids` (distinct), the live collections of the project that
    hold it now, by creation, in one statement: {node_id: [rows of id, name, dataset_name]},
    every node ID a key, in the order given."""
    found = {node_id: [] for node_id in node_ids}
    for row in rows(_holding, project.namespace_id, project.id, array(node_ids)):
        found[row.node_id].append(row)
    return found
