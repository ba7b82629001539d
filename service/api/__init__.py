"""The API blueprints: one per resource, under a parent blueprint whose every endpoint needs
a token; health checks and the OpenAPI document beside it, without one."""
from flask import Blueprint

from .. import auth, openapi
from . import collections, datasets, health, namespaces, projects, versions


def register(app):
    api = Blueprint("api", __name__)  # every endpoint under it needs a token
    api.before_request(auth.authenticate)
    for module in (namespaces, projects, datasets, collections, versions):
        api.register_blueprint(module.bp)
    app.register_blueprint(api)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)  # GET /openapi.json, no token
