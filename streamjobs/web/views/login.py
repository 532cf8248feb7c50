"""``/login`` and ``/logout``: the form that trades the dashboard token for a session cookie."""

from __future__ import annotations

from aiohttp import web

from streamjobs.web import security
from streamjobs.web.pages import SETTINGS, render


def add_routes(router: web.UrlDispatcher) -> None:
    """``GET``/``POST /login`` and ``POST /logout``."""
    router.add_get("/login", show)
    router.add_post("/login", sign_in)
    router.add_post("/logout", sign_out)


async def show(request: web.Request) -> web.StreamResponse:
    """The form; without a token configured there is nothing to sign in to."""
    if request.app[SETTINGS].dashboard_token is None:
        raise web.HTTPSeeOther("/")
    return render(request, "login.html", reason=None, error=None)


async def sign_in(request: web.Request) -> web.StreamResponse:
    """Set the session cookie when the token is right; 401 and the form again otherwise."""
    token = request.app[SETTINGS].dashboard_token
    if token is None:
        raise web.HTTPSeeOther("/")
    form = await request.post()
    if not security.token_matches(str(form.get("token", "")), token):
        return render(request, "login.html", status=401, reason=None, error="wrong token")
    response = web.HTTPSeeOther("/")
    security.set_cookie(response, security.SESSION_COOKIE, security.session_value(token))
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    """Forget the session cookie."""
    response = web.HTTPSeeOther("/login")
    response.del_cookie(security.SESSION_COOKIE, path="/")
    return response
