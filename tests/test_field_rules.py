"""Contract §2: the field rules of every request body. Each rejected body is a 400 that
names the field and writes nothing; each accepted edge value is stored as sent."""
import json
from urllib.parse import quote

import pytest

from tests.support.api import COLLECTIONS, DATASETS, NS, create_collection, create_dataset, ok, send_json

# Every body the API takes: method, path, and a valid body that a case adds one field to.
TARGETS = {
    "N1": ("POST", "/namespaces", {"slug": "fresh"}),
    "P1": ("POST", f"{NS}/projects", {"slug": "fresh"}),
    "D1": ("POST", DATASETS, {"name": "fresh"}),
    "D4": ("PATCH", f"{DATASETS}/train", {}),
    "C1": ("POST", COLLECTIONS, {"name": "fresh"}),
    "C4": ("PATCH", f"{COLLECTIONS}/clips", {}),
    "C5": ("POST", f"{COLLECTIONS}/clips/members", {}),
}
# What a body sent to each could change (read after each one; everything is read around all).
WATCHED = {
    "N1": ["/namespaces"], "P1": [f"{NS}/projects"], "D1": [DATASETS], "D4": [DATASETS, f"{DATASETS}/train"],
    "C1": [COLLECTIONS], "C4": [COLLECTIONS, f"{COLLECTIONS}/clips"], "C5": [f"{COLLECTIONS}/clips"],
}

# Which bodies carry which kind of field.
FIELDS = {
    "slug": [("N1", "slug"), ("P1", "slug")],
    "title": [("N1", "name"), ("P1", "name")],
    "name": [("D1", "name"), ("D4", "name"), ("C1", "name"), ("C4", "name")],
    "description": [("P1", "description"), ("D1", "description"), ("D4", "description")],
    "tags": [("D1", "tags"), ("D4", "tags")],
    "metadata": [("D1", "metadata"), ("D4", "metadata")],
    "node_ids": [("C1", "members"), ("C5", "add"), ("C5", "remove")],
    "dataset_ref": [("C1", "dataset"), ("C4", "dataset")],
}

