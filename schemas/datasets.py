import json

from marshmallow import Schema, fields

from .common import (
    Description,
    Metadata,
    Name,
    PageArgs,
    PageSchema,
    RequestSchema,
    Subject,
    Tags,
    Timestamp,
    UniqueStrings,
    timestamp,
)


class DatasetCreate(RequestSchema):
    name = Name(required=True)
    description = Description()
    tags = Tags()
    metadata = Metadata(allow_none=True)


class DatasetUpdate(DatasetCreate):
    """PATCH: only the fields present are changed; `name` and `tags` may not be null."""


class DatasetListArgs(PageArgs):
    tag = Tags(load_default=list)


class DatasetListItem(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    tags = UniqueStrings(fields.String(), required=True)
    createdAt = Timestamp(attribute="created_at", required=True)
    updatedAt = Timestamp(attribute="updated_at", required=True)
    createdBy = Subject(attribute="created_by", required=True)
    updatedBy = Subject(attribute="updated_by", required=True)


class Dataset(DatasetListItem):
    projectId = fields.String(attribute="project_id", required=True)
    metadata = Metadata(allow_none=True, required=True)


class DatasetCollection(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    members = UniqueStrings(fields.String(), required=True)


class DatasetDetail(Dataset):
    collections = fields.List(fields.Nested(DatasetCollection), required=True)


def dump_list_item(row):
    """dataset_list_item_schema.dump(row), written out for D2's lists and D3: the same dict
    (tests/test_serialisation.py holds them equal) without marshmallow's work per field of
    every item. The schemas above stay the documented shape of the responses."""
    return {"id": row.id, "name": row.name, "description": row.description, "tags": list(row.tags),
            "createdAt": timestamp(row.created_at), "updatedAt": timestamp(row.updated_at),
            "createdBy": row.created_by, "updatedBy": row.updated_by}


def dump_dataset(row):
    """dataset_schema.dump(row) (D1, D4, T2), written out the same way."""
    return {**dump_list_item(row), "projectId": row.project_id,
            "metadata": None if row.metadata is None else json.loads(row.metadata)}


def dump_detail(row, collections):
    """dataset_detail_schema.dump of the dataset `row` with its `collections` ({id, name,
    members} each), written out the same way."""
    return {**dump_dataset(row),
            "collections": [{"id": c["id"], "name": c["name"], "members": c["members"]} for c in collections]}


dataset_create_schema = DatasetCreate()
dataset_update_schema = DatasetUpdate(partial=True)
dataset_list_args_schema = DatasetListArgs()
dataset_schema = Dataset()
dataset_detail_schema = DatasetDetail()
dataset_list_item_schema = DatasetListItem()
DatasetPage = PageSchema("datasets", DatasetListItem)
