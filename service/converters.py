"""URL converters: a namespace or project slug, a dataset or collection name. A path segment
that breaks the field rules matches no route, so it is a 404 with no database work."""
from werkzeug.routing import BaseConverter, ValidationError

from schemas.common import NAME_REGEX, is_valid_name


class SlugConverter(BaseConverter):
    """A namespace or project slug."""
    regex = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


class NameConverter(BaseConverter):
    """A dataset or collection name; a name that breaks the field rules cannot exist."""
    regex = NAME_REGEX

    def to_python(self, value):
        if not is_valid_name(value):
            raise ValidationError()
        return value


CONVERTERS = {"slug": SlugConverter, "name": NameConverter}