BIDI = [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
# Format characters (category Cf) besides the bidirectional ones: zero-width space, joiners, BOM,
# soft hyphen, left-to-right mark, word joiner, Arabic number sign, a tag character.
FORMAT = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u200e", "\u2060", "\u0600", "\U000e0001"]


def nested(depth):
    """A metadata object nested `depth` objects deep (the object itself is depth 1)."""
    value = {"leaf": True}
    for _ in range(depth - 1):
        value = {"next": value}
    return value


def sized(size):
    """A metadata object whose compact JSON text is exactly `size` bytes."""
    text_bytes = size - len('{"k":""}')
    value = {"k": "é" * (text_bytes // 2) + "x" * (text_bytes % 2)}
    assert len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) == size
    return value


KIB_64 = 64 * 1024

BAD = {
    "slug": {
        "empty": "", "uppercase": "Acme", "underscore": "a_b", "space": "a b", "leading-hyphen": "-ab",
        "trailing-hyphen": "ab-", "64-chars": "a" * 64, "non-ascii": "café", "trailing-newline": "acme\n",
        "nul": "ac\x00me", "lone-surrogate": "a\ud800", "number": 5, "null": None,
    },
    "title": {
        "empty": "", "129-chars": "x" * 129, "nul": "a\x00b", "lone-surrogate": "a\udc00b", "number": 5,
        "list": ["a"],
    },
    "name": {
        "empty": "", "129-chars": "x" * 129, "slash": "a/b", "nul": "a\x00b", "tab": "a\tb", "newline": "a\nb",
        "del": "a\x7fb", "c1-control": "a\x85b", "lone-high-surrogate": "a\ud800b", "lone-low-surrogate": "\udfff",
        **{f"bidi-U+{ord(c):04X}": f"a{c}b" for c in BIDI},
        **{f"format-U+{ord(c):04X}": f"train{c}" for c in FORMAT}, "only-zero-width": "\u200b",
        "only-bom": "\ufeff", "dot": ".", "dot-dot": "..",
        "leading-space": " ab", "trailing-space": "ab ", "leading-nbsp": "\u00a0ab",
        "trailing-ideographic-space": "ab\u3000", "only-space": " ", "number": 5, "list": ["a"], "null": None,
    },
    "description": {
        "2001-chars": "x" * 2001, "nul": "a\x00b", "lone-surrogate": "\ud800", "number": 5, "list": ["a"],
    },
    "tags": {
        "65-tags": [f"t{i}" for i in range(65)], "65-same-tags": ["t"] * 65, "empty-tag": [""],
        "65-char-tag": ["x" * 65],
        "control-in-tag": ["a\nb"], "nul-in-tag": ["a\x00"], "lone-surrogate-in-tag": ["\ud800"],
        "not-a-list": "cars", "number-tag": [5], "object": {"a": "b"}, "null": None,
    },
    "metadata": {
        "list": [], "string": "x", "number": 5, "boolean": True, "depth-33": nested(33),
        "over-64-KiB": sized(KIB_64 + 1), "nul-in-key": {"a\x00": 1}, "nul-in-value": {"a": "b\x00"},
        "nul-deep": {"a": [{"b": ["\x00"]}]}, "lone-surrogate-in-key": {"\ud800": 1},
        "lone-surrogate-in-value": {"a": {"b": "x\udc00"}},
    },
    "node_ids": {
        "10001-same-ids": ["m"] * 10_001, "empty-id": [""], "257-chars": ["x" * 257], "nul": ["a\x00"],
        "newline": ["a\nb"], "unit-separator": ["a\x1fb"],
        "lone-surrogate": ["\ud800"], "not-a-list": "node", "number": [5], "object": {"a": "b"},
    },
    "dataset_ref": {"nul": "a\x00b", "lone-surrogate": "\ud800", "number": 5, "list": ["a"]},
}

# Edge values that are accepted and stored as sent.
GOOD = {
    "slug": {"one-char": "a", "63-chars": "a" * 63, "digits-and-hyphens": "0-a--9"},
    "title": {"one-char": "x", "128-chars": "x" * 128, "slash-and-spaces": "Acme / Vision team (α)"},
    "name": {"one-char": "x", "128-chars": "x" * 128, "128-astral-chars": "😀" * 128,
             "inner-spaces-and-punctuation": "front camera clips (v2.1) — №3", "surrogate-pair": "a\U0001F600b"},
    "description": {"2000-chars": "x" * 2000, "empty": "", "null": None, "newlines-and-tabs": "one\ntwo\tthree"},
    "tags": {"64-tags": [f"t{i}" for i in range(64)], "64-char-tag": ["x" * 64], "empty": [],
             "spaces-and-slashes": [" a/b "]},
    "metadata": {"null": None, "empty": {}, "depth-32": nested(32), "64-KiB": sized(KIB_64),
                 "json-values": {"a": [1, 1.5, "two", None, True, {"b": []}], "ctl": "line\nbreak"}},
    "node_ids": {"256-chars": ["x" * 256], "slashes-and-spaces": ["clip/1 frame 2"], "astral": ["😀"]},
}


def pairs(kinds):
    return [pytest.param(target, field, kind, id=f"{target}-{field}")
            for kind in kinds for target, field in FIELDS[kind]]


@pytest.fixture
def world(api, project):
    """A dataset `train` holding collection `clips`, for the PATCH and members bodies."""
    create_dataset(api, "train", description="d", tags=["t"], metadata={"m": 1})
    create_collection(api, "clips", dataset="train", members=["n1", "n2"])


EVERYTHING = ["/namespaces", f"{NS}/projects", DATASETS, COLLECTIONS, f"{DATASETS}/train", f"{COLLECTIONS}/clips"]


def state(api, paths=EVERYTHING):
    """What the GETs of `paths` answer (lists: their first 200 rows)."""
    return [ok(api.get(path, query_string={"pageSize": 200})) for path in paths]


def why_not_refused(api, target, body, status=400, code="validation_error", field=None):
    """None when `body` sent to `target` is refused with `status` and `code`, with `fields`
    naming `field`; otherwise what happened instead. `body` is a dict sent as JSON, or a
    function sending whatever it likes."""
    method, path, _ = TARGETS[target]
    response = body(api, method, path) if callable(body) else send_json(api, method, path, body)
    error = (response.get_json(silent=True) or {}).get("error") or {}
    if response.status_code != status or error.get("code") != code:
        return f"{response.status_code} {response.get_data(as_text=True)[:300]}"
    if field is not None and field not in error.get("fields", {}):
        return f"fields {error.get('fields')} do not name {field!r}"
    return None


def assert_all_refused(api, target, bodies, **expected):
    """Every body of `bodies` (label -> body) is refused and changes nothing; the failures
    name their labels."""
    failures, everything, before = {}, state(api), state(api, WATCHED[target])
    for label, body in bodies.items():
        why = why_not_refused(api, target, body, **expected)
        after = state(api, WATCHED[target])
        if after != before:
            why, before = f"{why or 'refused'}, but it changed stored data", after
        if why:
            failures[label] = why
    assert failures == {}
    assert state(api) == everything


@pytest.mark.parametrize("target, field, kind", pairs(BAD))
def test_a_value_breaking_a_rule_is_400_naming_the_field(api, world, target, field, kind):
    bodies = {label: {**TARGETS[target][2], field: value} for label, value in BAD[kind].items()}
    assert_all_refused(api, target, bodies, field=field)


def why_not_accepted(api, target, field, value, fresh):
    """None when `value` in `field` is accepted and stored as sent; otherwise what happened.
    The body's own slug or name is `fresh`, so that each value creates a row of its own."""
    method, path, base = TARGETS[target]
    response = send_json(api, method, path, {**{key: fresh for key in base}, field: value})
    if response.status_code not in (200, 201):
        return f"{response.status_code} {response.get_data(as_text=True)[:300]}"
    body = response.get_json()
    if field in ("members", "add", "remove"):
        members = ok(api.get(f"{COLLECTIONS}/{body['name']}"))["members"]
        stored = {"members": members, "add": members[-len(value):], "remove": members}[field]
        expected = ["n1", "n2"] if field == "remove" else value
    else:
        stored, expected = body[field], value
    if method == "PATCH" and field == "name":  # back to the name the next value's path uses
        ok(api.patch(f"{path.rsplit('/', 1)[0]}/{quote(value, safe='')}", json={"name": path.rsplit("/", 1)[1]}))
    return None if stored == expected else f"stored {stored!r}"


@pytest.mark.parametrize("target, field, kind", pairs(GOOD))
def test_edge_values_within_the_rules_are_accepted(api, world, target, field, kind):
    failures = {label: why for i, (label, value) in enumerate(GOOD[kind].items())
                if (why := why_not_accepted(api, target, field, value, f"fresh-{i}"))}
    assert failures == {}


def test_a_missing_required_field_is_400_naming_it(api, world):
    for target, field in (("N1", "slug"), ("P1", "slug"), ("D1", "name"), ("C1", "name")):
        assert_all_refused(api, target, {"empty-object": {}}, field=field)


@pytest.mark.parametrize("target", TARGETS)
def test_an_unknown_field_is_400_naming_it(api, world, target):
    fields = ("unknown", "id", "createdAt", "updatedAt", "projectId", "namespaceId", "memberCount", "Name")
    for field in fields:
        assert_all_refused(api, target, {field: {**TARGETS[target][2], field: "x"}}, field=field)


def raw(data, content_type="application/json"):
    return lambda api, method, path: api.request(method, path, data=data, content_type=content_type)


INVALID_JSON = {
    "malformed": raw('{"name": "x"'),
    "trailing-garbage": raw('{"name": "x"} x'),
    "array": raw('[{"name": "x"}]'),
    "string": raw('"x"'),
    "null": raw("null"),
    "number": raw("5"),
    "nan-value": raw('{"name": "x", "description": NaN}'),
    "infinity-value": raw('{"name": "x", "metadata": {"v": Infinity}}'),
    "negative-infinity": raw("-Infinity"),
    "too-deep": raw('{"name": "x", "metadata": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001),
    "invalid-utf8": raw(b'{"name": "\xff\xfe"}'),
}


@pytest.mark.parametrize("target", TARGETS)
def test_a_body_that_is_not_a_json_object_is_refused(api, world, target):
    assert_all_refused(api, target, INVALID_JSON, code="invalid_json")
    assert_all_refused(api, target, {"text-plain": raw('{"name": "x"}', "text/plain"),
                                     "form": raw("name=x", "application/x-www-form-urlencoded")},
                       status=415, code="unsupported_media_type")
    over = raw('{"name": "x", "description": "' + "x" * (1024 * 1024) + '"}')
    assert_all_refused(api, target, {"over-1-MiB": over}, status=413, code="payload_too_large")
    assert_all_refused(api, target, {"no-body": raw(b"")}, code="invalid_json")
