"""Data access for the reverse lookup (R1, R2): which live collections of a project currently
hold a node, numbered as docs/api.md numbers the queries. Each reads the index of current
members by namespace and node ID (service/models.py), then each member row's collection by its
key: its cost follows the collections holding the nodes asked, not the size of the project."""
from collections import namedtuple

from peewee import JOIN

from .compiled import array, in_array, rows
from .data import live
from .db import db, is_postgres
from .models import Collection, Dataset, Member


def _holding(namespace_id, project_id, node_ids):
    """The live collections of the project that hold one of `node_ids` (an `array`), one row
    per (node, collection), by the collection's creation, then id (SQLite; PostgreSQL:
    _HOLDING_POSTGRES, the same rows)."""
    return (Member.select(Member.node_id, Collection.id, Collection.name, Dataset.name.alias("dataset_name"))
            .join(Collection, on=(Collection.id == Member.collection))
            .join(Dataset, JOIN.LEFT_OUTER, on=(Dataset.id == Collection.dataset))
            .where(Member.namespace == namespace_id, in_array(Member.node_id, node_ids), Member.removed_seq.is_null(),
                   Collection.namespace == namespace_id, Collection.project == project_id, live(Collection))
            .order_by(Collection.created_at, Collection.id))


# On PostgreSQL, the node IDs are joined one by one to the index of current members (LATERAL,
# with OFFSET 0 so that the planner keeps it a loop of index lookups): at a few million member
# rows its estimates otherwise rate a parallel scan of the whole table about as cheap for 10,000
# node IDs, and choose one or the other from one ANALYZE to the next.
_HOLDING_POSTGRES = """
SELECT n.node_id, c.id, c.name, d.name AS dataset_name
  FROM unnest(%s::text[]) AS n(node_id)
 CROSS JOIN LATERAL (SELECT m.collection_id FROM member m
                      WHERE m.namespace_id = %s AND m.node_id = n.node_id AND m.removed_seq IS NULL
                     OFFSET 0) AS m
  JOIN collection c ON c.id = m.collection_id
  LEFT JOIN dataset d ON d.id = c.dataset_id
 WHERE c.namespace_id = %s AND c.project_id = %s AND c.deleted_at IS NULL
 ORDER BY c.created_at, c.id"""
_Held = namedtuple("Held", "node_id id name dataset_name")


def _held(project, node_ids):
    if is_postgres():
        found = db.execute_sql(_HOLDING_POSTGRES, (list(node_ids), project.namespace_id, project.namespace_id,
                                                   project.id)).fetchall()
        return [_Held._make(row) for row in found]
    return rows(_holding, project.namespace_id, project.id, array(node_ids))


def find_node_collections(project, node_id):
    """R1 query 3: the live collections of the project that hold `node_id` now, by creation
    (rows of id, name, dataset_name)."""
    return _held(project, [node_id])


def find_nodes_collections(project, node_ids):
    """R2 query 3: for each of `node_ids` (distinct), the live collections of the project that
    hold it now, by creation, in one statement: {node_id: [rows of id, name, dataset_name]},
    every node ID a key, in the order given."""
    found = {node_id: [] for node_id in node_ids}
    for row in _held(project, node_ids):
        found[row.node_id].append(row)
    return found
