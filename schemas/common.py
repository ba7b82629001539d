"""Field rules of contract §2, shared by every resource, and the pagination schemas.
Schemas are pure: no database, no request globals."""
import json
import math
import re
import sys
import unicodedata

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SURROGATE = re.compile("[\ud800-\udfff]")  # after JSON decoding, any surrogate left is a lone one
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc


def _category_class(category):
    """Every character of a Unicode category, as the inside of a regex character class that
    Python and ECMA-262 (with its u flag, as JSON Schema reads patterns) read alike: ranges of
    the Basic Multilingual Plane as \\uXXXX escapes, ranges beyond it as the characters
    themselves (ECMA-262 has no \\U escape)."""
    codes = [c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == category]
    parts, start = [], 0
    for i, code in enumerate(codes):
        if i + 1 < len(codes) and codes[i + 1] == code + 1 and code != 0xFFFF:
            continue
        low, high = codes[start], code
        if high <= 0xFFFF:
            parts.append(f"\\u{low:04x}" + (f"-\\u{high:04x}" if high > low else ""))
        else:
            parts.append(chr(low) + (f"-{chr(high)}" if high > low else ""))
        start = i + 1
    return "".join(parts)


_FORMAT_CLASS = _category_class("Cf")  # category Cf: zero-width, BOM, soft hyphen, bidi controls
_FORMAT = re.compile(f"[{_FORMAT_CLASS}]")
# check_name as a regular expression, read alike by Python and ECMA-262 (JSON Schema), which
# /openapi.json documents. check_name stays the authority (lone surrogates, messages).
_NAME_FORBIDDEN = rf"\x00-\x1f\x7f-\x9f/{_FORMAT_CLASS}"
NAME_REGEX = rf"(?!\.\.?$)[^\s{_NAME_FORBIDDEN}](?:[^{_NAME_FORBIDDEN}]{{0,126}}[^\s{_NAME_FORBIDDEN}])?"
MAX_MEMBERS_PER_REQUEST = 10_000
MAX_PAGE = 10_000_000
MAX_PAGE_SIZE = 200
MAX_CURSOR_LENGTH = 512


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
    if _FORMAT.search(value):
        raise ValidationError("Must not contain format characters (zero-width, BOM, soft hyphen, "
                              "bidirectional controls).")
    if value != value.strip():
        raise ValidationError("Must not start or end with white space.")
    if value in (".", ".."):
        raise ValidationError("Must not be '.' or '..'.")


def nfc(value):
    """A name as it is stored and compared: in Unicode normalization form C."""
    return unicodedata.normalize("NFC", value)


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


class RequestSchema(Schema):
    """A request body or the query arguments: unknown fields are refused (marshmallow's
    default). Many unknown fields are refused at once, before any field is looked at, so
    that a body of many thousands of keys costs what its parsing costs."""

    MAX_UNKNOWN = 10

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._known = {field.data_key or name for name, field in self.load_fields.items()}

    @pre_load
    def refuse_many_unknown(self, data, **kwargs):
        if not isinstance(data, dict):  # a nested object that is not one: marshmallow says so
            return data
        unknown = [key for key in data if key not in self._known]
        if len(unknown) > self.MAX_UNKNOWN:
            raise ValidationError({key: [self.error_messages["unknown"]] for key in unknown})
        return data


