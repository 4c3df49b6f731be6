"""Every error leaves as application/problem+json with a meaningful status (SPEC §5)."""

from __future__ import annotations

import json

from connexion.lifecycle import ConnexionResponse

from booking import errors

STATUS = {  # first match wins: subclasses before their bases
    errors.BadInput: 400,
    errors.InvalidRequest: 422,
    errors.NotFound: 404,
    errors.Unauthorized: 401,
    errors.Conflict: 409,
    errors.PeerUnavailable: 503,
}


def problem_response(status: int, title: str, detail: str, **extra) -> ConnexionResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return ConnexionResponse(status_code=status, mimetype="application/problem+json",
                             content_type="application/problem+json",
                             body=json.dumps(body, default=str))


def domain_error(_request, exc: errors.DomainError) -> ConnexionResponse:
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    return problem_response(status, exc.title, exc.detail, **exc.extra)


def undecodable_body(_request, exc: Exception) -> ConnexionResponse:
    return problem_response(400, "Bad Request", f"the request body is not valid UTF-8: {exc}")

