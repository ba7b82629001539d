"""The client: RegistryClient for namespaces and projects, and a ProjectClient (from
`client.project(namespace, project)`) for what lives in a project."""
from __future__ import annotations

import enum
import json
import logging
import ssl
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from .errors import ConnectionFailed, RegistryError, error_for
from .models import (
    Collection,
    CollectionDetail,
    Dataset,
    DatasetDetail,
    DatasetSummary,
    Namespace,
    NodeCollection,
    Project,
    TrashItem,
    Version,
    VersionDetail,
    VersionDiff,
)
from .retry import Retry, parse_retry_after

__all__ = ["UNSET", "ProjectClient", "RegistryClient", "Token", "Unset"]

log = logging.getLogger("registry_client")

T = TypeVar("T")
Token = str | Callable[[], str]
Query = list[tuple[str, str]]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
USER_AGENT = f"dataset-registry-client/1.0 httpx/{httpx.__version__}"

# Failures where the request never left: retried whatever the method.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures where it may have arrived, and may have taken effect, but its answer was lost.
_MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError,
               httpx.CloseError)


class Unset(enum.Enum):
    """The type of UNSET: an update's argument left out (None sets a field to null)."""
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET


def _segment(value: str | int) -> str:
    """One path segment: every character that is not unreserved percent-encoded (`/`
    included), and `.` and `..` written so that no URL normalisation drops them."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def _strings(name: str, values: Iterable[str]) -> list[str]:
    """A list of strings from `values`; a lone string (a common slip) is refused."""
    if isinstance(values, str | bytes):
        raise TypeError(f"{name} must be a list of strings, not a single string")
    return list(values)


def _if_match(etag: str | None) -> str | None:
    """An ETag as If-Match wants it: quoted (a bare tag is quoted here)."""
    if etag is None:
        return None
    return etag if etag.startswith(('"', "W/")) or etag == "*" else f'"{etag}"'


class RegistryClient:
    """A client of the dataset registry.

    `base_url`: where the service answers (`http://registry:8000`, or a prefix behind a
    proxy). `token`: the JWT, or a callable that returns one, called before every attempt
    of every request (so that it can hand out a fresh token; make it cache). `retry`: how
    often and how long to retry (Retry()). `timeout`: seconds, or an httpx.Timeout (30 s,
    5 s to connect). `transport`, `verify`, `headers`: passed to the httpx.Client.

    Use it as a context manager, or call close(). It is safe to share between threads."""

    def __init__(self, base_url: str, token: Token, *, retry: Retry | None = None,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None,
                 verify: ssl.SSLContext | bool = True, headers: Mapping[str, str] | None = None) -> None:
        self._token: Callable[[], str] = token if callable(token) else (lambda: token)
        self.retry = retry or Retry()
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                  verify=verify, follow_redirects=False,
                                  headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})})

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- namespaces (N1-N3) and projects (P1-P3) -------------------------------------------------

    def create_namespace(self, slug: str, name: str | None = None, *,
                         idempotency_key: str | None = None) -> Namespace:
        """N1 (the token needs `"*"` in its namespaces)."""
        response = self._post("/namespaces", _present(slug=slug, name=name), idempotency_key)
        return _model(response, Namespace.from_json)

    def list_namespaces(self, *, page_size: int = 50) -> Iterator[Namespace]:
        """N2: every namespace the token may act in, oldest first, by cursor."""
        return self._walk("/namespaces", "namespaces", Namespace.from_json, [], page_size)

    def get_namespace(self, slug: str) -> Namespace:
        """N3, with its `etag`."""
        response = self._get(f"/namespaces/{_segment(slug)}")
        return _model(response, Namespace.from_json, tagged=True)

    def create_project(self, namespace: str, slug: str, *, name: str | None = None,
                       description: str | None = None, idempotency_key: str | None = None) -> Project:
        """P1."""
        response = self._post(f"/namespaces/{_segment(namespace)}/projects",
                              _present(slug=slug, name=name, description=description), idempotency_key)
        return _model(response, Project.from_json)

    def list_projects(self, namespace: str, *, page_size: int = 50) -> Iterator[Project]:
        """P2: the namespace's projects, oldest first, by cursor."""
        return self._walk(f"/namespaces/{_segment(namespace)}/projects", "projects", Project.from_json, [],
                          page_size)

    def get_project(self, namespace: str, slug: str) -> Project:
        """P3, with its `etag`."""
        response = self._get(f"/namespaces/{_segment(namespace)}/projects/{_segment(slug)}")
        return _model(response, Project.from_json, tagged=True)

    def project(self, namespace: str, project: str) -> ProjectClient:
        """What lives in project `project` of namespace `namespace` (no request is made)."""
        return ProjectClient(self, namespace, project)

    # -- requests ----------------------------------------------------------------------------

    def _get(self, path: str, params: Query | None = None) -> httpx.Response:
        return self._request("GET", path, params=params)

    def _post(self, path: str, body: Mapping[str, Any], idempotency_key: str | None, *,
              if_match: str | None = None, read_only: bool = False) -> httpx.Response:
        return self._request("POST", path, body=body, if_match=if_match, read_only=read_only,
                             idempotency_key=None if read_only else (idempotency_key or str(uuid.uuid4())))

    def _walk(self, path: str, key: str, parse: Callable[[Any], T], params: Query, page_size: int,
              size_param: str = "pageSize") -> Iterator[T]:
        """The items of a list, page after page by cursor. The first page is asked for now (so
        that a 404 or a 400 is raised by the call), the others as the iteration reaches them."""
        query = [*params, (size_param, str(page_size))]
        first = self._page(path, query, key)

        def items() -> Iterator[T]:
            page = first
            while True:
                body, cursor = page
                for item in body:
                    yield parse(item)
                if cursor is None:
                    return
                page = self._page(path, [*query, ("cursor", cursor)], key)

        return items()

    def _page(self, path: str, query: Query, key: str) -> tuple[list[dict[str, Any]], str | None]:
        response = self._get(path, query)
        body = _model(response, lambda body: body)
        if not isinstance(body, dict) or not isinstance(body.get(key), list) or "nextCursor" not in body:
            raise RegistryError(response.status_code, "invalid_response",
                                f"a list answer without `{key}` or `nextCursor` (a service without cursors?)",
                                request_id=response.request.headers.get("X-Request-ID"))
        return body[key], body["nextCursor"]

    def _request(self, method: str, path: str, *, params: Query | None = None,
                 body: Mapping[str, Any] | None = None, if_match: str | None = None,
                 idempotency_key: str | None = None, read_only: bool = False) -> httpx.Response:
        """Send one logical request, retried by the rules of the README; its answer if 2xx,
        else its exception."""
        request_id = uuid.uuid4().hex
        headers = {"X-Request-ID": request_id}
        content = None
        if body is not None:
            # Serialised once: every attempt sends the very same bytes (an Idempotency-Key
            # replays only the same request).
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if if_match is not None:
            headers["If-Match"] = if_match
        # Safe to send again after an answer was lost (the first may have taken effect).
        repeatable = (method in ("GET", "DELETE") or read_only or idempotency_key is not None
                      or (method == "PATCH" and if_match is not None))
        retry, attempt, answer_lost = self.retry, 0, False
        while True:
            attempt += 1
            headers["Authorization"] = f"Bearer {self._token()}"
            try:
                response = self._http.request(method, path, params=tuple(params or ()), content=content,
                                              headers=headers)
            except (*_NOT_SENT, *_MAYBE_SENT) as exc:
                sent = not isinstance(exc, _NOT_SENT)
                if attempt >= retry.attempts or (sent and not repeatable):
                    why = "" if not sent or repeatable else f" (a {method} without an etag is not sent twice)"
                    raise ConnectionFailed(None, "connection_failed", f"{method} {path}: {exc!r}{why}",
                                           request_id=request_id, attempts=attempt) from exc
                answer_lost = answer_lost or sent
                self._wait(attempt, None, f"{method} {path}", repr(exc))
                continue
            status = response.status_code
            if status < 400:
                return response
            if status == 404 and method == "DELETE" and answer_lost:
                # An earlier attempt deleted it and its answer was lost: it is gone, as asked.
                return response
            # A 503 did nothing; another status of `statuses` (a 502 or 504 from a proxy, say)
            # may follow a request that took effect: retried only when repeatable. A 409 after a
            # lost answer: the attempt with the same key may still be running.
            done_nothing = status == 503
            again = (status in retry.statuses and (done_nothing or repeatable)) or \
                (status == 409 and answer_lost and idempotency_key is not None)
            if again and attempt < retry.attempts:
                answer_lost = answer_lost or (status in retry.statuses and not done_nothing)
                self._wait(attempt, parse_retry_after(response.headers.get("Retry-After")), f"{method} {path}",
                           str(status))
                continue
            try:
                payload = response.json()
            except ValueError:
                payload = None
            raise error_for(status, payload, request_id=request_id, attempts=attempt)

    def _wait(self, attempt: int, retry_after: float | None, what: str, why: str) -> None:
        delay = self.retry.delay(attempt, retry_after)
        log.warning("registry: %s failed (%s), attempt %d of %d; retrying in %.2f s", what, why, attempt,
                    self.retry.attempts, delay)
        if delay > 0:
            self.retry.sleep(delay)


