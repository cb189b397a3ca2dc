"""The FastAPI application: ``/api/v1`` (cards, predictions, model health, freshness, system health, tokens,
audit) and the dashboard page at ``/``.

Every operation except ``GET /api/v1/system/health``, the OpenAPI document and the page needs a bearer token
(:mod:`jackpot_pipeline.api.access`): none or an invalid one is 401, a valid one without the right is 403, and
a card of another analyst is 404 like a card that does not exist. Errors are JSON ``{"error", "reason",
"request_id", "detail"}``; request bodies are limited in size.
"""


# No ``from __future__ import annotations``: FastAPI resolves the dependency aliases defined inside
# create_app from the live annotations.
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from jackpot_pipeline.api import schemas
from jackpot_pipeline.api.access import AccessStore, Principal, TokenError, parse_duration
from jackpot_pipeline.api.reads import CardRecord, WarehouseReads, jsonable
from jackpot_pipeline.jackpots.cards import CardError, parse_card
from jackpot_pipeline.settings import Settings

__all__ = ["API_PREFIX", "DEFAULT_MAX_BODY_BYTES", "ApiError", "create_app"]

API_PREFIX = "/api/v1"
DEFAULT_MAX_BODY_BYTES = 256 * 1024  # a 20-fixture card is ~5 KB
STATIC = Path(__file__).with_name("static")
log = logging.getLogger("jackpot_pipeline.api")

JackpotId = Annotated[str, PathParam(pattern=schemas.JACKPOT_ID_REGEX, description="the card's jackpot_id")]


