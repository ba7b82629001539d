"""Tenancy (OWASP API1): generated from the app's routes, every endpoint under
/namespaces/<slug>, with every method. A token for namespace `acme` asking about namespace
`other` gets exactly the answer it got before `other` existed, and changes nothing; lists and
details in `acme` never show a row of `other`, although both hold the same names."""

from tests.support.dbstate import assert_unchanged, table_rows
from service.models import Collection, Dataset, Namespace, Project

# A valid body for every endpoint that takes one, so that a request passes validation and
# reaches the namespace check (and succeeds with a token that may act in the namespace).
BODIES = {
    "api.projects.create_project": {"slug": "fresh"},
    "api.datasets.create_dataset": {"name": "fresh", "tags": ["t"], "metadata": {"k": 1}},
    "api.datasets.update_dataset": {"description": "changed", "tags": ["u"]},
    "api.collections.create_collection": {"name": "fresh", "dataset": "shared", "members": ["n9"]},
    "api.collections.update_collection": {"dataset": None},
    "api.collections.change_members": {"add": ["n9"], "remove": ["n1"]},
}
URL_VALUES = {"project_slug": "vision", "name": "shared"}
# Reads first, then writes, deletes last: the order in which they all succeed once.
METHOD_ORDER = ["GET", "HEAD", "OPTIONS", "POST", "PATCH", "DELETE"]


def namespaced_requests(app):
    """(method, path, body) for every route under /namespaces/<slug> and every method it
    takes, built for namespace `{slug}` (format it)."""
    adapter = app.url_map.bind("localhost")
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/namespaces/<"):
            continue
        for method in rule.methods:
            if method in ("POST", "PATCH"):
                assert rule.endpoint in BODIES, f"give {rule.endpoint} a valid body in BODIES"
            values = {key: URL_VALUES.get(key, "SLUG") for key in rule.arguments}
            path = adapter.build(rule.endpoint, values, method=method).replace("SLUG", "{slug}")
            found[method, path] = BODIES.get(rule.endpoint)
    assert len({path for _, path in found}) >= 8, found
    return [(m, p, found[m, p]) for m, p in sorted(found, key=lambda mp: (METHOD_ORDER.index(mp[0]), mp[1]))]


def populate(api, slug):
    """Namespace `slug`, its project `vision`, dataset `shared` holding collection `shared`
    (members n1, n2), and a standalone collection `solo`: the same names in every namespace."""
    project = f"/namespaces/{slug}/projects/vision"
    for path, body in ((("/namespaces", {"slug": slug})), (f"/namespaces/{slug}/projects", {"slug": "vision"}),
                       (f"{project}/datasets", {"name": "shared", "tags": ["t"]}),
                       (f"{project}/collections", {"name": "shared", "dataset": "shared", "members": ["n1", "n2"]}),
                       (f"{project}/collections", {"name": "solo", "members": ["n3"]})):
        response = api.post(path, json=body)
        assert response.status_code == 201, response.get_json()


def send(api, method, path, body):
    return api.request(method, path, json=body)


def answer(response):
    """What a client can observe, except the request ID and the time spent."""
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("X-Request-ID", "Server-Timing"))
    return response.status_code, headers, response.get_data(), response.headers.get("Server-Timing", "").split(";")[-1]


def namespace_ids(slug):
    """The ID of namespace `slug` and of every row under it."""
    namespace = Namespace.get(Namespace.slug == slug)
    ids = {namespace.id}
    for model in (Project, Dataset, Collection):
        ids.update(row.id for row in model.select(model.id).where(model.namespace == namespace.id))
    return ids


def test_another_namespace_answers_as_if_it_did_not_exist_and_changes_nothing(app, api, token):
    tenant = api.as_(token(["acme"]))
    populate(api, "acme")
    requests = namespaced_requests(app)
    absent = {(m, p): answer(send(tenant, m, p.format(slug="other"), b)) for m, p, b in requests}
    for (method, path), (status, *_) in absent.items():
        assert status == (200 if method == "OPTIONS" else 404), (method, path, status)

    populate(api, "other")
    before = table_rows()
    for method, path, body in requests:
        response = send(tenant, method, path.format(slug="other"), body)
        assert answer(response) == absent[(method, path)], (method, path)
        assert_unchanged(before, (method, path))

    for method, path, body in requests:  # the same requests are valid: they succeed in scope
        response = send(api, method, path.format(slug="other"), body)
        assert response.status_code < 300, (method, path, response.get_json())


def test_nothing_shown_in_a_namespace_belongs_to_another(app, api, token):
    tenant = api.as_(token(["acme"]))
    populate(api, "acme")
    populate(api, "other")
    with app.app_context():
        ours, theirs = namespace_ids("acme"), namespace_ids("other")
    reads = [(m, p, b) for m, p, b in namespaced_requests(app) if m == "GET"]
    for method, path, body in [("GET", "/namespaces", None), *reads]:
        response = send(tenant, method, path.format(slug="acme"), body)
        assert response.status_code == 200, (path, response.get_json())
        text = response.get_data(as_text=True)
        assert not [i for i in theirs if i in text], (path, text)
        assert [i for i in ours if i in text], (path, text)
