"""Every error leaves as application/problem+json with the status its class carries (SPEC §5)."""

from __future__ import annotations

import json

from connexion.lifecycle import ConnexionResponse

from booking import errors


def _retry_after(exc: errors.DomainError) -> dict[str, str]:
    retry = getattr(exc, "retry_after", None)
    return {"Retry-After": str(retry)} if retry else {}


def problem_response(
    status: int, title: str, detail: str, headers: dict | None = None, **extra
) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=status,
        mimetype="application/problem+json",
        content_type="application/problem+json",
        headers=headers or {},
        body=json.dumps(errors.problem(status, title, detail, **extra), default=str),
    )


def domain_error(_request, exc: errors.DomainError) -> ConnexionResponse:
    return problem_response(
        exc.status, exc.title, exc.detail, headers=_retry_after(exc), **exc.extra
    )


def undecodable_body(_request, exc: Exception) -> ConnexionResponse:
    return problem_response(400, "Bad Request", f"the request body is not valid UTF-8: {exc}")
