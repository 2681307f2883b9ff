"""The dispatcher: one request through the phase table, with mod_python's semantics at every step.

`Dispatcher.handle(params, body, sink, after_end=...)` reads the directives from the params, builds the request and
runs the phases in table order with one loop (`chain.run_chain` per phase, this module per request):
- the phases placed before the content (post-read-request ... fixup; authen/authz too, unless they already ran inside
  Apache through mod_authnz_fcgi, which the authorizer's answer marks in the params) go on after OK or DECLINED;
  DONE ends the request as it stands (`util.redirect`, `SERVER_RETURN(DONE)`), anything else is an error status;
- the content phase runs only if `req.handler` names mod_python; OK/DONE send what the handler made of the response
  (its `req.status`); an HTTP code gets Apache's stock page for it (`Response.send_error`: headers_out dropped but a
  redirect's Location, err_headers_out kept, Allow on 405/501; appended if output already went out); a code Apache
  does not know becomes 500; DECLINED goes to Apache's default handler (`static.py`);
- after the response: the log phase, then the `req.register_cleanup()` callbacks, then the cleanup phase (for the
  targets of `req.internal_redirect()` too, newest first); their failures are only logged.  Given `after_end`
  (the server's `FastCGIRequest.call_after_end`), they run once END_REQUEST is written, so the client never waits
  for them, and their log lines go to the daemon's log (the connection may already serve another request).
A failure in a phase is logged through `req.log_error` with mod_python's "<phase> <handler>: <line>" lines; with
PythonDebug On the traceback page goes to the client (status 500 unless output was flushed) and the phase returns
DONE, without it the phase returns the failure's status (500).  A malformed directive (e.g. a PythonPath entry
outside the allowed directories) fails the request with 500 and a log line naming it, before any handler runs.
`authorizer.py` serves mod_authnz_fcgi's AUTHORIZER calls with the same request building and phase loop.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import List, Optional
from urllib.parse import quote

from ..request.connection import Cleanup, LogFunc
from ..request.context import current_request
from ..request.constants import (APLOG_ERR, DECLINED, DONE, HTTP_INTERNAL_SERVER_ERROR, HTTP_MOVED_PERMANENTLY, OK,
                                 effective_status)
from ..request.exceptions import InvalidResponseHeader
from ..request.params import PathMode
from ..request.request import BodyStream, Request
from ..request.response import Response
from .chain import run_chain
from .directives import DIRECTORY_SLASH_PARAM, DirectiveError, Directives, HandlerSpec, parse_directives
from .errors import DispatchError, debug_page, log_lines, stock_page
from .handler_request import DaemonSink, HandlerEntry, HandlerNote, HandlerRequest, RequestLog, redirect_params
from .loader import Loader
from .namespaces import MAIN_INTERPRETER, Namespaces
from .phases import (AUTHORIZER_RUNS, CONFIGURED_HANDLER, CONTENT, PHASES, Phase, Placement, apache_ran_marker,
                     phases_at)
from .static import serve_declined
from .trust import ParamPolicy, check_params

# Handler failures and module imports also go to the daemon's own log: Apache logs every FCGI_STDERR line at level
# error, one line per traceback line, which suits neither an import notice nor a search for a failure.
log = logging.getLogger("fcgi_handlers.dispatch")

# The results of an early phase that let the request go on to the next phase (Apache's hook semantics).
_PHASE_GOES_ON = frozenset({OK, DECLINED})

# Apache's LimitInternalRecursion default: more nested internal redirects than this are a configuration error.
MAX_INTERNAL_REDIRECTS = 10

# The authorizer's allow answer carries the user mod_python's authen phase chose, and its ap_auth_type, as variables
# mod_authnz_fcgi hands to the later responder call (`UserExpr "%{reqenv:FCGI_HANDLERS_USER}"` sets Apache's user).
USER_VARIABLE = "FCGI_HANDLERS_USER"
AUTH_TYPE_VARIABLE = "FCGI_HANDLERS_AUTH_TYPE"

AfterEnd = Callable[[Callable[[], None]], None]

__all__ = ["AUTH_TYPE_VARIABLE", "AfterEnd", "DaemonSink", "DispatchSettings", "Dispatcher", "HandlerEntry",
           "HandlerRequest", "MAX_INTERNAL_REDIRECTS", "RequestLog", "USER_VARIABLE"]


@dataclass(frozen=True)
class DispatchSettings:
    """What the dispatcher needs from the daemon's configuration."""

    paths: Sequence[str]            # the allowed directories (`--path`); handler code comes only from these
    path_mode: PathMode = "auto"    # how req.uri/filename/path_info are derived (see request.params)
    emulate_auth: bool = True       # run PythonAuthen/AuthzHandler in the responder when Apache did not run them
    policy: ParamPolicy = field(default_factory=ParamPolicy)  # what the client's Python* params may decide


