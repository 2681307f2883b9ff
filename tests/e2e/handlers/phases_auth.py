"""Auth handlers for tests/e2e/test_phases_auth.py, served by real mod_python and by the daemon (through
mod_authnz_fcgi's AUTHORIZER calls).

`?authen=<MODE>&authz=<MODE>` picks what each phase does; the content handler reports what reached it.
"""
from mod_python import apache, util

RESULTS = {"OK": apache.OK, "DECLINED": apache.DECLINED, "UNAUTHORIZED": apache.HTTP_UNAUTHORIZED,
           "FORBIDDEN": apache.HTTP_FORBIDDEN}


def _mode(req, phase):
    pairs = dict(item.split("=", 1) for item in (req.args or "").split("&") if "=" in item)
    return pairs.get(phase, "OK")


def authenhandler(req):
    password = req.get_basic_auth_pw()
    mode = _mode(req, "authen")
    if mode == "CHECK":
        # The usual mod_python authenticator: spam/eggs only.
        return apache.OK if (req.user, password) == ("spam", "eggs") else apache.HTTP_UNAUTHORIZED
    if mode == "OTHER":
        req.user = "chosen"
        return apache.OK
    if mode == "RAISE":
        raise RuntimeError("authen failed")
    if mode == "REDIRECT":
        util.redirect(req, "/login/")
    if mode == "ERRHEADER":
        req.err_headers_out["X-Auth-Error"] = "bad credentials"
        return apache.HTTP_UNAUTHORIZED
    return RESULTS[mode]


def authzhandler(req):
    mode = _mode(req, "authz")
    if mode == "USER":
        return apache.OK if req.user in ("spam", "chosen") else apache.HTTP_FORBIDDEN
    return RESULTS[mode]


def handler(req):
    req.content_type = "text/plain"
    req.write("user=%r ap_auth_type=%r auth_name=%r auth_type=%r phase=%s\n"
              % (req.user, req.ap_auth_type, req.auth_name(), req.auth_type(), req.phase))
    return apache.OK
