"""Conditional requests (contract §8.3): a strong ETag on every single-resource GET (N3, P3,
D3, C3, V3), If-None-Match answered with a 304, If-Match on PATCH, DELETE and C5 answered
with a 412 when it does not name the current representation.

An ETag is a hash of what the representation shows, read without its members: a dataset's
fields and its collections' state (each collection's id, name and count of member changes,
in order: data.find_dataset with `state`), a collection's fields and count of member
changes. So a precondition costs no read of the members, and two representations that
differ in any byte have different tags."""
import hashlib
import json

from flask import current_app, request

from .errors import APIError


def _tag(*parts):
    return hashlib.sha256(json.dumps(parts, default=str, ensure_ascii=False).encode()).hexdigest()[:32]


def of_body(body):
    """The ETag of a representation given whole (N3, P3)."""
    return _tag(body)


def of_dataset(dataset, state):
    """The ETag of D3's representation of `dataset`, whose collections' state is `state` (a
    list, as data.find_dataset gives it)."""
    return _tag("dataset", dataset.id, dataset.name, dataset.description, list(dataset.tags), dataset.metadata,
                dataset.created_at, dataset.updated_at, dataset.created_by, dataset.updated_by, dataset.project_id,
                state)


def of_collection(collection, dataset_name):
    """The ETag of C3's representation of `collection` (in the dataset named `dataset_name`)."""
    return _tag("collection", collection.id, collection.name, collection.project_id, dataset_name,
                collection.member_count, collection.created_at, collection.updated_at, collection.created_by,
                collection.updated_by, collection.change_seq)


def of_version(version):
    """The ETag of V3's representation: a version never changes."""
    return _tag("version", version.id)


def not_modified(tag):
    """A 304 for a GET whose If-None-Match names `tag` (or "*"), else None."""
    if request.if_none_match.contains(tag) or request.if_none_match.star_tag:
        response = current_app.response_class(status=304)
        response.set_etag(tag)
        return response
    return None


def require(tag):
    """A 412 unless If-Match, when sent, names `tag` (or "*")."""
    if "If-Match" in request.headers and not (request.if_match.contains(tag) or request.if_match.star_tag):
        raise APIError(412, "precondition_failed", "If-Match does not name the current representation")


def tagged(body, tag):
    """`body` answered with its ETag."""
    response = current_app.make_response(body)
    response.set_etag(tag)
    return response