class ApiError(Exception):
    def __init__(self, status: int, error: str, reason: str, detail: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.error, self.reason, self.detail, self.headers = status, error, reason, detail or [], headers


def _error_response(request: Request, status: int, error: str, reason: str, detail=None, headers=None) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "") or ""
    body = {"error": error, "reason": reason, "request_id": request_id, "detail": jsonable(detail or [])}
    return JSONResponse(body, status_code=status, headers=headers)


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, whether or not Content-Length announces them."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = False
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                too_big = False
        if too_big:
            return await self._refuse(send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            return await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            return await self._refuse(send)

    async def _refuse(self, send):
        body = json.dumps({"error": "body_too_large", "reason": f"request bodies are limited to {self.limit} bytes",
                           "request_id": "", "detail": []}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def _card_error_detail(error: CardError) -> list[dict[str, Any]]:
    loc: list[str | int] = ["body"]
    if error.fixture is not None:
        loc += ["fixtures", error.fixture - 1]
    if error.field is not None:
        loc += error.field.split(".")
    return [{"loc": loc, "msg": error.problem}]


def create_app(
    settings: Settings,
    *,
    access: AccessStore | None = None,
    instance_factory: Callable[[], Any] | None = None,
    launch: str = "auto",
    postgres=None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The app over ``settings``' data directory. ``instance_factory`` gives the Dagster instance (default
    ``DagsterInstance.get``); ``launch="never"`` leaves submitted cards to a daemon; ``postgres``: a
    :class:`~jackpot_pipeline.api.postgres_reads.PostgresReads` adds the ``/published`` reads."""
    from jackpot_pipeline.api.pipeline import PipelineLink

    if instance_factory is None:
        from dagster import DagsterInstance

        instance_factory = DagsterInstance.get
    access = access or AccessStore.under(settings.data_dir)
    reads = WarehouseReads(settings)
    link = PipelineLink(settings, instance_factory, launch=launch)

    app = FastAPI(
        title="jackpot_pipeline API",
        version="1",
        description="Jackpot cards in, sets A-G out; model health, data freshness and system health. Bearer tokens "
                    "(`jackpot-pipeline token issue`) with roles analyst, auditor, admin.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.access, app.state.reads, app.state.link, app.state.settings = access, reads, link, settings

    # -- errors ------------------------------------------------------------------------------------

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        request.state.request_id = uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError):
        return _error_response(request, error.status, error.error, error.reason, error.detail, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return _error_response(request, error.status_code, codes.get(error.status_code, "http_error"), str(error.detail),
                               headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError):
        detail = [{"loc": list(item.get("loc", ())), "msg": item.get("msg", "")} for item in error.errors()]
        reason = "; ".join(f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in detail) or "invalid request"
        return _error_response(request, 422, "invalid_request", reason, detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception):
        # Never expected; logged without the request's headers (they hold the token).
        log.error("unexpected error on %s %s: %s: %s", request.method, request.url.path, type(error).__name__, error)
        return _error_response(request, 500, "internal_error", f"unexpected {type(error).__name__}; see the server log")

    # -- who is calling ----------------------------------------------------------------------------

    bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer jpk_...` (jackpot-pipeline token issue)")

    def principal(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "unauthorized", "a bearer token is required", headers=challenge)
        found = access.authenticate(credentials.credentials)
        if found is None:
            raise ApiError(401, "unauthorized", "the token is invalid, expired or revoked", headers=challenge)
        return found

    def role_in(*roles: str, write: str | None = None):
        """A caller with one of ``roles``; a refused ``write`` (an audited action) is itself audited."""
        def check(request: Request, caller: Annotated[Principal, Depends(principal)]) -> Principal:
            if caller.role not in roles:
                if write is not None:
                    audit(request, caller, write, "", "forbidden", f"role {caller.role}")
                raise ApiError(403, "forbidden", f"role {caller.role} may not do this (needs {' or '.join(roles)})")
            return caller
        return check

    Caller = Annotated[Principal, Depends(principal)]
    Submitter = Annotated[Principal, Depends(role_in("analyst", "admin", write="card.submit"))]
    Auditor = Annotated[Principal, Depends(role_in("auditor", "admin"))]
    Admin = Annotated[Principal, Depends(role_in("admin"))]
    TokenIssuer = Annotated[Principal, Depends(role_in("admin", write="token.issue"))]
    TokenRevoker = Annotated[Principal, Depends(role_in("admin", write="token.revoke"))]

    def visible_card(caller: Principal, jackpot_id: str) -> CardRecord:
        record = reads.card(jackpot_id)
        if record is None or not caller.may_read(record.owner):
            # another analyst's card looks exactly like a missing one
            raise ApiError(404, "not_found", f"no jackpot {jackpot_id!r}")
        return record

    def status_of(record: CardRecord) -> str:
        if record.finalised:
            return "finalised"
        return "failed" if record.jackpot_id in link.failures else "pending"

    def links(jackpot_id: str) -> dict[str, str]:
        base = f"{API_PREFIX}/jackpots/{jackpot_id}"
        return {"self": base, "predictions": f"{base}/predictions", "tickets": f"{base}/tickets", "trace": f"{base}/trace",
                "export_csv": f"{base}/export.csv"}

    def summary(record: CardRecord) -> dict[str, Any]:
        stored, card = record.stored or {}, record.card
        return jsonable({
            "jackpot_id": record.jackpot_id,
            "name": stored.get("name", card.name if card else None),
            "operator": stored.get("operator", card.operator if card else None),
            "owner": record.owner,
            "status": status_of(record),
            "n_fixtures": stored.get("n_fixtures", card.n_fixtures if card else None),
            "card_sha256": stored.get("card_sha256", card.sha256 if card else None),
            "finalised_at": stored.get("finalised_at"),
            "run_id": stored.get("run_id"),
            "model_versions": stored.get("model_versions"),
            "calibration_versions": stored.get("calibration_versions"),
            "error": link.failures.get(record.jackpot_id) if not record.finalised else None,
            "links": links(record.jackpot_id),
        })

    def audit(request: Request, caller: Principal, action: str, target: str, outcome: str, detail: str = "") -> None:
        access.audit(request_id=request.state.request_id, subject=caller.subject, role=caller.role, action=action,
                     target=target, outcome=outcome, detail=detail)

    api = APIRouter(prefix=API_PREFIX)
    errors = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody}, 404: {"model": schemas.ErrorBody}}

    # -- cards -------------------------------------------------------------------------------------

    @api.post(
        "/jackpots", status_code=202, response_model=schemas.SubmissionReceipt, tags=["jackpots"],
        summary="Submit a jackpot card (JSON card format) to be predicted by the pipeline",
        responses={**errors, 200: {"model": schemas.SubmissionReceipt, "description": "the same card was submitted before"},
                   409: {"model": schemas.ErrorBody}, 413: {"model": schemas.ErrorBody},
                   422: {"model": schemas.ErrorBody}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": schemas.CARD_SCHEMA}}}},
    )
    async def submit_card(request: Request, caller: Submitter):
        body = await request.body()
        try:
            card = parse_card(body, "request body", card_format="json")
        except CardError as error:
            audit(request, caller, "card.submit", "", "invalid", error.problem[:200])
            raise ApiError(422, "invalid_card", str(error), _card_error_detail(error)) from None
        if caller.role == "analyst" and card.owner not in (None, caller.subject):
            audit(request, caller, "card.submit", card.jackpot_id, "invalid", "owner is another subject")
            raise ApiError(422, "invalid_card", f"request body, field 'owner': an analyst submits cards as themself "
                           f"({caller.subject!r}), not as {card.owner!r}",
                           [{"loc": ["body", "owner"], "msg": "an analyst submits cards as themself"}])
        owner = card.owner or caller.subject
        document = json.loads(body.decode("utf-8-sig"))
        document["jackpot_id"] = card.jackpot_id
        document["owner"] = owner
        content = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()
        stored = parse_card(content, reads.card_path(card.jackpot_id))
        outcome, record = _store_card(stored, content)
        if outcome == "conflict":
            audit(request, caller, "card.submit", card.jackpot_id, "conflict")
            raise ApiError(409, "conflict", f"jackpot {card.jackpot_id!r} exists with other content; finalised cards "
                           "are immutable: submit the new card under a new jackpot_id")
        finalised = record is not None and record.finalised
        by = "done" if finalised else link.request_predictions(card.jackpot_id)
        audit(request, caller, "card.submit", card.jackpot_id, "accepted" if outcome == "created" else "unchanged",
              f"predictions: {by}")
        poll = f"{API_PREFIX}/jackpots/{card.jackpot_id}"
        receipt = {"jackpot_id": card.jackpot_id, "status": "finalised" if finalised else "pending", "owner": owner,
                   "card_sha256": stored.sha256, "poll": poll, "predictions": f"{poll}/predictions", "prediction_by": by}
        return JSONResponse(receipt, status_code=202 if outcome == "created" else 200, headers={"Location": poll})

    def _store_card(card, content: bytes) -> tuple[str, CardRecord | None]:
        """Write the card where the pipeline reads cards, unless its id exists: ``created``, ``same`` or
        ``conflict``. The file is linked into place, so two concurrent submissions cannot both create it."""
        existing = reads.card(card.jackpot_id)
        if existing is not None:
            same = (existing.stored or {}).get("card_sha256", existing.card.sha256 if existing.card else None) == card.sha256
            return ("same" if same else "conflict"), existing
        folder = settings.jackpots_dir
        folder.mkdir(parents=True, exist_ok=True)
        target = reads.card_path(card.jackpot_id)
        temporary = folder / f".{card.jackpot_id}.{uuid.uuid4().hex}.tmp"
        temporary.write_bytes(content)
        try:
            os.link(temporary, target)
        except FileExistsError:
            return ("same" if target.read_bytes() == content else "conflict"), reads.card(card.jackpot_id)
        finally:
            temporary.unlink(missing_ok=True)
        return "created", None

    @api.get("/jackpots", response_model=schemas.JackpotList, tags=["jackpots"], responses=errors,
             summary="The cards the caller may read (an analyst: their own)")
    def list_cards(caller: Caller):
        return {"jackpots": [summary(r) for r in reads.cards() if caller.may_read(r.owner)]}

    @api.get("/jackpots/{jackpot_id}", response_model=schemas.JackpotSummary, tags=["jackpots"], responses=errors,
             summary="A card's status (pending, finalised, failed) and versions")
    def get_card(jackpot_id: JackpotId, caller: Caller):
        return summary(visible_card(caller, jackpot_id))

    def finalised_export(caller: Principal, jackpot_id: str) -> tuple[CardRecord, dict[str, Any]]:
        record = visible_card(caller, jackpot_id)
        export = reads.export(jackpot_id) if record.finalised else None
        if export is None:
            raise ApiError(409, "not_ready", f"jackpot {jackpot_id!r} is {status_of(record)}: its predictions are not "
                           f"written yet; poll {API_PREFIX}/jackpots/{jackpot_id}")
        return record, export

    not_ready = {**errors, 409: {"model": schemas.ErrorBody, "description": "not finalised yet"}}

    @api.get("/jackpots/{jackpot_id}/predictions", response_model=schemas.JackpotPredictions, tags=["jackpots"],
             responses=not_ready, summary="Sets A-G per fixture, with flags, model and calibration versions, explanation")
    def card_predictions(jackpot_id: JackpotId, caller: Caller):
        record, export = finalised_export(caller, jackpot_id)
        return {"jackpot_id": jackpot_id, "owner": record.owner, "n_fixtures": len(export["fixtures"]),
                "fixtures": export["fixtures"]}

    @api.get("/jackpots/{jackpot_id}/tickets", response_model=schemas.JackpotTickets, tags=["jackpots"],
             responses=not_ready, summary="The exact ticket analysis per set")
    def card_tickets(jackpot_id: JackpotId, caller: Caller):
        record, export = finalised_export(caller, jackpot_id)
        return {"jackpot_id": jackpot_id, "owner": record.owner, "tickets": export["tickets"]}

    @api.get("/jackpots/{jackpot_id}/trace", tags=["jackpots"], responses=not_ready,
             summary="Lineage of the card's predictions down to the raw CSV bytes (jackpot-pipeline trace --json)")
    def card_trace(jackpot_id: JackpotId, caller: Caller):
        from jackpot_pipeline.defs.jackpots.trace import TraceError

        record = visible_card(caller, jackpot_id)
        if not record.finalised:
            raise ApiError(409, "not_ready", f"jackpot {jackpot_id!r} is {status_of(record)}: nothing to trace yet")
        try:
            return JSONResponse(jsonable(link.trace(jackpot_id)))
        except TraceError as error:
            raise ApiError(409, "not_ready", str(error)) from None

    @api.get("/jackpots/{jackpot_id}/export.csv", tags=["jackpots"], response_class=FileResponse,
             responses={**not_ready, 200: {"content": {"text/csv": {}}}},
             summary="The CSV export: one row per fixture and set")
    def card_export_csv(jackpot_id: JackpotId, caller: Caller):
        record = visible_card(caller, jackpot_id)
        path = reads.export_csv(jackpot_id) if record.finalised else None
        if path is None:
            raise ApiError(409, "not_ready", f"jackpot {jackpot_id!r} is {status_of(record)}: no export yet")
        return FileResponse(path, media_type="text/csv", filename=f"{jackpot_id}.csv")

    # -- shared tables -----------------------------------------------------------------------------

    @api.get("/predictions", response_model=schemas.Page, tags=["predictions"], responses=errors,
             summary="Match predictions of the warehouse (every set), filtered and paged")
    def match_predictions(
        caller: Caller,
        league: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{1,4}$")] = None,
        season: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
        team: Annotated[str | None, Query(min_length=2, max_length=100)] = None,
        date_from: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] = None,
        date_to: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] = None,
        set_id: Annotated[str | None, Query(pattern=r"^([A-G]|market_pre|market_close)$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ):
        import datetime as dt

        for name, value in (("date_from", date_from), ("date_to", date_to)):
            if value is not None:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ApiError(422, "invalid_request", f"{name} {value!r} is not a real date",
                                   [{"loc": ["query", name], "msg": "not a real date"}]) from None
        total, items = reads.match_predictions(league=league, season=season, team=team, date_from=date_from,
                                               date_to=date_to, set_id=set_id, limit=limit, offset=offset)
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    @api.get("/models/health", response_model=schemas.ModelsHealth, tags=["health"], responses=errors,
             summary="Per league: status, RPS against the pre-closing market with its paired SE, drift, reliability")
    def models_health(caller: Caller):
        return {"leagues": reads.models_health()}

    @api.get("/data/freshness", response_model=schemas.Freshness, tags=["health"], responses=errors,
             summary="Last played match per league and whether it is stale")
    def data_freshness(caller: Caller):
        return {"leagues": reads.freshness()}

    @api.get("/system/health", response_model=schemas.SystemHealth, tags=["health"],
             summary="Warehouse, Dagster instance, last runs, sensor states (no token needed)")
    def system_health():
        try:
            warehouse = reads.warehouse_health()
        except Exception as error:  # health must answer whatever is broken
            warehouse = {"reachable": False, "error": f"{type(error).__name__}: {error}"}
        try:
            dagster = link.health()
        except Exception as error:
            dagster = {"reachable": False, "error": f"{type(error).__name__}: {error}"}
        ok = warehouse.get("reachable") and dagster.get("reachable")
        return {"status": "ok" if ok else "degraded", "warehouse": warehouse, "dagster": dagster}

    # -- tokens and audit --------------------------------------------------------------------------

    @api.get("/audit", response_model=schemas.AuditPage, tags=["access"], responses=errors,
             summary="The audit table of writes (auditor, admin)")
    def audit_log(caller: Auditor, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
        total, entries = access.audit_entries(limit=limit, offset=offset)
        return {"total": total, "limit": limit, "offset": offset, "entries": [e.to_dict() for e in entries]}

    @api.get("/tokens", response_model=schemas.TokenList, tags=["access"], responses=errors,
             summary="Every token (never its secret; admin)")
    def list_tokens(caller: Admin):
        return {"tokens": [t.to_dict() for t in access.tokens()]}

    @api.post("/tokens", status_code=201, response_model=schemas.IssuedTokenView, tags=["access"],
              responses={**errors, 422: {"model": schemas.ErrorBody}}, summary="Issue a token (admin)")
    def issue_token(request: Request, body: schemas.TokenRequest, caller: TokenIssuer):
        try:
            issued = access.issue(body.subject, body.role, lifetime=parse_duration(body.expires_in),
                                  created_by=caller.subject)
        except TokenError as error:
            audit(request, caller, "token.issue", body.subject, "invalid", str(error)[:200])
            raise ApiError(422, "invalid_request", str(error)) from None
        audit(request, caller, "token.issue", issued.info.token_id, "issued", f"{body.subject} as {body.role}")
        return {"token": issued.token, "info": issued.info.to_dict()}

    @api.delete("/tokens/{token_id}", response_model=schemas.TokenView, tags=["access"], responses=errors,
                summary="Revoke a token at once (admin)")
    def revoke_token(request: Request, token_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")], caller: TokenRevoker):
        try:
            info = access.revoke(token_id)
        except TokenError:
            audit(request, caller, "token.revoke", token_id, "not_found")
            raise ApiError(404, "not_found", f"no token {token_id!r}") from None
        audit(request, caller, "token.revoke", token_id, "revoked")
        return info.to_dict()

    if postgres is not None:
        @api.get("/published/jackpots", response_model=schemas.PublishedJackpots, tags=["published"], responses=errors,
                 summary="Jackpots published to PostgreSQL, read under the caller's database role")
        def published_jackpots(caller: Caller):
            return {"jackpots": postgres.jackpots(caller)}

        @api.get("/published/jackpots/{jackpot_id}/predictions", response_model=schemas.PublishedPredictions,
                 tags=["published"], responses=errors,
                 summary="A published jackpot's predictions, read under the caller's database role")
        def published_predictions(jackpot_id: JackpotId, caller: Caller):
            rows = postgres.jackpot_predictions(caller, jackpot_id)
            if not rows:
                raise ApiError(404, "not_found", f"no published jackpot {jackpot_id!r}")
            return {"jackpot_id": jackpot_id, "predictions": rows}

    app.include_router(api)

    # -- the page ----------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app
