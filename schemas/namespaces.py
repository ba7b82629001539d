from marshmallow import Schema, fields, post_load

from .common import PageSchema, RequestSchema, Slug, Timestamp, Title


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


namespace_create_schema = NamespaceCreate()
namespace_schema = Namespace()
NamespacePage = PageSchema("namespaces", Namespace)
