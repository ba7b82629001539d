"""What tests share besides fixtures: an authenticated JSON client, and readers of responses."""
import re


class Api:
    """The test client with a bearer token and JSON bodies: api.post(path, json=...)."""

    def __init__(self, client, bearer):
        self.client, self.bearer = client, bearer

    def as_(self, bearer):
        return Api(self.client, bearer)

    def request(self, method, path, headers=None, **kwargs):
        headers = dict(headers or {})
        if self.bearer is not None:
            headers.setdefault("Authorization", f"Bearer {self.bearer}")
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def queries(response):
    """The roundtrip count the response reports in Server-Timing."""
    match = re.search(r'desc="(\d+) queries"', response.headers.get("Server-Timing", ""))
    assert match, f"no Server-Timing count in {dict(response.headers)}"
    return int(match.group(1))


def error_code(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]


NS = "/namespaces/acme"
PROJECT = f"{NS}/projects/vision"
DATASETS = f"{PROJECT}/datasets"
COLLECTIONS = f"{PROJECT}/collections"


