"""The trash (contract §8.2): its list and a restore's body."""
from marshmallow import Schema, fields, validate

from .common import Name, PageArgs, PageSchema, RequestSchema, Subject, Timestamp, timestamp

KINDS = ("dataset", "collection")


class TrashListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(KINDS))


class Restore(RequestSchema):
    """The name to restore under; the one it had when deleted if absent."""
    name = Name()


class TrashItem(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    id = fields.String(required=True)
    name = fields.String(required=True)
    deletedAt = Timestamp(attribute="deleted_at", required=True)
    deletedBy = Subject(attribute="deleted_by", required=True)
    dataset = fields.String(allow_none=True, metadata={
        "description": "A collection's dataset's name when it was deleted (null: it was standalone); "
                       "absent for a dataset."})


def dump_item(row):
    """trash_item_schema.dump of a row of the trash's list, written out."""
    item = {"kind": row.kind, "id": row.id, "name": row.name, "deletedAt": timestamp(row.deleted_at),
            "deletedBy": row.deleted_by}
    if row.kind == "collection":
        item["dataset"] = row.dataset
    return item


trash_list_args_schema = TrashListArgs()
restore_schema = Restore()
trash_item_schema = TrashItem()
TrashPage = PageSchema("items", TrashItem)