class FullMatch(validate.Regexp):
    """The whole value matches (a plain match of "…$" lets a trailing newline through)."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def Slug(**kwargs):
    return Text(validate=FullMatch(SLUG_RE, error="Must be lowercase letters, digits and inner hyphens, "
                                                  "at most 63 characters."), **kwargs)


class NFCText(Text):
    """Text in Unicode normalization form C: two spellings of one name are one name."""

    def _deserialize(self, value, attr, data, **kwargs):
        return nfc(super()._deserialize(value, attr, data, **kwargs))


def Name(**kwargs):
    return NFCText(validate=check_name, **kwargs)


def Title(**kwargs):
    """`name` of a namespace or project."""
    return Text(validate=validate.Length(1, 128), **kwargs)


def Description(**kwargs):
    return Text(validate=validate.Length(max=2000), allow_none=True, **kwargs)


class UniqueStrings(fields.List):
    """Node IDs or tags: a list of strings whose duplicates are dropped, first occurrence kept.
    Its length limit holds for the list as sent, and is checked before any item is looked at.
    `item_pattern`, the item field's rules as one regular expression, checks the items of a
    list that breaks no rule (the usual case) in one pass; a list with a bad item goes through
    the item field, for its messages. On output the list is passed through unchanged."""

    def __init__(self, inner, *, item_pattern=None, **kwargs):
        super().__init__(inner, **kwargs)
        self.item_pattern = item_pattern

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            for validator in self.validators:
                if isinstance(validator, validate.Length):
                    validator(value)
            valid = self.item_pattern.fullmatch if self.item_pattern else None
            if valid and all(type(item) is str and valid(item) for item in value):
                return list(dict.fromkeys(value))
        return list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))

    def _serialize(self, value, attr, obj, **kwargs):
        return value if value is None else list(value)


def _clean_strings(low, high, **kwargs):
    """A tag or node ID field: low to high characters, no control character, no lone
    surrogate (validate.Length also documents the bounds in /openapi.json)."""
    return UniqueStrings(Text(validate=[validate.Length(low, high), check_no_control]),
                         item_pattern=re.compile(f"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]{{{low},{high}}}"),
                         **kwargs)


def Tags(**kwargs):
    return _clean_strings(1, 64, validate=validate.Length(max=64), **kwargs)


def NodeIds(**kwargs):
    return _clean_strings(1, 256, validate=validate.Length(max=MAX_MEMBERS_PER_REQUEST), **kwargs)


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
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode("utf-8", "surrogatepass")) > self.MAX_BYTES:
            raise ValidationError(f"Must be at most {self.MAX_BYTES} bytes once serialized.")
        for s in _strings(value):
            check_clean(s)
        return text

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else json.loads(value)


def timestamp(value):
    """RFC 3339, UTC, milliseconds, Z, of a naive UTC datetime (as stored)."""
    return value.isoformat(timespec="milliseconds") + "Z"


class Subject(fields.String):
    """Who did it: the `sub` of the request's token."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, metadata={"description": "The `sub` of the token of the request that did "
                         "it (null for what was written before the service recorded it)."}, **kwargs)


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


class Cursor(fields.String):
    """A list's `nextCursor`, sent back as it was given (service/cursors.py checks it)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(1, MAX_CURSOR_LENGTH), **kwargs)


class PageArgs(RequestSchema):
    page = QueryInteger(load_default=1, validate=validate.Range(1, MAX_PAGE))
    page_size = QueryInteger(data_key="pageSize", load_default=50, validate=validate.Range(min=1))
    cursor = Cursor(metadata={"description": "The previous page's `nextCursor` as the service gave it (any other "
                                             "string is a 400), instead of `page` (both: a 400)."})

    @pre_load
    def page_or_cursor(self, args, **kwargs):
        if "page" in args and "cursor" in args:
            raise ValidationError("Give either page or cursor, not both.", "_schema")
        return args

    @post_load
    def clamp_page_size(self, args, **kwargs):
        args["page_size"] = min(args["page_size"], MAX_PAGE_SIZE)
        return args


page_args_schema = PageArgs()


def page_body(key, items, args, total, next_cursor):
    """The list envelope: {<key>: [...], page, pageSize, total, totalPages, nextCursor}; `page`
    is null on a page asked for by cursor."""
    return {key: items, "page": None if "cursor" in args else args["page"], "pageSize": args["page_size"],
            "total": total, "totalPages": math.ceil(total / args["page_size"]), "nextCursor": next_cursor}


def PageSchema(key, item_schema):
    """The schema of a list envelope (documents it; page_body builds it)."""
    return Schema.from_dict({
        key: fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True, allow_none=True,
                               metadata={"description": "null on a page asked for by cursor"}),
        "pageSize": fields.Integer(required=True),
        "total": fields.Integer(required=True),
        "totalPages": fields.Integer(required=True),
        "nextCursor": fields.String(required=True, allow_none=True,
                                    metadata={"description": "The cursor of the next page; null on the last"}),
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
