"""The two addresses outside Streamlit's pages that sign a browser in and out (Starlette routes of app.py's st.App).

A Streamlit page cannot set a cookie, and a cookie set from JavaScript can be read by any script on the page. So a
page that has checked a code makes a one-time ticket (sessions.open_ticket) and sends the browser to /api/session,
which spends the ticket and answers with the session's token in an HttpOnly, SameSite cookie and a redirect back to
the page. /api/signout ends the session and removes the cookie. Both go back only to a path of this server
(back_to), so a link cannot send someone elsewhere after signing in; and both act only for a browser that came from
this app's own page or typed the address (from_here), never for another site's link, form or image.
"""

from urllib.parse import urlsplit

from starlette.responses import RedirectResponse
from starlette.routing import Route

from cnnlab.classroom import sessions
from cnnlab.errors import CnnlabError

COOKIE = "cnnlab_session"
SESSION_PATH, SIGNOUT_PATH = "/api/session", "/api/signout"


def back_to(wanted):
    """A local path to go back to (a page of this app); "/" for anything else (another site, a scheme, //host)."""
    if not wanted:
        return "/"
    parts = urlsplit(str(wanted))
    path = parts.path or "/"
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


def from_here(request, without_a_word=True):
    """True when the browser came from this app's own page or typed the address: Sec-Fetch-Site says so (browsers
    send it to https and localhost addresses); else the Referer must name this server (the Host it was asked by, or
    the one a proxy says it forwarded: X-Forwarded-Host), which another site's link or image does not. A request
    with neither is without_a_word (signing in asks for one of them: its page always sends a Referer)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    referer = request.headers.get("referer")
    if referer is None:
        return without_a_word
    ours = {_host(request.headers.get(name)) for name in ("host", "x-forwarded-host")} - {None}
    return _host(urlsplit(referer).netloc) in ours


def _host(netloc):
    """'lab.school:443' -> 'lab.school' (a default port dropped), for comparing a Referer with a Host."""
    if not netloc:
        return None
    host = str(netloc).split(",")[0].strip().lower()
    for default in (":80", ":443"):
        if host.endswith(default):
            host = host[:-len(default)]
    return host


def _redirect(request, wanted, outcome=None):
    target = back_to(wanted)
    if outcome:
        target += ("&" if "?" in target else "?") + f"signin={outcome}"
    return RedirectResponse(target, status_code=303)


async def session(request):
    """GET /api/session?ticket=…&next=/Train: the ticket becomes the browser's session cookie.

    Only when the browser came from this app's own page (Sec-Fetch-Site: same-origin) or typed the address itself
    (none): a ticket sent from another site would sign its reader in as someone else (login CSRF)."""
    if not from_here(request, without_a_word=False):
        return _redirect(request, request.query_params.get("next"), "elsewhere")
    try:
        token = sessions.redeem(request.query_params.get("ticket"))
    except CnnlabError:
        return _redirect(request, request.query_params.get("next"), "unavailable")
    if token is None:
        return _redirect(request, request.query_params.get("next"), "expired")
    response = _redirect(request, request.query_params.get("next"))
    response.set_cookie(COOKIE, token, max_age=sessions.DAYS * 24 * 3600, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


async def signout(request):
    """GET /api/signout?next=/: the session ends here and in the database; the cookie is removed. Only from this
    app's own page (or an address typed): another site's link or image signs nobody out."""
    if not from_here(request):
        return _redirect(request, request.query_params.get("next"))
    try:
        sessions.close(request.cookies.get(COOKIE))
    except CnnlabError:
        pass  # the database is away: the cookie is removed all the same
    response = _redirect(request, request.query_params.get("next"))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


def refuse_a_newer_database():
    """Before the server starts: a database made by a newer cnnlab stops it with one line (exit code 2). One that
    cannot be reached now does not: the pages say so, and the class can still look while it comes back."""
    import sys

    from cnnlab.classroom import database

    try:
        if database.exists():
            database.ready()
    except CnnlabError as error:
        if error.message.key == "database.newer":
            print(f"cnnlab: {error}", file=sys.stderr)
            raise SystemExit(2) from None


ROUTES = [Route(SESSION_PATH, session, methods=["GET"]), Route(SIGNOUT_PATH, signout, methods=["GET"])]
