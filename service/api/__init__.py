"""The API blueprints: one per resource, under a parent blueprint whose every endpoint needs
a token; health checks and the OpenAPI document beside it, without one."""
from flask import Blueprint

from .. import auth, openapi
from ..idempotency import idempotent
from . import collections, datasets, health, namespaces, nodes, projects, trash, versions


def register(app):
    api = Blueprint("api", __name__)  # every endpoint under it needs a token
    api.before_request(auth.authenticate)
    for module in (namespaces, projects, datasets, collections, nodes, versions, trash):
        api.register_blueprint(module.bp)
    app.register_blueprint(api)
    for rule in app.url_map.iter_rules():  # every POST of the API honours Idempotency-Key
        if "POST" in rule.methods and rule.endpoint.startswith("api."):
            app.view_functions[rule.endpoint] = idempotent(app.view_functions[rule.endpoint])
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)  # GET /openapi.json, no token
