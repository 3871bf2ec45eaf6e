"""Errors as RFC 9457 problem details (`application/problem+json`): `type` (a URI reference
naming the problem, `/problems/<slug>`), `title`, `status`, `detail`, and extension members
(`errors` with each bad field's name and `pointer`, `balance`, …)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    402: "Payment required",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        doc.update(self.extensions)
        return doc

    def response(self, instance: str | None = None) -> JSONResponse:
        return JSONResponse(self.body(instance), self.status, headers=self.headers, media_type=MEDIA_TYPE)


def field_problem(field: str, detail: str, slug: str = "invalid-field", status: int = 422) -> Problem:
    """A 422 naming the field (`errors[].field`, and a JSON pointer to it)."""
    return Problem(
        status,
        slug,
        f"{field}: {detail}",
        errors=[{"field": field, "pointer": f"#/{field}", "detail": detail}],
    )


def install(app: FastAPI) -> None:
    """Every error the app answers with becomes a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
            field = ".".join(loc) or "?"
            errors.append({"field": field, "pointer": "#/" + "/".join(loc), "detail": err.get("msg", "")})
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors) or "invalid request"
        return Problem(422, "invalid-field", detail, errors=errors).response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return Problem(exc.status_code, slug, str(exc.detail), headers=dict(exc.headers or {})).response(
            request.url.path
        )
