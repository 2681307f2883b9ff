"""WSGI applications served directly by the daemon: `fcgi-handlers serve --wsgi module:app`.

No mod_python layer: each request's params become a PEP 3333 environ (`environ`) and the application's response is
written as the FastCGI responder's CGI header block and body (`gateway`). The application is imported in each
worker after fork, as `make_app` imports handler code, so a SIGHUP's new workers load changed code.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import TYPE_CHECKING, Any, Sequence

from fcgi_handlers.server import App, FastCGIRequest

from .gateway import WSGIApp, run_app

if TYPE_CHECKING:
    from fcgi_handlers.config import Config

__all__ = ["AppSpecError", "WSGIApp", "check_app_spec", "load_app", "make_wsgi_app", "parse_app_spec", "run_app"]

DEFAULT_ATTRIBUTE = "application"   # mod_wsgi's and gunicorn's default name


class AppSpecError(ValueError):
    """`--wsgi` names nothing callable; the message says what was wrong."""


def parse_app_spec(spec: str) -> tuple[str, str]:
    """`package.module:attr` (attr may be dotted; `application` when omitted) -> (module, attr)."""
    module, _, attribute = spec.partition(":")
    attribute = attribute or DEFAULT_ATTRIBUTE
    names = [*module.split("."), *attribute.split(".")]
    if not module or not all(name.isidentifier() for name in names):
        raise AppSpecError(f"expected MODULE:APP such as myproject.wsgi:application, got {spec!r}")
    return module, attribute


def _add_paths(paths: Sequence[str]) -> None:
    for path in reversed([*paths, os.getcwd()]):
        if path not in sys.path:
            sys.path.insert(0, path)


def check_app_spec(spec: str, paths: Sequence[str] = ()) -> None:
    """Fail early (in the arbiter, before any worker starts) when the module cannot be found; nothing is executed
    beyond its parent packages, so the workers still import the application fresh."""
    module_name, _ = parse_app_spec(spec)
    _add_paths(paths)
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as exc:
        raise AppSpecError(f"--wsgi {spec}: cannot import {module_name}: {exc}") from None
    if found is None:
        raise AppSpecError(f"--wsgi {spec}: no module named {module_name} (searched --path and the working "
                           f"directory first)")


def load_app(spec: str, paths: Sequence[str] = ()) -> WSGIApp:
    """Import the application `spec` names, with `paths` (then the working directory) first on sys.path."""
    module_name, attribute = parse_app_spec(spec)
    _add_paths(paths)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise AppSpecError(f"--wsgi {spec}: cannot import {module_name}: {exc}") from None
    for name in attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise AppSpecError(f"--wsgi {spec}: {module_name} has no attribute {attribute}") from None
    if not callable(target):
        raise AppSpecError(f"--wsgi {spec}: {attribute} is a {type(target).__name__}, not a WSGI callable")
    app: WSGIApp = target
    return app


def make_wsgi_app(config: Config) -> App:
    """The per-request function for `serve --wsgi`: the app imported in this worker, run per request."""
    wsgi_app = load_app(config.wsgi, config.path)
    multithread, multiprocess, debug = config.threads > 1, config.workers > 1, bool(config.debug)

    def app(request: FastCGIRequest) -> int:
        return run_app(wsgi_app, request, multithread=multithread, multiprocess=multiprocess, debug=debug)

    return app
