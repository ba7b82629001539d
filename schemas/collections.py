from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from .common import (
    MAX_MEMBERS_PER_REQUEST,
    Cursor,
    Name,
    NodeIds,
    PageArgs,
    PageSchema,
    QueryBoolean,
    QueryInteger,
    RequestSchema,
    Subject,
    Timestamp,
    UniqueStrings,
    timestamp,
)

MAX_SOURCES = 10


class SourceNames(fields.List):
    """2–10 collection names, their count checked as sent before any name is; a name given
    twice (in NFC) is refused."""

    def __init__(self, **kwargs):
        super().__init__(Name(), validate=validate.Length(2, MAX_SOURCES), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            self.validators[0](value)
        names = super()._deserialize(value, attr, data, **kwargs)
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValidationError(f"Collections named more than once: {twice}.")
        return names


class CollectionSource(RequestSchema):
    """C1's `from`: exactly one set operation over collections of the project, by name."""
    union = SourceNames()
    intersection = SourceNames()
    difference = SourceNames()

    @validates_schema
    def one_operation(self, data, **kwargs):
        if len(data) != 1:
            raise ValidationError("Give exactly one of union, intersection, difference.", "_schema")


class CollectionCreate(RequestSchema):
    name = Name(required=True)
    dataset = Name(allow_none=True)
    members = NodeIds()
    source = fields.Nested(CollectionSource, data_key="from", metadata={
        "description": "Instead of `members`: exactly one of `union`, `intersection`, `difference`, naming 2–10 live "
                       "collections of the project, whose current members make the new collection's, in order"})

    @validates_schema
    def members_or_from(self, data, **kwargs):
        if "members" in data and "source" in data:
            raise ValidationError("Give either members or from, not both.", "_schema")


class CollectionUpdate(RequestSchema):
    """PATCH: `name` renames; `dataset` moves it to a dataset of the project, or null: standalone."""
    name = Name()
    dataset = Name(allow_none=True)


class MembersChange(RequestSchema):
    add = NodeIds(load_default=list)
    remove = NodeIds(load_default=list)

    @pre_load
    def count_as_sent(self, data, **kwargs):
        """The limit of node IDs in all, counted as sent, before any ID is looked at (a list
        over the limit by itself is refused by its own field, naming it)."""
        sent = [len(data[key]) for key in ("add", "remove") if isinstance(data.get(key), list)]
        if sum(sent) > MAX_MEMBERS_PER_REQUEST and max(sent) <= MAX_MEMBERS_PER_REQUEST:
            raise ValidationError(f"At most {MAX_MEMBERS_PER_REQUEST} node IDs in add and remove together.",
                                  "_schema")
        return data

    @validates_schema
    def check_change(self, data, **kwargs):
        both = set(data["add"]).intersection(data["remove"])
        if both:
            raise ValidationError(f"Node IDs in both add and remove: {sorted(both)[:5]}.", "_schema")


class CollectionListArgs(PageArgs):
    dataset = Name()
    standalone = QueryBoolean()

    @validates_schema
    def one_filter(self, data, **kwargs):
        if "dataset" in data and data.get("standalone"):
            raise ValidationError("Give either dataset or standalone=true, not both.", "_schema")


class Collection(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    projectId = fields.String(attribute="project_id", required=True)
    dataset = fields.String(attribute="dataset_name", allow_none=True, required=True)
    memberCount = fields.Integer(attribute="member_count", required=True)
    createdAt = Timestamp(attribute="created_at", required=True)
    updatedAt = Timestamp(attribute="updated_at", required=True)
    createdBy = Subject(attribute="created_by", required=True)
    updatedBy = Subject(attribute="updated_by", required=True)


class CollectionDetail(Collection):
    members = UniqueStrings(fields.String(), required=True)


def dump_collection(row, dataset_name, members=None):
    """collection_schema.dump (or, with `members`, collection_detail_schema.dump) of the
    collection `row` in the dataset named `dataset_name` (None: standalone), written out:
    the same dict (tests/test_serialisation.py holds them equal) without marshmallow's work
    per field."""
    body = {"id": row.id, "name": row.name, "projectId": row.project_id, "dataset": dataset_name,
            "memberCount": row.member_count, "createdAt": timestamp(row.created_at),
            "updatedAt": timestamp(row.updated_at), "createdBy": row.created_by, "updatedBy": row.updated_by}
    if members is not None:
        body["members"] = members
    return body


class MembersArgs(RequestSchema):
    """M1's query: `limit` members after `cursor` (the first ones without it)."""
    limit = QueryInteger(load_default=1000, validate=validate.Range(1, MAX_MEMBERS_PER_REQUEST))
    cursor = Cursor(metadata={"description": "The previous page's `nextCursor`."})


class MembersPage(Schema):
    members = UniqueStrings(fields.String(), required=True)
    nextCursor = fields.String(required=True, allow_none=True,
                               metadata={"description": "The cursor of the next page; null on the last"})


collection_create_schema = CollectionCreate()
collection_update_schema = CollectionUpdate()
members_change_schema = MembersChange()
collection_list_args_schema = CollectionListArgs()
collection_schema = Collection()
collection_detail_schema = CollectionDetail()
members_args_schema = MembersArgs()
CollectionPage = PageSchema("collections", Collection)
