"""Field rules of contract §2, shared by every resource, and the pagination schemas.
Schemas are pure: no database, no request globals."""
import json
import math
import re

from marshmallow import Schema, ValidationError, fields, post_load, validate

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SURROGATE = re.compile("[\ud800-\udfff]")  # after JSON decoding, any surrogate left is a lone one
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# check_name as a regular expression, read alike by Python and ECMA-262 (JSON Schema): URL
# routing matches names with it, so that an impossible name is a 404 whatever the method, and
# /openapi.json documents it. check_name stays the authority (lone surrogates, messages).
_NAME_FORBIDDEN = r"\x00-\x1f\x7f-\x9f/\u202a-\u202e\u2066-\u2069"
NAME_REGEX = rf"[^\s{_NAME_FORBIDDEN}](?:[^{_NAME_FORBIDDEN}]{{0,126}}[^\s{_NAME_FORBIDDEN}])?"
MAX_MEMBERS_PER_REQUEST = 10_000
MAX_PAGE = 10_000_000
MAX_PAGE_SIZE = 200


def check_clean(value):
    """Every string: no U+0000, no lone surrogates."""
    if "\x00" in value:
        raise ValidationError("Must not contain U+0000.")
    if _SURROGATE.search(value):
        raise ValidationError("Must not contain lone surrogates.")


def check_no_control(value):
    if _SURROGATE.search(value):
        raise ValidationError("Must not contain lone surrogates.")
    if _CONTROL.search(value):
        raise ValidationError("Must not contain control characters.")


def check_name(value):
    """Dataset and collection names (also used to reject impossible names in URLs)."""
    if not 1 <= len(value) <= 128:
        raise ValidationError("Length must be between 1 and 128.")
    check_no_control(value)
    if "/" in value:
        raise ValidationError("Must not contain '/'.")
    if _BIDI.search(value):
        raise ValidationError("Must not contain bidirectional override or isolate characters.")
    if value != value.strip():
        raise ValidationError("Must not start or end with white space.")


def is_valid_name(value):
    try:
        check_name(value)
    except ValidationError:
        return False
    return True


class Text(fields.String):
    """A string with no U+0000 and no lone surrogate."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        check_clean(value)
        return value


class FullMatch(validate.Regexp):
    """The whole value matches (a plain match of "…$" lets a trailing newline through)."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def Slug(**kwargs):
    return Text(validate=FullMatch(SLUG_RE, error="Must be lowercase letters, digits and inner hyphens, "
                                                  "at most 63 characters."), **kwargs)


def Name(**kwargs):
    return Text(validate=check_name, **kwargs)


def Title(**kwargs):
    """`name` of a namespace or project."""
    return Text(validate=validate.Length(1, 128), **kwargs)


def Description(**kwargs):
    return Text(validate=validate.Length(max=2000), allow_none=True, **kwargs)


class UniqueList(fields.List):
    """A list whose duplicates are dropped, first occurrence kept."""

    def _deserialize(self, value, attr, data, **kwargs):
        return list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))


class UniqueStrings(UniqueList):
    """Node IDs or tags. On output the list is passed through unchanged (no per-item work)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value if value is None else list(value)


def _length_without_control(low, high):
    """Validators of a tag or node ID (validate.Length also documents the bounds in /openapi.json)."""
    return [validate.Length(low, high), check_no_control]


def Tags(**kwargs):
    return UniqueStrings(Text(validate=_length_without_control(1, 64)), validate=validate.Length(max=64), **kwargs)


def NodeIds(**kwargs):
    return UniqueStrings(Text(validate=_length_without_control(1, 256)),
                         validate=validate.Length(max=MAX_MEMBERS_PER_REQUEST), **kwargs)


def _depth(value):
    """Nesting depth of a JSON value, without recursion (bodies are untrusted)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _strings(value):
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class Metadata(fields.Field):
    """A JSON object or null; at most 64 KiB serialized, depth at most 32, clean strings.
    Loaded as the JSON text to store; dumped from that text."""

    MAX_BYTES = 64 * 1024
    MAX_DEPTH = 32

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("Must be a JSON object or null.")
        if _depth(value) > self.MAX_DEPTH:
            raise ValidationError(f"Nesting depth must be at most {self.MAX_DEPTH}.")
        for s in _strings(value):
            check_clean(s)
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode()) > self.MAX_BYTES:
            raise ValidationError(f"Must be at most {self.MAX_BYTES} bytes once serialized.")
        return text

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else json.loads(value)


def timestamp(value):
    """RFC 3339, UTC, milliseconds, Z, of a naive UTC datetime (as stored)."""
    return value.isoformat(timespec="milliseconds") + "Z"


class Timestamp(fields.Field):
    """RFC 3339, UTC, milliseconds, Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else timestamp(value)


class QueryInteger(fields.Integer):
    """A whole number in a query string: ASCII digits only (no sign, exponent or fraction)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,18}", value):
            raise ValidationError("Must be a positive whole number.")
        return int(value)


class PageArgs(Schema):
    page = QueryInteger(load_default=1, validate=validate.Range(1, MAX_PAGE))
    page_size = QueryInteger(data_key="pageSize", load_default=50, validate=validate.Range(min=1))

    @post_load
    def clamp_page_size(self, args, **kwargs):
        args["page_size"] = min(args["page_size"], MAX_PAGE_SIZE)
        return args


page_args_schema = PageArgs()


def page_body(key, items, args, total):
    """The list envelope: {<key>: [...], page, pageSize, total, totalPages}."""
    return {key: items, "page": args["page"], "pageSize": args["page_size"], "total": total,
            "totalPages": math.ceil(total / args["page_size"])}


def PageSchema(key, item_schema):
    """The schema of a list envelope (documents it; page_body builds it)."""
    return Schema.from_dict({
        key: fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True),
        "pageSize": fields.Integer(required=True),
        "total": fields.Integer(required=True),
        "totalPages": fields.Integer(required=True),
    }, name=f"{key.capitalize()}Page")


class Success(Schema):
    success = fields.Boolean(required=True)


class ErrorDetail(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields")


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)



class QueryBoolean(fields.Field):
    """`true` or `false` in a query string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value not in ("true", "false"):
            raise ValidationError("Must be true or false.")
        return value == "true"
