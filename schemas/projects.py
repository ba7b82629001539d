from marshmallow import Schema, fields, post_load

from .common import Description, PageSchema, RequestSchema, Slug, Timestamp, Title


class ProjectCreate(RequestSchema):
    slug = Slug(required=True)
    name = Title()
    description = Description()

    @post_load
    def default_name(self, data, **kwargs):
        data.setdefault("name", data["slug"])
        return data


class Project(Schema):
    id = fields.String(required=True)
    namespaceId = fields.String(attribute="namespace_id", required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    createdAt = Timestamp(attribute="created_at", required=True)
    updatedAt = Timestamp(attribute="updated_at", required=True)


project_create_schema = ProjectCreate()
project_schema = Project()
ProjectPage = PageSchema("projects", Project)
