"""Versions (contract §8.1): the body of V1, the summary, the detail, the list and the diff."""
import re

from marshmallow import Schema, ValidationError, fields

from .common import Description, PageSchema, RequestSchema, Timestamp, timestamp
from .datasets import DatasetDetail

# A version number as written in a path: 1 to 999,999,999 in ASCII digits, no leading zero.
VERSION_NUMBER = re.compile(r"[1-9][0-9]{0,8}")


class VersionCreate(RequestSchema):
    note = Description()


class Version(Schema):
    number = fields.Integer(required=True)
    datasetId = fields.String(attribute="dataset_id", required=True)
    note = fields.String(allow_none=True, required=True)
    createdAt = Timestamp(attribute="created_at", required=True)
    createdBy = fields.String(attribute="created_by", required=True)
    updatedBy = fields.Function(lambda version: version.created_by, required=True,
                                metadata={"type": "string", "description": "A version never changes: who created it."})
    collectionCount = fields.Integer(attribute="collection_count", required=True)
    memberCount = fields.Integer(attribute="member_count", required=True)


class VersionDetail(Version):
    dataset = fields.Nested(DatasetDetail, required=True)


class VersionNumber(fields.String):
    """A version number in a path (1, 2, ...), or with `current`, also the word `current`."""

    def __init__(self, current=False, **kwargs):
        super().__init__(**kwargs)
        self.current = current

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if self.current and value == "current":
            return None
        if not VERSION_NUMBER.fullmatch(value):
            raise ValidationError("Must be a version number" + (" or current." if self.current else "."))
        return int(value)


class DiffArgs(Schema):
    """V4's path: `from` a version number, `to` one or `current` (None)."""
    from_number = VersionNumber(required=True, data_key="from")
    to_number = VersionNumber(current=True, required=True, data_key="to")


class FieldChange(Schema):
    from_ = fields.Raw(data_key="from", allow_none=True, required=True)
    to = fields.Raw(allow_none=True, required=True)


class CollectionRef(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class CollectionRename(Schema):
    id = fields.String(required=True)
    from_ = fields.String(data_key="from", required=True)
    to = fields.String(required=True)


class MemberChanges(CollectionRef):
    added = fields.List(fields.String(), required=True)
    removed = fields.List(fields.String(), required=True)


class CollectionChanges(Schema):
    added = fields.List(fields.Nested(CollectionRef), required=True)
    removed = fields.List(fields.Nested(CollectionRef), required=True)
    renamed = fields.List(fields.Nested(CollectionRename), required=True)
    members = fields.List(fields.Nested(MemberChanges), required=True)


class VersionDiff(Schema):
    """`to` is a version number, or the string "current"."""
    from_ = fields.Integer(data_key="from", required=True)
    to = fields.Raw(required=True, metadata={"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["current"]}]})
    dataset = fields.Dict(keys=fields.String(), values=fields.Nested(FieldChange), required=True)
    collections = fields.Nested(CollectionChanges, required=True)


def dump_version(row):
    """version_schema.dump(row), written out (tests/test_serialisation.py holds them equal)."""
    return {"number": row.number, "datasetId": row.dataset_id, "note": row.note, "createdAt": timestamp(row.created_at),
            "createdBy": row.created_by, "updatedBy": row.created_by, "collectionCount": row.collection_count,
            "memberCount": row.member_count}


version_create_schema = VersionCreate()
version_schema = Version()
version_detail_schema = VersionDetail()
diff_args_schema = DiffArgs()
version_diff_schema = VersionDiff()
VersionPage = PageSchema("versions", Version)
