"""The FastAPI application: the Searcher's verbs over HTTP, one schema with the CLI.

Every endpoint takes the Searcher once (`SearcherHolder.get`) and passes the caller's role,
which comes only from the API key (`Authorization: Bearer ks_...`; none = public). Bad
input is a 4xx with `{"error": {"field", "message"}}` (the library's own validation,
`InvalidQuery`, named by the API's parameter); a 5xx means a server fault, never input.
"""

from __future__ import annotations

import logging
import math
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kommunesoeg.api import models
from kommunesoeg.api.holder import SearcherHolder
from kommunesoeg.api.keys import ApiKeys
from kommunesoeg.api.metrics import Metrics
from kommunesoeg.api.pages import PageError, PageRenderer
from kommunesoeg.core.errors import (
    AuditLogError,
    IndexDamaged,
    IndexNotFound,
    InvalidQuery,
    KommunesoegError,
)
from kommunesoeg.core.results import Filters
from retriever.cli import STATS_KEYS

log = logging.getLogger("kommunesoeg.api")
UNLIMITED = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect")


@dataclass
class Settings:
    index_dir: Path
    corpus_dir: Path | None = None
    keys_file: Path | None = None
    cors_origins: list[str] = field(default_factory=list)
    rate_limit: str | None = "300/minute"  # per key, or per client address without one
    max_body_bytes: int = 4 * 1024 * 1024
    config: Any = None
    embedder: Any = None
    audit_log: Path | None = None
    check_seconds: float = 1.0


# --------------------------------------------------------------------------- errors
def _error(status: int, field: str | None, message: str, headers: dict | None = None):
    # a message may echo the caller's input: never let a lone surrogate break the response
    message = message.encode("utf-8", "replace").decode("utf-8")
    field = field.encode("utf-8", "replace").decode("utf-8") if field else field
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status,
                        headers=headers)


