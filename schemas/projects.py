from marshmallow import Schema, fields, post_load

from .common import Description, PageSchema, RequestSchema, Slug, Timestamp, Title, timestamp


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


def dump_project(row):
    """project_schema.dump(row), written out (tests/test_serialisation.py holds them equal)."""
    return {"id": row.id, "namespaceId": row.namespace_id, "slug": row.slug, "name": row.name,
            "description": row.description, "createdAt": timestamp(row.created_at),
            "updatedAt": timestamp(row.updated_at)}


project_create_schema = ProjectCreate()
project_schema = Project()
ProjectPage = PageSchema("projects", Project)
