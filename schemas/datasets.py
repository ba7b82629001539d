from marshmallow import Schema, fields

from .common import Description, Metadata, Name, PageArgs, PageSchema, Tags, Text, Timestamp, UniqueStrings


class DatasetCreate(Schema):
    name = Name(required=True)
    description = Description()
    tags = Tags()
    metadata = Metadata(allow_none=True)


class DatasetUpdate(DatasetCreate):
    """PATCH: only the fields present are changed; `name` and `tags` may not be null."""


class DatasetListArgs(PageArgs):
    tag = fields.List(Text(), load_default=list)


class DatasetListItem(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    tags = UniqueStrings(fields.String(), required=True)
    createdAt = Timestamp(attribute="created_at", required=True)
    updatedAt = Timestamp(attribute="updated_at", required=True)


class Dataset(DatasetListItem):
    projectId = fields.String(attribute="project_id", required=True)
    metadata = Metadata(allow_none=True, required=True)


class DatasetCollection(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    members = UniqueStrings(fields.String(), required=True)


class DatasetDetail(Dataset):
    collections = fields.List(fields.Nested(DatasetCollection), required=True)


dataset_create_schema = DatasetCreate()
dataset_update_schema = DatasetUpdate(partial=True)
dataset_list_args_schema = DatasetListArgs()
dataset_schema = Dataset()
dataset_detail_schema = DatasetDetail()
dataset_list_item_schema = DatasetListItem()
DatasetPage = PageSchema("datasets", DatasetListItem)
