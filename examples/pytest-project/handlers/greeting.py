"""A mod_python handler, unchanged from what runs under mod_python: greets `?name=...` and counts visits in a cookie."""
from urllib.parse import parse_qs

from mod_python import Cookie, apache


def handler(req):
    name = parse_qs(req.args or "").get("name", ["world"])[0]
    visits = int(Cookie.get_cookies(req).get("visits", Cookie.Cookie("visits", "0")).value) + 1
    Cookie.add_cookie(req, "visits", str(visits), path="/")
    if name == "error":
        req.log_error("greeting: refusing the name 'error'")
        return apache.HTTP_BAD_REQUEST
    req.content_type = "text/plain; charset=utf-8"
    req.write("Hello, %s! (visit %d)\n" % (name, visits))
    return apache.OK
