"""What the registry answers, as plain dataclasses with snake_case attributes.

Each class reads the service's JSON with `from_json`, which takes the fields it knows and
ignores any other (a newer service may add fields). Timestamps become timezone-aware
`datetime`s in UTC. The resources that a conditional request can name carry the `etag` of
the representation they were read from (None when the answer had none), to be given back as
`etag=` to an edit (read-modify-write)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

JSON = dict[str, Any]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(slots=True, kw_only=True)
class Namespace:
    id: str
    slug: str
    name: str
    created_at: datetime
    updated_at: datetime
    etag: str | None = None

    @classmethod
    def from_json(cls, data: JSON, etag: str | None = None) -> Namespace:
        return cls(id=data["id"], slug=data["slug"], name=data["name"], created_at=_time(data["createdAt"]),
                   updated_at=_time(data["updatedAt"]), etag=etag)


@dataclass(slots=True, kw_only=True)
class Project:
    id: str
    namespace_id: str
    slug: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    etag: str | None = None

    @classmethod
    def from_json(cls, data: JSON, etag: str | None = None) -> Project:
        return cls(id=data["id"], namespace_id=data["namespaceId"], slug=data["slug"], name=data["name"],
                   description=data["description"], created_at=_time(data["createdAt"]),
                   updated_at=_time(data["updatedAt"]), etag=etag)


@dataclass(slots=True, kw_only=True)
class DatasetSummary:
    """A dataset as a list shows it (D2)."""
    id: str
    name: str
    description: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None

    @staticmethod
    def _fields(data: JSON) -> JSON:
        return {"id": data["id"], "name": data["name"], "description": data["description"],
                "tags": list(data["tags"]), "created_at": _time(data["createdAt"]),
                "updated_at": _time(data["updatedAt"]), "created_by": data.get("createdBy"),
                "updated_by": data.get("updatedBy")}

    @classmethod
    def from_json(cls, data: JSON) -> DatasetSummary:
        return cls(**cls._fields(data))


@dataclass(slots=True, kw_only=True)
class Dataset(DatasetSummary):
    """A dataset as a create, an update or a restore answers it (D1, D4, T2). `etag` is that
    of its full representation (D3) after an update, None otherwise."""
    project_id: str
    metadata: dict[str, Any] | None
    etag: str | None = None

    @staticmethod
    def _fields(data: JSON) -> JSON:
        return {**DatasetSummary._fields(data), "project_id": data["projectId"], "metadata": data["metadata"]}

    @classmethod
    def from_json(cls, data: JSON, etag: str | None = None) -> Dataset:
        return cls(**cls._fields(data), etag=etag)


@dataclass(slots=True, kw_only=True)
class DatasetCollection:
    """A collection inside a dataset's detail: its members in the order they were added."""
    id: str
    name: str
    members: list[str]

    @classmethod
    def from_json(cls, data: JSON) -> DatasetCollection:
        return cls(id=data["id"], name=data["name"], members=list(data["members"]))


@dataclass(slots=True, kw_only=True)
class DatasetDetail(Dataset):
    """A dataset with its collections and their members (D3; a version's `dataset`)."""
    collections: list[DatasetCollection]

    @classmethod
    def from_json(cls, data: JSON, etag: str | None = None) -> DatasetDetail:
        return cls(**Dataset._fields(data), etag=etag,
                   collections=[DatasetCollection.from_json(c) for c in data["collections"]])


@dataclass(slots=True, kw_only=True)
class Collection:
    """A collection (C1, C2, C4, C5, T3); `dataset` is its dataset's name, None: standalone.
    `etag` is that of its full representation (C3) after an update or a member change."""
    id: str
    name: str
    project_id: str
    dataset: str | None
    member_count: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    etag: str | None = None

    @staticmethod
    def _fields(data: JSON) -> JSON:
        return {"id": data["id"], "name": data["name"], "project_id": data["projectId"], "dataset": data["dataset"],
                "member_count": data["memberCount"], "created_at": _time(data["createdAt"]),
                "updated_at": _time(data["updatedAt"]), "created_by": data.get("createdBy"),
                "updated_by": data.get("updatedBy")}

    @classmethod
    def from_json(cls, data: JSON, etag: str | None = None) -> Collection:
        return cls(**cls._fields(data), etag=etag)


