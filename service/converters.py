"""URL converters (a namespace or project slug, a dataset or collection name, a node ID), and
the checks of a path that routing alone does not make. A path segment that breaks the field
rules names nothing: a 404, whatever the method, with no database work."""
import re

from flask import current_app, request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, PathConverter

from schemas.common import is_valid_name, nfc
from schemas.nodes import NODE_ID
from schemas.versions import VERSION_NUMBER


class SlugConverter(BaseConverter):
    """A namespace or project slug."""
    regex = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


class NameConverter(BaseConverter):
    """A dataset or collection name, in either Unicode normalization form: it is stored and
    compared in NFC, and the rules apply to that form (a decomposed spelling, as some systems
    write file names, may be longer). An impossible name raises NotFound itself: werkzeug
    would answer a converter's ValidationError with 405 when the path also matched the rule
    of another method."""
    regex = r"[^/]+"

    def to_python(self, value):
        value = nfc(value)
        if not is_valid_name(value):
            raise NotFound()
        return value


class VersionNumberConverter(BaseConverter):
    """A version number (1, 2, ...); anything else names no version."""
    regex = VERSION_NUMBER.pattern

    def to_python(self, value):
        return int(value)


class IdConverter(BaseConverter):
    """A row's ID (service/models.py new_id): URL-safe base64 characters."""
    regex = r"[A-Za-z0-9_-]{1,64}"


class NodeIdConverter(PathConverter):
    """A node ID (R1), as it is: "/" included, so it takes the path up to the route's last
    segment (a "/" at either end or twice in a row is its own). Not in NFC: node IDs are
    opaque. One that breaks the node ID rules names nothing: NotFound, as for names."""
    regex = ".+?"
    part_isolating = False  # (werkzeug infers it from a regex without "/")

    def to_python(self, value):
        if not NODE_ID.fullmatch(value):
            raise NotFound()
        return value


CONVERTERS = {"slug": SlugConverter, "name": NameConverter, "number": VersionNumberConverter, "id": IdConverter,
              "node": NodeIdConverter}


def check_path():
    """before_request: what routing let through that names nothing.
    - No slug or name holds "/", so a path that encodes one (%2F) names nothing, even where
      its decoded form would match another route (…/clips%2Fmembers is not …/clips/members).
      A node ID may hold "/": its own segments may write it as %2F (`_slash_in_node_id`).
    - A path that matched only other methods' rules is a 405 only if it could name something:
      matched again for one of those methods, its converters check its names (404)."""
    raw_path = request.environ.get("RAW_URI", "").split("?", 1)[0]
    if "%2f" in raw_path.lower() and not _slash_in_node_id(raw_path):
        raise NotFound()
    error = request.routing_exception
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        current_app.url_map.bind_to_environ(request.environ).match(method=error.valid_methods[0])


def _slash_in_node_id(raw_path):
    """Whether every %2F of the raw path lies in the node ID of the route it matched (R1), as
    clients that encode a path parameter write its "/": the segments around it hold none."""
    rule = request.url_rule
    parts = re.split(r"<node:\w+>", rule.rule) if rule is not None else []
    if len(parts) != 2 or not raw_path.startswith("/"):  # (an absolute URI keeps its %2F refused)
        return False
    segments = raw_path.split("/")
    around = segments[:parts[0].count("/")] + segments[len(segments) - parts[1].count("/"):]
    return "%2f" not in "/".join(around).lower()
