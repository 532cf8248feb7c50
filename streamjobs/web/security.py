"""Who may look and act: the dashboard token, the session cookie, cross-site protection.

With ``DASHBOARD_TOKEN`` set, a request passes with ``Authorization: Bearer
<token>`` (scripts) or the session cookie the login form sets (browsers);
any other gets 401, the login page and the stylesheet aside. The cookie
holds an HMAC of the token, never the token, so it stops working once the
token changes. With the token unset the view only binds loopback (see
``check_bind``) and lets in every request whose ``Host`` is a loopback name:
a page on another site that rebinds its own name to 127.0.0.1 (DNS
rebinding) sends its own name as ``Host`` and gets 403.

Every POST is checked against cross-site requests three ways: the form's
``csrf`` field must equal the ``sj_csrf`` cookie (double submit), both
cookies are ``SameSite=Strict``, and an ``Origin`` header, when sent, must
be the view's own. A POST authenticated by the Bearer header (which no
browser adds across sites) needs no form field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import SecretStr

from scheduler.service import is_loopback
from streamjobs.errors import ConfigError
from streamjobs.settings import Settings

SESSION_COOKIE = "sj_session"
"""The browser session: HMAC-SHA256 of a fixed label under the token."""

CSRF_COOKIE = "sj_csrf"
"""The double-submit token, random per browser."""

CSRF_FIELD = "csrf"
"""The form field that must repeat ``CSRF_COOKIE``."""

SESSION_LABEL = b"streamjobs web session v1"
"""What the session cookie signs."""

PUBLIC_PATHS = frozenset({"/login", "/static/style.css"})
"""Paths served without the token."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp handler."""


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to serve other hosts without a token.

    Raises:
        ConfigError: ``host`` is not loopback and ``DASHBOARD_TOKEN`` is unset.
    """
    if settings.dashboard_token is None and not is_loopback(host):
        raise ConfigError(
            f"WEB_HOST={host} is reachable from other hosts: set DASHBOARD_TOKEN, or bind 127.0.0.1"
        )


def session_value(token: SecretStr) -> str:
    """The session cookie's value for ``token``."""
    key = token.get_secret_value().encode()
    return hmac.new(key, SESSION_LABEL, hashlib.sha256).hexdigest()


def token_matches(given: str, token: SecretStr) -> bool:
    """Constant-time comparison of ``given`` with the token."""
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def bearer_ok(request: web.Request, token: SecretStr) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>``."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_matches(given.strip(), token)


def _session_ok(request: web.Request, token: SecretStr) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def set_cookie(response: web.StreamResponse, name: str, value: str) -> None:
    """Set one of the view's cookies: HttpOnly, SameSite=Strict, the whole site."""
    response.set_cookie(name, value, httponly=True, samesite="Strict", path="/")


def csrf_token(request: web.Request) -> str:
    """The browser's double-submit token (a new one when it has none yet)."""
    token: str = request.get(CSRF_COOKIE) or request.cookies.get(CSRF_COOKIE) or ""
    if not token:
        token = secrets.token_urlsafe(32)
    request[CSRF_COOKIE] = token
    return token


def _foreign_host(request: web.Request) -> bool:
    """Whether the ``Host`` header names something other than loopback."""
    host = request.url.raw_host or ""
    return not is_loopback(host)


def _cross_site(request: web.Request) -> str | None:
    """Why a POST looks cross-site, or None."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return "the request comes from another site"
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return "the request comes from another site"
    return None


async def _csrf_refusal(request: web.Request, *, bearer: bool) -> str | None:
    if (reason := _cross_site(request)) is not None:
        return reason
    if bearer:
        return None
    form = await request.post()
    given = str(form.get(CSRF_FIELD, ""))
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(given.encode(), cookie.encode()):
        return "the form's csrf token is missing or stale; reload the page"
    return None


def middleware(
    token: SecretStr | None, refuse: Callable[[web.Request, int, str], web.StreamResponse]
) -> Middleware:
    """The aiohttp middleware enforcing this module's rules.

    Args:
        token: ``DASHBOARD_TOKEN``; None lets every (loopback) request in.
        refuse: renders a refusal: the request, the status (401 or 403), why.
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await _checked(request, handler)
        if CSRF_COOKIE in request and request.cookies.get(CSRF_COOKIE) != request[CSRF_COOKIE]:
            set_cookie(response, CSRF_COOKIE, request[CSRF_COOKIE])
        return response

    async def _checked(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is None and _foreign_host(request):
            return refuse(request, 403, "without DASHBOARD_TOKEN only loopback names are served")
        bearer = token is not None and bearer_ok(request, token)
        if (
            token is not None
            and request.path not in PUBLIC_PATHS
            and not (bearer or _session_ok(request, token))
        ):
            return refuse(request, 401, "sign in with the dashboard token")
        if request.method == "POST":
            reason = await _csrf_refusal(request, bearer=bearer)
            if reason is not None:
                return refuse(request, 403, reason)
        return await handler(request)

    return guard
