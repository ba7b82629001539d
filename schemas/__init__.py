"""marshmallow schemas per resource: request bodies, query arguments, responses."""
