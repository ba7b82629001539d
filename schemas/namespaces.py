from marshmallow import Schema, fields, post_load

from .common import PageSchema, RequestSchema, Slug, Timestamp, Title, timestamp


class NamespaceCreate(RequestSchema):
    slug = Slug(required=True)
    name = Title()

    @post_load
    def default_name(self, data, **kwargs):
        data.setdefault("name", data["slug"])
        return data


class Namespace(Schema):
    id = fields.String(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    createdAt = Timestamp(attribute="created_at", required=True)
    updatedAt = Timestamp(attribute="updated_at", required=True)


def dump_namespace(row):
    """namespace_schema.dump(row), written out (tests/test_serialisation.py holds them equal)."""
    return {"id": row.id, "slug": row.slug, "name": row.name, "createdAt": timestamp(row.created_at),
            "updatedAt": timestamp(row.updated_at)}


namespace_create_schema = NamespaceCreate()
namespace_schema = Namespace()
NamespacePage = PageSchema("namespaces", Namespace)
