"""Each endpoint's contract, written on its handler:

    @bp.post("")
    @operation("D1", "Create a dataset", dataset_schema, status=201, body=dataset_create_schema,
               errors={404: ..., 409: ...}, budget=3)
    def create_dataset(slug, project_slug): ...

`operation` only records what the endpoint is (its contract ID, what it reads and what it
answers) on the handler and returns the handler itself, so it costs nothing per request.
The OpenAPI document (service/openapi.py) is built from these records, found on the app's
view functions; the handler loads its body and query arguments with the very schema
instances named here."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Operation:
    id: str  # the contract's endpoint ID: N1, D3, ...
    summary: str
    response: object  # the success body: a marshmallow schema, a JSON Schema dict, or None
    status: int = 200
    body: object = None  # the schema the request body is loaded with
    query: object = None  # the schema the query arguments are loaded with
    errors: dict = field(default_factory=dict)  # the endpoint's own error statuses: {404: "..."}
    budget: int = 0  # the contract's ceiling of database roundtrips, on every response
    effective: int = 0  # the same, counting statements sent side by side once
    conditional: str = None  # "read": an ETag and If-None-Match; "write": If-Match (service/etags.py)


def operation(contract_id, summary, response=None, *, status=200, body=None, query=None, errors=None, budget,
              effective=None, conditional=None):
    def record(view):
        view.operation = Operation(contract_id, summary, response, status, body, query, dict(errors or {}), budget,
                                   budget if effective is None else effective, conditional)
        return view
    return record


def operation_of(view):
    """The Operation recorded on a view function, or None."""
    return getattr(view, "operation", None)