class ApiError(Exception):
    def __init__(self, status: int, field: str | None, message: str,
                 headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.field, self.message, self.headers = status, field, message, headers


_FIELD = re.compile(r"^([a-z_]+)(?: [^:]*)?: (.*)$", re.DOTALL)
# the library's field names -> this API's parameter names, per endpoint
_RENAMES = {
    "query": {"/search": "q", "/ask": "question", "/timeline": "topic", "/precedents": "text"},
    "case": {"/precedents": "text"},
    "file": {"/precedents": "text"},
    "date": {"*": "from"},
}


def _invalid_query(exc: InvalidQuery, path: str) -> JSONResponse:
    text = str(exc)
    match = _FIELD.match(text)
    name, message = (match.group(1), text) if match else (None, text)
    if name in _RENAMES:
        name = _RENAMES[name].get(path, _RENAMES[name].get("*", name))
    return _error(422, name, message)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.field, exc.message, exc.headers)

    @app.exception_handler(InvalidQuery)
    async def invalid_query(request: Request, exc: InvalidQuery):
        return _invalid_query(exc, request.url.path)

    @app.exception_handler(KommunesoegError)
    async def domain_error(request: Request, exc: KommunesoegError):
        if isinstance(exc, (IndexNotFound, IndexDamaged, AuditLogError)):
            log.error("index unavailable: %s", exc)
            return _error(503, None, "Indekset er ikke tilgængeligt lige nu; prøv igen senere.")
        return _error(400, None, str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        name = loc[0] if loc else "body"
        return _error(422, name, f"{name}: {first.get('msg', 'ugyldig værdi')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, None, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        log.exception("uventet fejl", extra={"path": request.url.path})
        return _error(500, None, "Uventet fejl i serveren; den er skrevet i serverens log.")


# --------------------------------------------------------------------------- parameters
def _date(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, name, f"'{value}' er ikke en dato på formen ÅÅÅÅ-MM-DD") from None


def _text(value: str, name: str) -> str:
    """Text the library can take: UTF-8 encodable (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, name, f"{name}: teksten indeholder ugyldige tegn") from None
    return value


def _filters(date_from, date_to, committee, document, section, decisions_only) -> Filters:
    for name, values in (("committee", committee), ("document", document),
                         ("section", section)):
        for v in values or []:
            _text(v, name)
    return Filters(
        date_from=_date(date_from, "from"), date_to=_date(date_to, "to"),
        committees=list(committee) or None, documents=list(document) or None,
        sections=list(section) or None, decisions_only=bool(decisions_only),
    )


DATE = r"^\d{4}-\d{2}-\d{2}$"


def query_filters(
    date_from: Annotated[str | None, Query(alias="from", description="ÅÅÅÅ-MM-DD",
                                           pattern=DATE)] = None,
    date_to: Annotated[str | None, Query(alias="to", description="ÅÅÅÅ-MM-DD",
                                         pattern=DATE)] = None,
    committee: Annotated[list[str], Query(description="udvalg, fx MSB (kan gentages)")] = [],  # noqa: B006
    document: Annotated[list[str], Query(description="filnavn (kan gentages)")] = [],  # noqa: B006
    section: Annotated[list[str], Query(description="afsnitstype (kan gentages)")] = [],  # noqa: B006
    decisions_only: bool = False,
) -> Filters:
    return _filters(date_from, date_to, committee, document, section, decisions_only)


def body_filters(body: models._Filters) -> Filters:
    return _filters(body.date_from, body.date_to, body.committee, body.document, body.section,
                    body.decisions_only)


bearer = HTTPBearer(auto_error=False, description="API-nøgle fra `kommunesoeg create-api-key`")


@dataclass(frozen=True)
class Caller:
    role: str
    user: str | None
    state: Any = None  # the request's state (the generation that answered is noted there)


def caller(request: Request,
           _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Caller:
    """The role and user the middleware derived from the API key (documents the scheme)."""
    return Caller(request.state.role, request.state.user, request.state)


def _searcher(holder: SearcherHolder, who: Caller):
    """The Searcher this request uses to the end (its generation goes in a response header)."""
    searcher = holder.get()
    who.state.generation = Path(str(searcher.generation)).name
    return searcher


Who = Annotated[Caller, Depends(caller)]
QFilters = Annotated[Filters, Depends(query_filters)]


# --------------------------------------------------------------------------- the app
ERRORS = {
    400: {"model": models.Error, "description": "Ugyldig forespørgsel"},
    401: {"model": models.Error, "description": "Ugyldig eller tilbagekaldt API-nøgle"},
    413: {"model": models.Error, "description": "Forespørgslen er for stor"},
    422: {"model": models.Error, "description": "Ugyldig parameter (feltet nævnes)"},
    429: {"model": models.Error, "description": "For mange forespørgsler (se Retry-After)"},
    503: {"model": models.Error, "description": "Indekset er ikke tilgængeligt"},
}


def create_app(settings: Settings) -> FastAPI:
    from kommunesoeg.api.keys import default_keys_path

    holder = SearcherHolder(settings.index_dir, config=settings.config,
                            embedder=settings.embedder, audit_log=settings.audit_log,
                            check_seconds=settings.check_seconds)
    keys = ApiKeys(settings.keys_file or default_keys_path(settings.index_dir))
    pages = PageRenderer(settings.corpus_dir)
    metrics = Metrics(holder)
    limiter = _Limiter(settings.rate_limit)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            await run_in_threadpool(holder.reload)
        except KommunesoegError as exc:  # /readyz says 503 until an index exists
            log.error("indekset kunne ikke indlæses: %s", exc)
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Kommunesøg API",
        version="1.0",
        description="Søgning og svar med kildehenvisninger i kommunale dagsordener og "
                    "referater. Uden API-nøgle: offentlig rolle (ingen lukkede punkter). "
                    "Svarformat: docs/json-schema.md.",
        responses=ERRORS,
    )
    app.state.holder, app.state.keys, app.state.metrics = holder, keys, metrics
    _install_errors(app)

    @app.middleware("http")
    async def gate(request: Request, call_next):
        t = time.perf_counter()
        request.state.role, request.state.user = "public", None
        client = request.client.host if request.client else "?"
        response = None
        try:
            header = request.headers.get("authorization")
            budget = f"client:{client}"  # without a (valid) key: the client address
            if header is not None:
                scheme, _, token = header.partition(" ")
                token = token.strip()
                user = (await run_in_threadpool(keys.user_for, token)
                        if scheme.lower() == "bearer" else None)
                if user is None:
                    response = _error(401, "Authorization",
                                      "Ugyldig eller tilbagekaldt API-nøgle",
                                      {"WWW-Authenticate": "Bearer"})
                else:
                    request.state.role, request.state.user = "internal", user
                    budget = f"key:{token[:11]}"  # ks_ + the key's public id
            if request.url.path not in UNLIMITED:
                wait = limiter.hit(budget)  # failed keys count against the client too
                if wait:
                    metrics.limited.inc()
                    response = _error(429, None, f"For mange forespørgsler; prøv igen om "
                                      f"{wait} sekunder.", {"Retry-After": str(wait)})
            if response is None:
                response = await call_next(request)
                generation = getattr(request.state, "generation", None)
                if generation:
                    response.headers["X-Index-Generation"] = generation
            return response
        finally:
            seconds = time.perf_counter() - t
            route = request.scope.get("route")
            path = getattr(route, "path", "(ukendt)")
            status = response.status_code if response is not None else 500
            metrics.observe(request.method, path, status, seconds)
            log.info("request", extra={
                "method": request.method, "route": path, "status": status,
                "ms": round(seconds * 1000, 1), "role": request.state.role,
                "user": request.state.user, "client": client,
                "generation": holder.generation})

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.get("/search", response_model=list[models.Hit], tags=["søg"])
    def search(q: Annotated[str, Query(description="søgetekst")], who: Who, filters: QFilters,
               k: Annotated[int, Query(ge=1, le=1000)] = 10):
        """Søg i dagsordener og referater (semantisk + ordsøgning); som `kommunesoeg search`."""
        searcher = _searcher(holder, who)
        hits = searcher.search(_text(q, "q"), k=k, filters=filters, role=who.role,
                               user=who.user)
        return [h.to_json() for h in hits]

    @app.post("/ask", response_model=models.Answer, tags=["søg"])
    def ask(body: models.AskRequest, who: Who):
        """Et svar med kildehenvisninger [n]; som `kommunesoeg ask`."""
        filters = body_filters(body)
        searcher = _searcher(holder, who)
        answer = searcher.ask(_text(body.question, "question"), k=body.k, filters=filters,
                              role=who.role, user=who.user, mode=body.mode)
        return answer.to_json()

    @app.post("/precedents", response_model=list[models.Precedent], tags=["søg"])
    def precedents(body: models.PrecedentsRequest, who: Who):
        """Tidligere dagsordenspunkter, der ligner en ny sag; som `kommunesoeg precedents`."""
        filters = body_filters(body)
        searcher = _searcher(holder, who)
        rows = searcher.precedents(_text(body.text, "text"), k=body.k, filters=filters,
                                   role=who.role, user=who.user)
        return [r.to_json() for r in rows]

    @app.get("/timeline", response_model=list[models.TimelineEntry], tags=["søg"])
    def timeline(topic: Annotated[str, Query(description="emne")], who: Who,
                 filters: QFilters, k: Annotated[int, Query(ge=1, le=1000)] = 50):
        """Beslutninger om et emne over tid, ældste først; som `kommunesoeg timeline`."""
        searcher = _searcher(holder, who)
        entries = searcher.timeline(_text(topic, "topic"), filters=filters, role=who.role,
                                    user=who.user)[:k]
        return [e.to_json() for e in entries]

    @app.get("/documents", response_model=list[models.Document], tags=["indeks"],
             response_model_exclude_unset=True)
    def documents(who: Who):
        """De indekserede filer (interne brugere ser også fejlede filer og SHA-256)."""
        internal = who.role == "internal"
        rows = []
        for row in sorted(_searcher(holder, who).document_rows(), key=lambda d: (d.date or "", d.file)):
            if row.error and not internal:
                continue  # like `stats`: failures are for internal users
            rows.append({
                "file": row.file, "meeting": row.meeting, "committee": row.committee,
                "date": row.date, "pages": row.pages or 0, "ocr_pages": row.ocr_pages or 0,
                **({"sha256": row.sha256, "error": row.error} if internal else {}),
            })
        return rows

    @app.get("/documents/{file}/pages/{n}", tags=["indeks"],
             response_class=Response,
             responses={200: {"content": {"image/png": {}}, "description": "siden som PNG"},
                        403: {"model": models.Error, "description": "lukket side"},
                        404: {"model": models.Error, "description": "ukendt fil eller side"}})
    def page(file: str, n: int, who: Who):
        """Én side som PNG; den offentlige rolle får aldrig en side med lukket tekst."""
        try:
            image = pages.png(_searcher(holder, who), _text(file, "file"), n, who.role)
        except PageError as exc:
            raise ApiError(exc.status, exc.field, exc.message) from None
        return Response(image, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=300"})

    @app.get("/stats", response_model=models.Stats, response_model_exclude_none=True,
             tags=["indeks"])
    def stats(who: Who):
        """Hvad indekset indeholder; som `kommunesoeg stats --json` (rollens tal)."""
        counts = _searcher(holder, who).stats(who.role)
        return {key: counts[key] for key in STATS_KEYS if key in counts}

    @app.get("/healthz", response_model=models.Health, tags=["drift"])
    def healthz():
        """Processen kører."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=models.Health, tags=["drift"])
    def readyz():
        """Et indeks er indlæst og kan besvare forespørgsler (ellers 503)."""
        if not holder.ready():
            try:
                holder.reload()
            except KommunesoegError:
                raise ApiError(503, None, "Intet indeks er indlæst endnu") from None
        holder.get()
        return {"status": "ready", "generation": holder.generation}

    @app.get("/metrics", response_class=Response, tags=["drift"],
             responses={200: {"content": {"text/plain": {}}}})
    def prometheus():
        """Målinger i Prometheus-format."""
        return Response(metrics.render(), media_type=metrics.content_type)

    def openapi() -> dict:
        """The generated schema, with the key marked optional: no key means the public role."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if operation.get("security"):
                        operation["security"] = [{}, *operation["security"]]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app


# --------------------------------------------------------------------------- limits
class _Limiter:
    """Moving-window rate limit (`limits`), e.g. "300/minute"; None or "0" switches it off."""

    def __init__(self, spec: str | None) -> None:
        self.item = None
        if spec and spec.strip() not in ("0", "off", "none"):
            from limits import parse
            from limits.storage import MemoryStorage
            from limits.strategies import MovingWindowRateLimiter

            self.item = parse(spec)
            self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str) -> int:
        """0 when allowed, else the seconds to wait (Retry-After)."""
        if self.item is None or self.limiter.hit(self.item, key):
            return 0
        reset = self.limiter.get_window_stats(self.item, key).reset_time
        return max(1, math.ceil(reset - time.time()))


class BodyLimit:
    """Refuses a request body over `max_bytes` with 413 (by Content-Length, or while reading)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = _error(413, "body", f"Forespørgslen er for stor (højst {self.max_bytes} bytes)")
        if length is not None:
            try:
                if int(length) > self.max_bytes:
                    return await too_big(scope, receive, send)
            except ValueError:
                return await _error(400, "body", "Ugyldig Content-Length")(scope, receive, send)
            return await self.app(scope, receive, send)
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        # no length given (chunked): read it all, up to the limit, then replay it
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await too_big(scope, receive, send)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)