class Dispatcher:
    """Runs requests through the phase table; one per worker process (it owns the handler loaders)."""

    def __init__(self, settings: DispatchSettings, *, loader: Optional[Loader] = None,
                 child_cleanups: Optional[List[Cleanup]] = None) -> None:
        self.settings = settings
        self.loader = loader if loader is not None else Loader(settings.paths)
        self.loader.install()
        self.namespaces = Namespaces(self.loader)
        # apache.register_cleanup / req.server.register_cleanup: run when the worker exits (runtime).
        self.child_cleanups: List[Cleanup] = child_cleanups if child_cleanups is not None else []
        placements = {Placement.BEFORE_CONTENT, Placement.CONTENT}
        if settings.emulate_auth:
            placements.add(Placement.APACHE_AUTH)
        # The phases up to the content, in table order, each with the marker that says Apache already ran it.
        self._request_phases = tuple((phase, apache_ran_marker(phase) if phase in AUTHORIZER_RUNS else None)
                                     for phase in PHASES if phase.placement in placements)
        # Whether `_run_request_phases` may jump to the content phase when it is the only one configured: true
        # when the content phase runs here and SetHandler is applied before it (the only effect of the others).
        before = [phase for phase, _ in self._request_phases][:-1]
        self._content_shortcut = (bool(self._request_phases) and self._request_phases[-1][0] is CONTENT
                                  and any(phase.applies_handler for phase in before)
                                  and not any(phase.handler_names for phase in before))

    def close(self) -> None:
        """Remove the loaders' import hooks and forget their modules."""
        self.namespaces.close()
        self.loader.close()

    # --- entry points -----------------------------------------------------------------------------------------------
    def handle(self, params: Mapping[str, str], body: Optional[BodyStream], sink: DaemonSink, *,
               log: Optional[LogFunc] = None, after_end: Optional[AfterEnd] = None,
               note: Optional[HandlerNote] = None) -> None:
        """Serve one FastCGI responder request: directives from `params`, response to `sink`; the work after the
        response is handed to `after_end` when given, else done before returning; `note` gets the phase and
        handler as each handler starts."""
        route = RequestLog(sink)
        params = apache_auth_view(params)
        directives, failure = self.directives(params)
        req = self.make_request(params, body, Response(sink, params.get("REQUEST_METHOD") == "HEAD"), directives,
                                log=log or route)
        req.fcgi_note = note
        if failure is not None:
            req.log_error(str(failure), APLOG_ERR)
            self.send_error(req, failure.status)
            self.finish_response(req)
            return
        after = self.handle_request(req, directives)
        if after is None:
            return  # no log phase, no cleanup: nothing to hand over
        if after_end is None:
            after()
            return
        route.detach()
        after_end(after)

    def directives(self, params: Mapping[str, str]) -> tuple[Directives, Optional[DispatchError]]:
        """The request's directives after the daemon's param policy (`trust`), or empty ones and the error that made
        them unusable (a malformed directive, a param no web server sends)."""
        try:
            check_params(params)
            return parse_directives(self.settings.policy.apply(params), self.loader.roots), None
        except DispatchError as exc:
            return Directives(), exc

    def make_request(self, params: Mapping[str, str], body: Optional[BodyStream], response: Response,
                     directives: Directives, *, log: LogFunc, credentials: Optional[tuple[str, str]] = None,
                     pool: Optional[List[Cleanup]] = None) -> HandlerRequest:
        """The request object handlers get, with the directives' config and options tables, named after its
        interpreter as mod_python names it."""
        # The tables are made once per Directives: the request and req.server hand out copies only.
        req = HandlerRequest(params, body, response, options=directives.options_table, config=directives.config_table,
                             log=log, path_mode=self.settings.path_mode, request_time=response.request_time,
                             redirector=self._internal_redirect, credentials=credentials,
                             auth_name=directives.auth_name, auth_type=directives.auth_type,
                             child_cleanups=self.child_cleanups)
        req.fcgi_set("interpreter", self.interpreter_name(req, directives))
        # mod_python's post-read-request hook marks every request (it has run the server-level init handlers).
        req.fcgi_set_note("python_init_ran", "1")
        req.fcgi_directives = directives
        if pool is not None:
            req.fcgi_cleanups = pool  # an internal redirect's target shares the original's pool
        req.fcgi_cleanups.append((CleanupPhase(self, req), None))
        return req

    @staticmethod
    def interpreter_name(req: Request, directives: Directives) -> str:
        """The interpreter as mod_python names it: PythonInterpreter; else with PythonInterpPerDirectory the
        directory of req.filename (itself when it is a directory) with a trailing slash; with PythonInterpPerDirective
        the section the directives came from (a `<Directory>` path with a trailing slash, a `<Location>` path as
        written); else the virtual host's name (its ServerName when the translation passed it, else SERVER_NAME)."""
        return _interpreter_choice(req, directives)[0]

    def bind_namespace(self, req: HandlerRequest) -> bool:
        """Give `req` its interpreter namespace's loader; False (logged, 500 sent) when none can be had."""
        directives: Directives = req.fcgi_directives
        explicit = _interpreter_choice(req, directives)[1]
        try:
            req.fcgi_loader = self.namespaces.for_request(req.interpreter, explicit=explicit)
        except DispatchError as exc:
            req.log_error(str(exc), APLOG_ERR)
            self.send_error(req, exc.status)
            self.finish_response(req)
            return False
        return True

    def handle_request(self, req: HandlerRequest, directives: Directives) -> Optional[Callable[[], None]]:
        """Run every phase up to the response for `req` and finish the response; returns the work after it, None
        when there is none (no log or cleanup handler configured or added, no `register_cleanup()` callback).

        While it runs, `req` is the context's current request (module-level `apache.log_error` and friends) and the
        request's search path is the one its namespace's import hook uses."""
        token = current_request.set(req)
        try:
            if not self.bind_namespace(req):
                return lambda: None
            with req.fcgi_loader.search_path(directives.python_path):
                result = self._run_request_phases(req, directives)
                self._conclude(req, result)
                self.finish_response(req)
        finally:
            current_request.reset(token)
        if not self._work_after(req, directives):
            req.fcgi_cleanups.clear()  # only this request's own cleanup phase, which has nothing to run
            return None
        return partial(self.after_response, req, directives)

    @staticmethod
    def _work_after(req: HandlerRequest, directives: Directives) -> bool:
        """Whether `after_response` would run anything: a log or cleanup phase handler (configured, or added by a
        handler), or a pool cleanup besides the request's own cleanup phase (a `register_cleanup()` callback, an
        internal redirect's target)."""
        if len(req.fcgi_cleanups) != 1:
            return True
        return any(_may_have_handlers(req, directive, directives) for directive in _AFTER_DIRECTIVES)

    def after_response(self, req: HandlerRequest, directives: Directives, *, phases: bool = True) -> None:
        """The log phase, then the request pool's cleanups, newest first: the `req.register_cleanup()` callbacks and
        each request's cleanup phase, which mod_python registers when the request object is made (so it comes
        last, and an internal redirect's target, which shares the pool, cleans up before it: observed).  Runs in
        the request's context again (this may be another moment on the same thread); `phases=False` runs the
        registered callbacks only."""
        token = current_request.set(req)
        try:
            with req.fcgi_loader.search_path(directives.python_path):
                for phase in phases_at(Placement.AFTER_RESPONSE) if phases else ():
                    self.run_phase(req, phase, directives)
                self._run_cleanups(req, phases=phases)
        finally:
            current_request.reset(token)

    # --- phases -----------------------------------------------------------------------------------------------------
    def _run_request_phases(self, req: HandlerRequest, directives: Directives) -> int:
        """The phases up to the content; the result that decides the response."""
        result = DECLINED
        if not directives.sets_handler:
            req.handler = None  # no SetHandler: Apache's own handler, unless a phase handler names mod_python
        elif directives.configured_phases == _CONTENT_ONLY and not req.fcgi_added and self._content_shortcut:
            # The common block (a PythonHandler and nothing else): every phase before the content declines at once
            # and only the fixup phase's SetHandler has an effect, so go straight to it (same result, fewer steps).
            req.handler = CONFIGURED_HANDLER
            return self.run_phase(req, CONTENT, directives)
        params = req.fcgi_params
        for phase, marker in self._request_phases:
            if marker is not None and marker in params:
                continue  # mod_authnz_fcgi already ran it inside Apache and allowed the request
            if phase.applies_handler and directives.sets_handler:
                req.handler = CONFIGURED_HANDLER
            if phase is CONTENT and self._slash_redirect(req):
                return HTTP_MOVED_PERMANENTLY
            if phase.handler_names and req.handler not in phase.handler_names:
                return DECLINED  # Apache would pick another handler for the content: its default one
            if not _may_have_handlers(req, phase.directive, directives):  # read per phase: handlers add to later ones
                # No handlers: the phase gives DECLINED (run_phase's own first test), with no authen check to make.
                result = DECLINED
                if phase.placement is Placement.CONTENT:
                    return result
                continue
            result = self.run_phase(req, phase, directives)
            if phase.requires_user and self.has_handlers(req, phase, directives, loud=True):
                failure = authen_failure(req, phase, result)
                if failure is not None:
                    return failure
            if phase.placement is Placement.CONTENT or result not in _PHASE_GOES_ON:
                return result
        return result

    @staticmethod
    def _slash_redirect(req: HandlerRequest) -> bool:
        """mod_dir's redirect of a directory's URI without its trailing slash (`DIRECTORY_SLASH_PARAM`): sets the
        Location and says whether to answer 301. Like mod_dir, a non-GET request is left alone when
        `redirect-carefully` is set."""
        params = req.fcgi_params
        if DIRECTORY_SLASH_PARAM not in params or req.uri.endswith("/"):
            return False
        if req.method != "GET" and "redirect-carefully" in params:
            return False
        target = quote(req.uri, safe="$-_.+!*'(),:@&=~/") + "/" + (f"?{req.args}" if req.args is not None else "")
        req.headers_out["Location"] = req.construct_url(target)
        return True

    def run_phase(self, req: HandlerRequest, phase: Phase, directives: Directives) -> int:
        """Run `phase`'s handler chain (DECLINED when it has none, as Apache skips the hook)."""
        if not _may_have_handlers(req, phase.directive, directives):
            return DECLINED  # the common case for most phases: nothing configured, nothing added
        extension = self._extension(req, phase, directives)
        handlers = directives.handlers_for(phase, extension)
        added = req.fcgi_added.setdefault(phase.directive, [])
        if not handlers and not added:
            return DECLINED
        req.fcgi_set("phase", phase.directive)
        matched = extension is not None and (phase.directive, extension) in directives.ext_handlers
        req.fcgi_set("extension", extension if matched else None)
        loader: Loader = req.fcgi_loader or self.loader

        def on_handler(spec: HandlerSpec) -> None:
            directory = spec.directory if spec.directory is not None else directives.directory
            req.fcgi_handler = (spec.text, int(spec.silent), directory)  # req.hlist follows it
            note = req.fcgi_note
            if note is not None:
                note.phase, note.handler = phase.directive, spec.text

        def import_module(spec: HandlerSpec) -> ModuleType:
            # mod_python's "(Re)importing" notice: the daemon's log at info (Apache would log it as an error).
            path = None
            if spec.directory is not None:
                path = (spec.directory,) + (directives.python_path or loader.roots)
            return loader.import_module(spec.module, autoreload=directives.autoreload, log=log.info, path=path)

        def report(failed_phase: Phase, spec: Optional[HandlerSpec], exc: BaseException) -> int:
            return self._report(req, directives, failed_phase, spec, exc)

        return run_chain(req, phase, handlers, import_module=import_module, report=report, added=lambda: added,
                         on_handler=on_handler)

    def has_handlers(self, req: HandlerRequest, phase: Phase, directives: Directives, *, loud: bool = False) -> bool:
        """True when `phase` has handlers for this request (configured for its extension, or added); `loud`: other
        than PythonHandlerModule's silent ones, which a module without the phase's function skips."""
        specs = [*directives.handlers_for(phase, self._extension(req, phase, directives)),
                 *req.fcgi_added.get(phase.directive, ())]
        return any(not spec.silent for spec in specs) if loud else bool(specs)

    @staticmethod
    def _extension(req: Request, phase: Phase, directives: Directives) -> Optional[str]:
        """Everything after the first dot of req.filename's basename (mod_python's rule), when it matters."""
        if not directives.has_extension_lists(phase) or not req.filename:
            return None
        base = req.filename.rsplit("/", 1)[-1]
        dot = base.find(".")
        return base[dot:] if dot >= 0 else None

    def _report(self, req: HandlerRequest, directives: Directives, phase: Phase, spec: Optional[HandlerSpec],
                exc: BaseException) -> int:
        """mod_python's ReportError: log every traceback line; with PythonDebug, the traceback page and DONE."""
        handler = spec.text if spec is not None else "N/A"
        for line in log_lines(phase.directive, handler, exc):
            req.log_error(line, APLOG_ERR)
        log.error("%s %s: %s %s failed\n%s", req.method, req.unparsed_uri, phase.directive, handler,
                  "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip("\n"))
        status = exc.status if isinstance(exc, DispatchError) else HTTP_INTERNAL_SERVER_ERROR
        response = req.fcgi_response
        if not directives.debug or response.finished or response.aborted:
            return status
        try:
            req.status = HTTP_INTERNAL_SERVER_ERROR
            req.content_type = "text/html"
            req.write(debug_page(phase.directive, handler, exc))
        except (OSError, InvalidResponseHeader) as write_error:
            req.log_error(f"{phase.directive} {handler}: could not send the error page: {write_error}", APLOG_ERR)
            return status
        return DONE

    # --- internal redirects ----------------------------------------------------------------------------------------
    def _internal_redirect(self, req: HandlerRequest, uri: str) -> None:
        """req.internal_redirect(uri): the phases up to the response for a new request, sent in place of `req`'s."""
        if req.fcgi_depth >= MAX_INTERNAL_REDIRECTS:
            req.log_error(f"Request exceeded the limit of {MAX_INTERNAL_REDIRECTS} internal redirects due to "
                          "probable configuration error.", APLOG_ERR)
            self.send_error(req, HTTP_INTERNAL_SERVER_ERROR)
            return
        original = req.fcgi_response
        response = Response(original.sink, original.header_only, request_time=original.request_time)
        response.headers_sent = original.headers_sent  # output already sent stays the start of the response
        original.finished = True  # the original's own response is over: Apache answers with the target's
        original.forward_to = response  # req.prev.write() from the target goes out in order with the target's output
        directives: Directives = req.fcgi_directives
        target = self.make_request(redirect_params(req.fcgi_params, uri), req.fcgi_body, response, directives,
                                   log=req.fcgi_log, pool=req.fcgi_cleanups)
        target.fcgi_set("prev", req)
        target.fcgi_note = req.fcgi_note
        target.fcgi_depth = req.fcgi_depth + 1
        req.fcgi_set("next", target)
        token = current_request.set(target)
        try:
            if not self.bind_namespace(target):
                return
            with target.fcgi_loader.search_path(directives.python_path):
                self._conclude(target, self._run_request_phases(target, directives))
                self.finish_response(target)
        finally:
            current_request.reset(token)

    # --- the response ------------------------------------------------------------------------------------------------
    def _conclude(self, req: HandlerRequest, result: int) -> None:
        """Turn the request's result into the response, as Apache does with a handler's return value."""
        if result in (OK, DONE):
            return
        if result == DECLINED:
            serve_declined(req, self.send_error)
            return
        if not 100 <= result < 600:
            req.log_error(f"Handler for {req.handler} returned invalid result code {result}", APLOG_ERR)
            result = HTTP_INTERNAL_SERVER_ERROR
        self.send_error(req, effective_status(result))

    @staticmethod
    def send_error(req: Request, status: int) -> None:
        """Apache's error response for `status`, with its stock page."""
        params = req.fcgi_params
        location = req.headers_out.get("Location") or req.err_headers_out.get("Location") or ""
        body = stock_page(status, method=req.method, location=location, server_admin=params.get("SERVER_ADMIN", ""),
                          signature=params.get("SERVER_SIGNATURE", ""), status_line=req.status_line)
        try:
            req.fcgi_response.send_error(status, body)
        except OSError:
            req.connection.fcgi_mark_aborted()

    def finish_response(self, req: HandlerRequest) -> None:
        """Send what is left; a header the handler set that cannot be sent makes it Apache's 500 instead."""
        try:
            req.fcgi_response.finish()
        except InvalidResponseHeader as exc:
            req.log_error(str(exc), APLOG_ERR)
            self.send_error(req, HTTP_INTERNAL_SERVER_ERROR)
        except OSError:
            req.connection.fcgi_mark_aborted()

    @staticmethod
    def _run_cleanups(req: HandlerRequest, *, phases: bool) -> None:
        """The pool's cleanups, newest first (APR pool cleanups, observed); a failing callback is logged as
        mod_python logs it and the next one still runs."""
        pool = req.fcgi_cleanups
        while pool:
            callback, data = pool.pop()
            if isinstance(callback, CleanupPhase) and not phases:
                continue
            try:
                callback(data)
            except (Exception, SystemExit) as exc:  # a cleanup's sys.exit() must not end the worker thread
                req.log_error(f"python_cleanup: Error calling cleanup object {callback!r}", APLOG_ERR)
                req.log_error(f"    {type(exc)}: {exc}", APLOG_ERR)


_CONTENT_ONLY = frozenset({CONTENT.directive})


def _interpreter_choice(req: Request, directives: Directives) -> tuple[str, bool]:
    """(interpreter name, explicit): explicit names come from the configuration and always get their namespace;
    the default (the server's name) gets one only when the daemon declared it (namespaces.Namespaces.for_request)."""
    if directives.interpreter:
        return directives.interpreter, True
    if directives.interp_per_directory:
        filename = req.filename
        if not filename:
            return MAIN_INTERPRETER, False  # mod_python: no file known yet, the main interpreter
        folder = filename if os.path.isdir(filename) else os.path.dirname(filename)
        return folder.rstrip("/") + "/", True
    if directives.interp_per_directive:
        # The section's path as mod_python keeps it: a <Directory> with a trailing slash, a <Location> as written.
        section = directives.directory or directives.location
        if section:
            return section, True
        return MAIN_INTERPRETER, False  # mod_python: a directive outside any section uses the main interpreter
    return directives.server_name or req.fcgi_params.get("SERVER_NAME") or MAIN_INTERPRETER, False


def _may_have_handlers(req: HandlerRequest, directive: str, directives: Directives) -> bool:
    """The quick test before a phase: handlers configured for it (plain or `| .ext`) or added by a handler. False
    means the phase declines at once; True may still find no list for this request's extension."""
    return directive in directives.configured_phases or bool(req.fcgi_added.get(directive))

# The phases `after_response` runs: the log phase, then (as the request's pool cleanup) the cleanup phase.
_AFTER_DIRECTIVES = tuple(phase.directive for phase in (*phases_at(Placement.AFTER_RESPONSE),
                                                         *phases_at(Placement.CLEANUP)))


class CleanupPhase:
    """A request's PythonCleanupHandler chain, as an entry of the request pool's cleanups."""

    def __init__(self, dispatcher: Dispatcher, req: HandlerRequest) -> None:
        self.dispatcher = dispatcher
        self.req = req

    def __call__(self, data: object) -> None:
        token = current_request.set(self.req)
        try:
            for phase in phases_at(Placement.CLEANUP):
                self.dispatcher.run_phase(self.req, phase, self.req.fcgi_directives)
        finally:
            current_request.reset(token)


def apache_auth_view(params: Mapping[str, str]) -> Mapping[str, str]:
    """A responder's params after mod_authnz_fcgi ran the authen phase: `req.ap_auth_type` is what that phase left
    (the authorizer's answer carries it), not Apache's view of the credentials."""
    if AUTH_TYPE_VARIABLE not in params:
        return params
    view = dict(params)
    if view[AUTH_TYPE_VARIABLE]:
        view["AUTH_TYPE"] = view[AUTH_TYPE_VARIABLE]
    else:
        view.pop("AUTH_TYPE", None)
    return view


def authen_failure(req: Request, phase: Phase, result: int) -> Optional[int]:
    """500 when the authen phase ran and no user came out of it: OK without req.user (mod_python's own error), or
    DECLINED by every handler (no other module authenticates: Apache's "couldn't check user", AH01796)."""
    if result == OK and req.user is None:
        req.log_error(f"After {phase.directive} req->user is NULL. Assign something to req.user if returning OK "
                      "to avoid this error.", APLOG_ERR)
        return HTTP_INTERNAL_SERVER_ERROR
    if result == DECLINED:
        req.log_error(f"{phase.directive} declined and no other module checks the user: configuration error",
                      APLOG_ERR)
        return HTTP_INTERNAL_SERVER_ERROR
    return None