def _model(response: httpx.Response, parse: Callable[..., T], tagged: bool = False) -> T:
    """`parse` of the answer's JSON (and of its ETag, when `tagged`); an answer that does not
    have the expected shape is a RegistryError `invalid_response`."""
    try:
        body = response.json()
        return parse(body, response.headers.get("ETag")) if tagged else parse(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(response.status_code, "invalid_response", f"an answer this client cannot read: {exc!r}",
                            request_id=response.request.headers.get("X-Request-ID")) from exc


def _present(**fields: Any) -> dict[str, Any]:
    """The fields whose value is not None (None: left to the service's default)."""
    return {key: value for key, value in fields.items() if value is not None}


def _given(**fields: Any) -> dict[str, Any]:
    """The fields that are not UNSET (None stays: it sets a field to null)."""
    return {key: value for key, value in fields.items() if value is not UNSET}


class ProjectClient:
    """Datasets, collections, versions, the trash and node lookups of one project:
    `client.project("acme", "vision")`. Dataset and collection names are given as they are
    (the client encodes them in URLs)."""

    def __init__(self, client: RegistryClient, namespace: str, project: str) -> None:
        self.client, self.namespace, self.slug = client, namespace, project
        self._base = f"/namespaces/{_segment(namespace)}/projects/{_segment(project)}"

    def __repr__(self) -> str:
        return f"ProjectClient({self.namespace!r}, {self.slug!r})"

    def get(self) -> Project:
        """The project itself (P3), with its `etag`."""
        return self.client.get_project(self.namespace, self.slug)

    # -- datasets (D1-D5) ----------------------------------------------------------------------

    def create_dataset(self, name: str, *, description: str | None = None, tags: Sequence[str] | None = None,
                       metadata: Mapping[str, Any] | None = None, idempotency_key: str | None = None) -> Dataset:
        """D1."""
        body = _present(name=name, description=description, metadata=metadata,
                        tags=None if tags is None else _strings("tags", tags))
        return _model(self.client._post(f"{self._base}/datasets", body, idempotency_key), Dataset.from_json)

    def list_datasets(self, *, tags: Sequence[str] = (), page_size: int = 50) -> Iterator[DatasetSummary]:
        """D2: the project's datasets (those carrying every tag of `tags`), oldest first, by cursor."""
        return self.client._walk(f"{self._base}/datasets", "datasets", DatasetSummary.from_json,
                                 [("tag", tag) for tag in _strings("tags", tags)], page_size)

    def get_dataset(self, name: str) -> DatasetDetail:
        """D3: the dataset with its collections and their members, with its `etag`."""
        response = self.client._get(self._dataset(name))
        return _model(response, DatasetDetail.from_json, tagged=True)

    def update_dataset(self, name: str, *, new_name: str | Unset = UNSET, description: str | None | Unset = UNSET,
                       tags: Sequence[str] | Unset = UNSET, metadata: Mapping[str, Any] | None | Unset = UNSET,
                       etag: str | None = None) -> Dataset:
        """D4: change the fields given (None sets `description` or `metadata` to null); with
        `etag`, only if the dataset is still as read (else PreconditionFailed). The answer
        carries the new `etag`."""
        body = _given(name=new_name, description=description, metadata=metadata,
                      tags=tags if tags is UNSET else _strings("tags", tags))
        response = self.client._request("PATCH", self._dataset(name), body=body, if_match=_if_match(etag))
        return _model(response, Dataset.from_json, tagged=True)

    def delete_dataset(self, name: str, *, etag: str | None = None) -> None:
        """D5: to the trash; its collections become standalone. With `etag`, only if unchanged."""
        self.client._request("DELETE", self._dataset(name), if_match=_if_match(etag))

    # -- collections (C1-C6, M1) ---------------------------------------------------------------

    def create_collection(self, name: str, *, dataset: str | None = None, members: Sequence[str] | None = None,
                          union: Sequence[str] | None = None, intersection: Sequence[str] | None = None,
                          difference: Sequence[str] | None = None, idempotency_key: str | None = None) -> Collection:
        """C1: standalone, or in `dataset`; with `members`, or with the members of the union,
        intersection or difference of 2-10 other collections of the project (one of them)."""
        body = _present(name=name, dataset=dataset, members=None if members is None else _strings("members", members))
        source = {op: _strings(op, names) for op, names in
                  (("union", union), ("intersection", intersection), ("difference", difference)) if names is not None}
        if source:
            body["from"] = source
        return _model(self.client._post(f"{self._base}/collections", body, idempotency_key), Collection.from_json)

    def list_collections(self, *, dataset: str | None = None, standalone: bool = False,
                         page_size: int = 50) -> Iterator[Collection]:
        """C2: all the project's collections, those of `dataset`, or the standalone ones."""
        query: Query = []
        if dataset is not None:
            query.append(("dataset", dataset))
        if standalone:
            query.append(("standalone", "true"))
        return self.client._walk(f"{self._base}/collections", "collections", Collection.from_json, query, page_size)

    def get_collection(self, name: str) -> CollectionDetail:
        """C3: the collection with every member, with its `etag`."""
        response = self.client._get(self._collection(name))
        return _model(response, CollectionDetail.from_json, tagged=True)

    def update_collection(self, name: str, *, new_name: str | Unset = UNSET, dataset: str | None | Unset = UNSET,
                          etag: str | None = None) -> Collection:
        """C4: rename it, or move it into `dataset` (None: standalone)."""
        response = self.client._request("PATCH", self._collection(name), body=_given(name=new_name, dataset=dataset),
                                        if_match=_if_match(etag))
        return _model(response, Collection.from_json, tagged=True)

    def change_members(self, name: str, *, add: Sequence[str] = (), remove: Sequence[str] = (),
                       etag: str | None = None, idempotency_key: str | None = None) -> Collection:
        """C5: add and remove node IDs (at most 10,000 in all). The answer carries the new
        `etag` (not when it is a replay of an earlier answer: then None)."""
        body = {"add": _strings("add", add), "remove": _strings("remove", remove)}
        response = self.client._post(f"{self._collection(name)}/members", body, idempotency_key,
                                     if_match=_if_match(etag))
        return _model(response, Collection.from_json, tagged=True)

    def members(self, name: str, *, page_size: int = 1000) -> Iterator[str]:
        """M1: the collection's members in the order they were added, `page_size` (1-10,000)
        a request, by cursor."""
        return self.client._walk(f"{self._collection(name)}/members", "members", str, [], page_size,
                                 size_param="limit")

    def delete_collection(self, name: str, *, etag: str | None = None) -> None:
        """C6: to the trash, with its members."""
        self.client._request("DELETE", self._collection(name), if_match=_if_match(etag))

    # -- versions (V1-V4) ----------------------------------------------------------------------

    def create_version(self, dataset: str, *, note: str | None = None,
                       idempotency_key: str | None = None) -> Version:
        """V1: freeze the dataset as it is now; record `f"{dataset}@{version.number}"`."""
        response = self.client._post(f"{self._dataset(dataset)}/versions", _present(note=note), idempotency_key)
        return _model(response, Version.from_json)

    def list_versions(self, dataset: str, *, page_size: int = 50) -> Iterator[Version]:
        """V2: the dataset's versions, oldest first, by cursor."""
        return self.client._walk(f"{self._dataset(dataset)}/versions", "versions", Version.from_json, [], page_size)

    def get_version(self, dataset: str, number: int) -> VersionDetail:
        """V3: the dataset exactly as version `number` froze it."""
        response = self.client._get(f"{self._dataset(dataset)}/versions/{int(number)}")
        return _model(response, VersionDetail.from_json, tagged=True)

    def diff_versions(self, dataset: str, from_: int, to: int | Literal["current"] = "current") -> VersionDiff:
        """V4: what changed from version `from_` to version `to`, or to the dataset now."""
        target = "current" if to == "current" else str(int(to))
        response = self.client._get(f"{self._dataset(dataset)}/versions/{int(from_)}/diff/{target}")
        return _model(response, VersionDiff.from_json)

    # -- trash (T1-T4) -------------------------------------------------------------------------

    def trash(self, *, kind: Literal["dataset", "collection"] | None = None,
              page_size: int = 50) -> Iterator[TrashItem]:
        """T1: what was deleted in the project, most recently deleted first, by cursor."""
        query: Query = [] if kind is None else [("kind", kind)]
        return self.client._walk(f"{self._base}/trash", "items", TrashItem.from_json, query, page_size)

    def restore_dataset(self, id: str, *, name: str | None = None, idempotency_key: str | None = None) -> Dataset:
        """T2: a deleted dataset back, under its old name or `name`, with its versions."""
        response = self.client._post(f"{self._base}/trash/datasets/{_segment(id)}/restore", _present(name=name),
                                     idempotency_key)
        return _model(response, Dataset.from_json)

    def restore_collection(self, id: str, *, name: str | None = None,
                           idempotency_key: str | None = None) -> Collection:
        """T3: a deleted collection back, with its members, into its dataset if that is live."""
        response = self.client._post(f"{self._base}/trash/collections/{_segment(id)}/restore", _present(name=name),
                                     idempotency_key)
        return _model(response, Collection.from_json)

    def purge_dataset(self, id: str) -> None:
        """T4: a deleted dataset gone for good, with its versions."""
        self.client._request("DELETE", f"{self._base}/trash/datasets/{_segment(id)}")

    def purge_collection(self, id: str) -> None:
        """T4: a deleted collection gone for good, with its members."""
        self.client._request("DELETE", f"{self._base}/trash/collections/{_segment(id)}")

    # -- nodes (R1, R2) ------------------------------------------------------------------------

    def collections_holding(self, node_id: str) -> list[NodeCollection]:
        """R1: the live collections of the project that hold the node now, by creation."""
        response = self.client._get(f"{self._base}/nodes/{_segment(node_id)}/collections")
        return _model(response, lambda body: [NodeCollection.from_json(c) for c in body["collections"]])

    def lookup_nodes(self, node_ids: Sequence[str]) -> dict[str, list[NodeCollection]]:
        """R2: for each node ID (at most 10,000), the live collections that hold it now; every
        ID asked is a key, in the order asked. A read: sent without an Idempotency-Key and
        retried as a GET is."""
        response = self.client._post(f"{self._base}/nodes/lookup", {"nodeIds": _strings("node_ids", node_ids)}, None,
                                     read_only=True)
        return _model(response, lambda body: {node: [NodeCollection.from_json(c) for c in held]
                                              for node, held in body["results"].items()})

    # -- paths ---------------------------------------------------------------------------------

    def _dataset(self, name: str) -> str:
        return f"{self._base}/datasets/{_segment(name)}"

    def _collection(self, name: str) -> str:
        return f"{self._base}/collections/{_segment(name)}"