@dataclass(slots=True, kw_only=True)
class CollectionDetail(Collection):
    """A collection with every member, in the order they were added (C3)."""
    members: list[str]

    @classmethod
    def from_json(cls, data: JSON, etag: str | None = None) -> CollectionDetail:
        return cls(**Collection._fields(data), etag=etag, members=list(data["members"]))


@dataclass(slots=True, kw_only=True)
class Version:
    """A version's summary (V1, V2): `number` is what a run records, as `training-v2@3`."""
    number: int
    dataset_id: str
    note: str | None
    created_at: datetime
    created_by: str | None
    collection_count: int
    member_count: int

    @staticmethod
    def _fields(data: JSON) -> JSON:
        return {"number": data["number"], "dataset_id": data["datasetId"], "note": data["note"],
                "created_at": _time(data["createdAt"]), "created_by": data.get("createdBy"),
                "collection_count": data["collectionCount"], "member_count": data["memberCount"]}

    @classmethod
    def from_json(cls, data: JSON) -> Version:
        return cls(**cls._fields(data))


@dataclass(slots=True, kw_only=True)
class VersionDetail(Version):
    """A version with the dataset exactly as it was frozen (V3)."""
    dataset: DatasetDetail
    etag: str | None = None

    @classmethod
    def from_json(cls, data: JSON, etag: str | None = None) -> VersionDetail:
        return cls(**Version._fields(data), dataset=DatasetDetail.from_json(data["dataset"]), etag=etag)


@dataclass(slots=True, kw_only=True)
class FieldChange:
    """A dataset field's value on each side of a diff (`from_` is the wire's `from`)."""
    from_: Any
    to: Any


@dataclass(slots=True, kw_only=True)
class CollectionRef:
    id: str
    name: str


@dataclass(slots=True, kw_only=True)
class CollectionRename:
    id: str
    from_: str
    to: str


@dataclass(slots=True, kw_only=True)
class MemberChanges:
    """The node IDs added to and removed from one collection between two sides of a diff."""
    id: str
    name: str
    added: list[str]
    removed: list[str]


@dataclass(slots=True, kw_only=True)
class CollectionChanges:
    added: list[CollectionRef]
    removed: list[CollectionRef]
    renamed: list[CollectionRename]
    members: list[MemberChanges]


@dataclass(slots=True, kw_only=True)
class VersionDiff:
    """What changed between version `from_` and version `to`, or the dataset now (`"current"`)."""
    from_: int
    to: int | Literal["current"]
    dataset: dict[str, FieldChange]
    collections: CollectionChanges

    @classmethod
    def from_json(cls, data: JSON) -> VersionDiff:
        c = data["collections"]
        return cls(
            from_=data["from"], to=data["to"],
            dataset={k: FieldChange(from_=v["from"], to=v["to"]) for k, v in data["dataset"].items()},
            collections=CollectionChanges(
                added=[CollectionRef(id=x["id"], name=x["name"]) for x in c["added"]],
                removed=[CollectionRef(id=x["id"], name=x["name"]) for x in c["removed"]],
                renamed=[CollectionRename(id=x["id"], from_=x["from"], to=x["to"]) for x in c["renamed"]],
                members=[MemberChanges(id=x["id"], name=x["name"], added=list(x["added"]),
                                       removed=list(x["removed"])) for x in c["members"]]))


@dataclass(slots=True, kw_only=True)
class TrashItem:
    """A deleted dataset or collection (T1), named by `id` for a restore or a purge. For a
    collection, `dataset` is the name its dataset had when it was deleted (None: standalone);
    for a dataset it is always None."""
    kind: Literal["dataset", "collection"]
    id: str
    name: str
    deleted_at: datetime
    deleted_by: str | None
    dataset: str | None = None

    @classmethod
    def from_json(cls, data: JSON) -> TrashItem:
        return cls(kind=data["kind"], id=data["id"], name=data["name"], deleted_at=_time(data["deletedAt"]),
                   deleted_by=data.get("deletedBy"), dataset=data.get("dataset"))


@dataclass(slots=True, kw_only=True)
class NodeCollection:
    """A live collection that holds a node (R1, R2); `dataset` is its dataset's name, or None."""
    id: str
    name: str
    dataset: str | None

    @classmethod
    def from_json(cls, data: JSON) -> NodeCollection:
        return cls(id=data["id"], name=data["name"], dataset=data["dataset"])
