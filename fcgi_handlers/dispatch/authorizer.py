"""PythonAuthenHandler and PythonAuthzHandler (and PythonAccessHandler before them) inside Apache's auth phases:
mod_authnz_fcgi's AUTHORIZER calls.

mod_authnz_fcgi calls the daemon with FCGI_ROLE=AUTHORIZER, no body, and FCGI_APACHE_ROLE saying which Apache phase
asks (`docs/apache-facts.md` §8): `phases.AUTHORIZER_PHASES` maps it to the phases this call runs, with the chain loop
and request building the responder uses.  The params carry what the header-parser phase set (the generated
configuration passes the directives with `SetEnvIfExpr`; `SetEnv` values arrive only with the later responder call)
and, when Apache parsed Basic credentials, REMOTE_USER/REMOTE_PASSWD, which `req.get_basic_auth_pw()` returns.

The results, with mod_python's meaning (`docs/mod_python-facts.md` §2-§3, and observed on Apache 2.4.71 + mod_python
3.5.0 without mod_auth_basic):
- authen OK with `req.user` set, then authz OK or DECLINED (Apache's own Require lines still decide after it):
  allow.  The answer is `Status: 200` and `Variable-*` headers only (mod_authnz_fcgi passes any other header of a
  200 to the client): the user (`FCGI_HANDLERS_USER`, which the generated `UserExpr` makes Apache's user, so the
  access log and the responder's REMOTE_USER show it), the `ap_auth_type` the phase left, and one marker per phase
  that ran, so the responder does not run it again;
- authen OK without `req.user`: 500 with mod_python's log line; authen DECLINED: 500 (no other module authenticates:
  Apache's "couldn't check user" / AH01796 case);
- an HTTP error code: that status with the handler's err_headers_out (a Location for 3xx/201) and no body, so
  Apache sends its own stock page (with AuthnzFcgiCheckAuthnProvider the status reaches the client as is; through
  AuthBasicProvider or Require every refusal becomes Apache's 401, and 500 stays 500).  No WWW-Authenticate is
  added: mod_python never adds one itself; Apache adds it when it asked for credentials that were missing;
- DONE (a handler's own page, `util.redirect`, the PythonDebug traceback page): the status the handler set and
  the output it wrote (mod_authnz_fcgi uses up to 8 KB of it as the error body); DONE with status 200 cannot be
  said by an authorizer without granting access, so it is refused with 500 and a log line.
On a refusal no responder call follows, so the log phase, the registered cleanups and the cleanup phase run here,
after the answer; on an allow the registered cleanups run here and the log and cleanup phases run with the
responder call that produces the response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Optional

from ..request.constants import (APLOG_ERR, DECLINED, DONE, HTTP_INTERNAL_SERVER_ERROR, HTTP_OK, OK,
                                 effective_status, status_line)
from ..request.connection import LogFunc
from ..request.context import current_request
from ..request.response import Response, header_line
from .dispatcher import AUTH_TYPE_VARIABLE, USER_VARIABLE, AfterEnd, Dispatcher, authen_failure
from .directives import Directives
from .handler_request import DaemonSink, HandlerRequest, RequestLog
from .phases import AUTHORIZER_PHASES, Phase, apache_ran_marker

# Params an authen call hides from the handler: mod_python's req.user and ap_auth_type are None until
# get_basic_auth_pw() (ap_get_basic_auth_pw) parses the credentials, and the password is never an environment value.
_CREDENTIAL_PARAMS = ("REMOTE_USER", "REMOTE_PASSWD", "AUTH_TYPE")


class CaptureSink:
    """Holds what a handler writes during an authorizer call: the answer is composed after the phases ran."""

    def __init__(self) -> None:
        self.data = bytearray()

    def stdout(self, data: bytes) -> None:
        self.data += data

    def stderr(self, data: bytes) -> None:  # the request logs through its RequestLog, never here
        raise OSError("no error stream in an authorizer capture")

    def body(self) -> bytes:
        """The output after the header block the Response put in front of it."""
        _, _, rest = bytes(self.data).partition(b"\r\n\r\n")
        return rest


class AuthorizerCall:
    """One AUTHORIZER request: its phases, then the answer for mod_authnz_fcgi."""

    def __init__(self, dispatcher: Dispatcher, params: Mapping[str, str], log: LogFunc) -> None:
        self.dispatcher = dispatcher
        self.role = params.get("FCGI_APACHE_ROLE")
        self.capture = CaptureSink()
        credentials = None
        if "REMOTE_PASSWD" in params and "REMOTE_USER" in params:
            credentials = (params["REMOTE_USER"], params["REMOTE_PASSWD"])
        hidden = _CREDENTIAL_PARAMS if self.role != "AUTHORIZER" else ("REMOTE_PASSWD",)
        visible = {name: value for name, value in params.items() if name not in hidden}
        self.directives, self.failure = dispatcher.directives(visible)
        response = Response(self.capture, visible.get("REQUEST_METHOD") == "HEAD")
        self.req: HandlerRequest = dispatcher.make_request(visible, None, response, self.directives, log=log,
                                                           credentials=credentials)
        self.ran: list[Phase] = []
        self.authen_user = params.get("REMOTE_USER")

    def run(self) -> int:
        """The phases of this call; the result that decides the answer (OK allows)."""
        req = self.req
        if self.failure is not None:
            req.log_error(str(self.failure), APLOG_ERR)
            return self.failure.status
        phases = AUTHORIZER_PHASES.get(self.role)
        if phases is None:
            req.log_error(f"FCGI_APACHE_ROLE {self.role!r} is not one mod_authnz_fcgi sends", APLOG_ERR)
            return HTTP_INTERNAL_SERVER_ERROR
        if not self.dispatcher.bind_namespace(req):
            return HTTP_INTERNAL_SERVER_ERROR
        with req.fcgi_loader.search_path(self.directives.python_path):
            for phase in phases:
                result = self._run_phase(phase)
                if result != OK:
                    return result
        return OK

    def _run_phase(self, phase: Phase) -> int:
        req, directives = self.req, self.directives
        if not self.dispatcher.has_handlers(req, phase, directives, loud=True):
            if phase.requires_user and req.user is None and self.authen_user is not None:
                req.user = self.authen_user  # Apache authenticated (AuthBasicProvider): its user stands
            return OK
        result = self.dispatcher.run_phase(req, phase, directives)
        failure = authen_failure(req, phase, result) if phase.requires_user else None
        if failure is not None:
            return failure
        if result == DECLINED:
            result = OK  # authz DECLINED: Apache's own Require lines decide next
        if result == OK:
            self.ran.append(phase)
        return result

    def answer(self, result: int) -> bytes:
        """The CGI-style answer mod_authnz_fcgi reads; sets req.status to what the client will get."""
        req = self.req
        if result == OK:
            return self._allow()
        if result == DONE:
            status = req.status
            if status == HTTP_OK:
                req.log_error(f"{req.phase} returned DONE with status 200: an authorizer cannot end the request "
                              "without granting access; refused with 500", APLOG_ERR)
                status = HTTP_INTERNAL_SERVER_ERROR
        elif 100 <= result < 600:
            status = effective_status(result)
        else:
            req.log_error(f"Handler for {req.phase} returned invalid result code {result}", APLOG_ERR)
            status = HTTP_INTERNAL_SERVER_ERROR
        req.status = status
        return self._refuse(status, self.capture.body())

    def _allow(self) -> bytes:
        req = self.req
        variables = [(AUTH_TYPE_VARIABLE, req.ap_auth_type or "")]
        if req.user is not None:
            variables.insert(0, (USER_VARIABLE, req.user))
        variables += [(apache_ran_marker(phase), "1") for phase in self.ran]
        try:
            lines = [header_line("Variable-" + name, value) for name, value in variables]
        except ValueError as exc:
            req.log_error(f"the authorizer's answer cannot carry {exc}", APLOG_ERR)
            return self._refuse(HTTP_INTERNAL_SERVER_ERROR, b"")
        return _block(["Status: 200 OK", *lines], b"")

    def _refuse(self, status: int, body: bytes) -> bytes:
        req = self.req
        lines = [f"Status: {status_line(status)}"]
        location = req.headers_out.get("Location") or req.err_headers_out.get("Location")
        try:
            for name, value in req.err_headers_out.items():
                if name.lower() not in ("location", "status", "content-length", "transfer-encoding"):
                    lines.append(header_line(name, value))
            if location and (300 <= status < 400 or status == 201):
                lines.append(header_line("Location", location))
            if body:
                lines.append(header_line("Content-Type", req.content_type or "text/html"))
        except ValueError as exc:
            req.log_error(f"the authorizer's answer cannot carry {exc}", APLOG_ERR)
            lines, body = [f"Status: {status_line(HTTP_INTERNAL_SERVER_ERROR)}"], b""
        return _block(lines, body)


def _block(lines: Sequence[str], body: bytes) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


def handle_authorizer(dispatcher: Dispatcher, params: Mapping[str, str], sink: DaemonSink, *,
                      log: Optional[LogFunc] = None, after_end: Optional[AfterEnd] = None) -> None:
    """Serve one AUTHORIZER call: run its phases, answer mod_authnz_fcgi, then the work after the answer."""
    route = RequestLog(sink)
    call = AuthorizerCall(dispatcher, params, log or route)
    req = call.req
    token = current_request.set(req)
    try:
        result = call.run()
        reply = call.answer(result)
    finally:
        current_request.reset(token)
    try:
        sink.stdout(reply)
    except OSError:
        req.connection.fcgi_mark_aborted()
    req.fcgi_response.finished = True  # output written from now on has nowhere to go
    after: Callable[[], None] = _after(dispatcher, call, allowed=result == OK)
    if after_end is None:
        after()
        return
    route.detach()
    after_end(after)


def _after(dispatcher: Dispatcher, call: AuthorizerCall, *, allowed: bool) -> Callable[[], None]:
    req, directives = call.req, call.directives

    def work() -> None:
        if req.fcgi_loader is None:
            return  # the request never reached a handler
        if allowed:
            _cleanups_only(dispatcher, req, directives)
        else:
            dispatcher.after_response(req, directives)
    return work


def _cleanups_only(dispatcher: Dispatcher, req: HandlerRequest, directives: Directives) -> None:
    """The registered cleanups of an allowing call (the responder call runs the log and cleanup phases)."""
    dispatcher.after_response(req, directives, phases=False)
