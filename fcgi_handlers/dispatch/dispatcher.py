"""The dispatcher: one request through the phase table, with mod_python's semantics at every step.

`Dispatcher.handle(params, body, sink)` reads the directives from the params, builds the request and runs the phases
in table order with one loop (`chain.run_chain` per phase, this module per request):
- the phases placed before the content (post-read-request ... fixup; authen/authz too unless Apache runs them through
  mod_authnz_fcgi) go on after OK or DECLINED; DONE ends the request as it stands, anything else is an error status;
- the content phase runs only if `req.handler` names mod_python; OK/DONE send what the handler made of the response
  (its `req.status`); an HTTP code gets Apache's stock page for it (`Response.send_error`: headers_out dropped but a
  redirect's Location, err_headers_out kept, Allow on 405/501; appended if output already went out); a code Apache
  does not know becomes 500; DECLINED goes to Apache's default handler (`static.py`);
- after the response: the log phase, then the `req.register_cleanup()` callbacks, then the cleanup phase; their
  failures are only logged.
A failure in a phase is logged through `req.log_error` with mod_python's "<phase> <handler>: <line>" lines; with
PythonDebug On the traceback page goes to the client (status 500 unless output was flushed) and the phase returns
DONE, without it the phase returns the failure's status (500).  A malformed directive (e.g. a PythonPath entry
outside the allowed directories) fails the request with 500 and a log line naming it, before any handler runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, List, Optional, Protocol

from ..request.connection import LogFunc, default_log
from ..request.context import current_request
from ..request.constants import (APLOG_ERR, APLOG_NOTICE, DECLINED, DONE, HTTP_INTERNAL_SERVER_ERROR, OK,
                                 effective_status)
from ..request.exceptions import InvalidResponseHeader
from ..request.params import PathMode
from ..request.request import BodyStream, Request
from ..request.response import Response
from .chain import run_chain
from .directives import DirectiveError, Directives, HandlerSpec, parse_directives, parse_handler_spec
from .errors import DispatchError, debug_page, log_lines, stock_page
from .loader import Loader
from .phases import BY_DIRECTIVE, PHASES, Phase, Placement, phases_at
from .static import serve_declined

# The results of an early phase that let the request go on to the next phase (Apache's hook semantics).
_PHASE_GOES_ON = frozenset({OK, DECLINED})


class DaemonSink(Protocol):
    """The server layer's sink: response bytes and error-log text of one request."""

    def stdout(self, data: bytes) -> None: ...

    def stderr(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class DispatchSettings:
    """What the dispatcher needs from the daemon's configuration."""

    paths: Sequence[str]            # the allowed directories (`--path`); handler code comes only from these
    path_mode: PathMode = "auto"    # how req.uri/filename/path_info are derived (see request.params)
    emulate_auth: bool = True       # run PythonAuthen/AuthzHandler in the daemon (off when mod_authnz_fcgi does)


@dataclass(frozen=True)
class HandlerEntry:
    """`req.hlist` while a handler runs: mod_python's mp_hlist fields we can know."""

    handler: str
    silent: int
    is_location: int
    directory: Optional[str]


class HandlerRequest(Request):
    """`req` plus what needs the dispatcher: `add_handler()`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fcgi_added: dict[str, List[HandlerSpec]] = {}

    def add_handler(self, phase: str, handler: str, dir: Optional[str] = None) -> None:  # noqa: A002 - mod_python
        """Add `handler` to `phase`: to the running list for the current phase, else after its configured ones."""
        target = BY_DIRECTIVE.get(phase) if isinstance(phase, str) else None
        if target is None or target.placement is Placement.CLEANUP:
            raise IndexError(f"Invalid phase: {phase}")
        if not isinstance(handler, str):
            raise TypeError(f"argument 2 must be str, not {type(handler).__name__}")
        spec = parse_handler_spec(handler, directory=dir)
        self.fcgi_added.setdefault(target.directive, []).append(spec)


def sink_log(sink: DaemonSink) -> LogFunc:
    """A log function writing each message as one line of FCGI_STDERR (Apache logs it at level error).

    Once the web server is gone the daemon's own log takes the lines: logging must never stop the request's
    remaining work (the log phase and cleanups still run)."""
    def log(level: int, message: str) -> None:
        try:
            sink.stderr(message.encode("utf-8", "backslashreplace") + b"\n")
        except OSError:
            default_log(level, message)
    return log


class Dispatcher:
    """Runs requests through the phase table; one per worker process (it owns the handler loader)."""

    def __init__(self, settings: DispatchSettings, *, loader: Optional[Loader] = None) -> None:
        self.settings = settings
        self.loader = loader if loader is not None else Loader(settings.paths)
        self.loader.install()
        placements = {Placement.BEFORE_CONTENT, Placement.CONTENT}
        if settings.emulate_auth:
            placements.add(Placement.APACHE_AUTH)
        # The phases up to the content, in table order.
        self._request_phases = tuple(phase for phase in PHASES if phase.placement in placements)

    def close(self) -> None:
        """Remove the loader's import hooks and forget its modules."""
        self.loader.close()

    # --- entry points -----------------------------------------------------------------------------------------------
    def handle(self, params: Mapping[str, str], body: Optional[BodyStream], sink: DaemonSink, *,
               log: Optional[LogFunc] = None) -> None:
        """Serve one FastCGI responder request: directives from `params`, response to `sink`."""
        failure: Optional[DirectiveError] = None
        try:
            directives = parse_directives(params, self.loader.roots)
        except DirectiveError as exc:
            directives, failure = Directives(), exc
        req = self.make_request(params, body, sink, directives, log=log or sink_log(sink))
        if failure is not None:
            req.log_error(str(failure), APLOG_ERR)
            self._send_error(req, failure.status)
            self._finish_response(req)
            return
        self.handle_request(req, directives)

    def make_request(self, params: Mapping[str, str], body: Optional[BodyStream], sink: DaemonSink,
                     directives: Directives, *, log: LogFunc) -> HandlerRequest:
        """The request object handlers get, with the directives' config and options tables."""
        response = Response(sink, params.get("REQUEST_METHOD") == "HEAD")
        return HandlerRequest(params, body, response, options=directives.get_options(),
                              config=directives.get_config(), interpreter=directives.interpreter,
                              log=log, path_mode=self.settings.path_mode, request_time=response.request_time)

    def handle_request(self, req: HandlerRequest, directives: Directives) -> None:
        """Run every phase for `req` and finish its response.

        While it runs, `req` is the context's current request (module-level `apache.log_error` and friends) and the
        request's search path is the one the loader's import hook uses."""
        token = current_request.set(req)
        try:
            with self.loader.search_path(directives.python_path):
                result = self._run_request_phases(req, directives)
                self._conclude(req, result)
                self._finish_response(req)
                for phase in phases_at(Placement.AFTER_RESPONSE):
                    self.run_phase(req, phase, directives)
                self._run_cleanups(req)
                for phase in phases_at(Placement.CLEANUP):
                    self.run_phase(req, phase, directives)
        finally:
            current_request.reset(token)

    # --- phases -----------------------------------------------------------------------------------------------------
    def _run_request_phases(self, req: HandlerRequest, directives: Directives) -> int:
        """The phases up to the content; the result that decides the response."""
        result = DECLINED
        for phase in self._request_phases:
            if phase.handler_names and req.handler not in phase.handler_names:
                return DECLINED  # Apache would pick another handler for the content: its default one
            result = self.run_phase(req, phase, directives)
            if phase.requires_user and result == OK and req.user is None:
                req.log_error(f"After {phase.directive} req->user is NULL. Assign something to req.user if "
                              "returning OK to avoid this error.", APLOG_ERR)
                return HTTP_INTERNAL_SERVER_ERROR
            if phase.placement is Placement.CONTENT or result not in _PHASE_GOES_ON:
                return result
        return result

    def run_phase(self, req: HandlerRequest, phase: Phase, directives: Directives) -> int:
        """Run `phase`'s handler chain (DECLINED when it has none, as Apache skips the hook)."""
        extension = self._extension(req, phase, directives)
        handlers = directives.handlers_for(phase, extension)
        added = req.fcgi_added.setdefault(phase.directive, [])
        if not handlers and not added:
            return DECLINED
        req.fcgi_set("phase", phase.directive)
        matched = extension is not None and (phase.directive, extension) in directives.ext_handlers
        req.fcgi_set("extension", extension if matched else None)
        is_location = int(req.fcgi_paths.mode == "location")

        def on_handler(spec: HandlerSpec) -> None:
            req.fcgi_set("hlist", HandlerEntry(spec.text, int(spec.silent), is_location, spec.directory))

        def import_module(spec: HandlerSpec) -> ModuleType:
            log = (lambda text: req.log_error(text, APLOG_NOTICE)) if directives.debug else None
            path = None
            if spec.directory is not None:
                path = (spec.directory,) + (directives.python_path or self.loader.roots)
            return self.loader.import_module(spec.module, autoreload=directives.autoreload, log=log, path=path)

        def report(failed_phase: Phase, spec: Optional[HandlerSpec], exc: BaseException) -> int:
            return self._report(req, directives, failed_phase, spec, exc)

        return run_chain(req, phase, handlers, import_module=import_module, report=report, added=lambda: added,
                         on_handler=on_handler)

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

    # --- the response ------------------------------------------------------------------------------------------------
    def _conclude(self, req: HandlerRequest, result: int) -> None:
        """Turn the request's result into the response, as Apache does with a handler's return value."""
        if result in (OK, DONE):
            return
        if result == DECLINED:
            serve_declined(req, self._send_error)
            return
        if not 100 <= result < 600:
            req.log_error(f"Handler for {req.handler} returned invalid result code {result}", APLOG_ERR)
            result = HTTP_INTERNAL_SERVER_ERROR
        self._send_error(req, effective_status(result))

    @staticmethod
    def _send_error(req: Request, status: int) -> None:
        """Apache's error response for `status`, with its stock page."""
        params = req.fcgi_params
        location = req.headers_out.get("Location") or req.err_headers_out.get("Location") or ""
        body = stock_page(status, method=req.method, location=location, server_admin=params.get("SERVER_ADMIN", ""),
                          signature=params.get("SERVER_SIGNATURE", ""), status_line=req.status_line)
        try:
            req.fcgi_response.send_error(status, body)
        except OSError:
            req.connection.fcgi_mark_aborted()

    def _finish_response(self, req: HandlerRequest) -> None:
        """Send what is left; a header the handler set that cannot be sent makes it Apache's 500 instead."""
        try:
            req.fcgi_response.finish()
        except InvalidResponseHeader as exc:
            req.log_error(str(exc), APLOG_ERR)
            self._send_error(req, HTTP_INTERNAL_SERVER_ERROR)
        except OSError:
            req.connection.fcgi_mark_aborted()

    @staticmethod
    def _run_cleanups(req: HandlerRequest) -> None:
        """The req.register_cleanup() callbacks, newest first (they are APR pool cleanups, observed); a failure is
        logged as mod_python logs it and the next one still runs."""
        for callback, data in reversed(req.fcgi_cleanups):
            try:
                callback(data)
            except (Exception, SystemExit) as exc:  # a cleanup's sys.exit() must not end the worker thread
                req.log_error(f"python_cleanup: Error calling cleanup object {callback!r}", APLOG_ERR)
                req.log_error(f"    {type(exc)}: {exc}", APLOG_ERR)
