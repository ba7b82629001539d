"""URL converters (a namespace or project slug, a dataset or collection name), and the checks
of a path that routing alone does not make. A path segment that breaks the field rules names
nothing: a 404, whatever the method, with no database work."""
from flask import current_app, request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter

from schemas.common import is_valid_name, nfc
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


CONVERTERS = {"slug": SlugConverter, "name": NameConverter, "number": VersionNumberConverter}


def check_path():
    """before_request: what routing let through that names nothing.
    - No slug or name holds "/", so a path that encodes one (%2F) names nothing, even where
      its decoded form would match another route (…/clips%2Fmembers is not …/clips/members).
    - A path that matched only other methods' rules is a 405 only if it could name something:
      matched again for one of those methods, its converters check its names (404)."""
    raw_path = request.environ.get("RAW_URI", "").split("?", 1)[0]
    if "%2f" in raw_path.lower():
        raise NotFound()
    error = request.routing_exception
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        current_app.url_map.bind_to_environ(request.environ).match(method=error.valid_methods[0])
