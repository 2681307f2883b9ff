"""The `fcgi-handlers` command: serve, apache-config, convert, demo, ping, status, conformance.

Each subcommand is a thin function over a library call, so the tests drive the same code paths as a user's shell.
Exit codes: 0 success, 1 failure (a ping that got no answer), 2 bad usage or configuration.

Every usage mistake takes one path, whichever subcommand (present or future) it hits: option values are checked by
`type=` validators while parsing, and `Parser.error` prints one line naming the command, the flag, the value and
why, then exits 2; what can only be checked after parsing (a setting from a config file, a flag that needs root)
raises `config.ConfigError`, which `main` prints the same way. A user never sees a traceback for a typo.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Callable, NoReturn, Optional, Sequence, TypeVar

from fcgi_handlers import __version__, build, config

if TYPE_CHECKING:
    from fcgi_handlers.apache import Backend
    from fcgi_handlers.server.identity import RunAs
    from fcgi_handlers.server.settings import Settings

T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `fcgi-handlers SUBCOMMAND: what is wrong (see ... --help)`, exit 2.

    Subparsers are made with the parser's own class, so every subcommand inherits this."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def checked(parse: Callable[[str], T], name: str) -> Callable[[str], T]:
    """An argparse `type=` from a parser that raises ValueError: its message becomes the one-line usage error."""
    def check(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    check.__name__ = name
    return check


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{text!r}: expected a TCP port, 1 to 65535")
    return int(text)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{text!r}: expected a whole number, at least 1")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text!r}: expected a number of seconds above 0")
    return value


def _file(text: str) -> str:
    if not os.path.isfile(text):
        raise ValueError(f"{text!r} is not a file")
    return text


def _directory(text: str) -> str:
    if not os.path.isdir(text):
        raise ValueError(f"{text!r} is not a directory")
    return text


def _nonempty(text: str) -> str:
    from fcgi_handlers.apache import quote

    if not text.strip():
        raise ValueError("must not be empty")
    quote(text)  # what Apache's configuration cannot hold (line breaks, ${)
    return text


def _address(text: str) -> str:
    return config.bind_address(text)


def _tcp_backend(text: str) -> Backend:
    from fcgi_handlers.apache import Backend

    backend = Backend.from_bind(text)
    if backend.socket is not None:
        raise ValueError(f"{text!r}: mod_authnz_fcgi reaches the daemon over TCP only (HOST:PORT)")
    return backend


def _backend(text: str) -> Backend:
    from fcgi_handlers.apache import Backend

    return Backend.from_bind(text)


def _url_path(text: str) -> str:
    from fcgi_handlers.apache.config import url_path

    return url_path(text)


def _directory_path(text: str) -> str:
    from fcgi_handlers.apache.config import directory_path

    return directory_path(text)


def _scenario_name(text: str) -> str:
    from fcgi_handlers.conformance import corpus

    if text not in {s.name for s in corpus()}:
        raise ValueError(f"{text!r}: no such scenario")
    return text


def _area(text: str) -> str:
    from fcgi_handlers.conformance import corpus

    if text not in {s.area for s in corpus()}:
        raise ValueError(f"{text!r}: no such area")
    return text


def _serve(args: argparse.Namespace) -> int:
    from fcgi_handlers.app import make_app, param_policy, preload_helpers
    from fcgi_handlers.server import Arbiter

    cfg = config.from_namespace(args)
    config.require_path(cfg)
    run_as, owner, group = config.identities(cfg)
    try:
        settings = _settings(cfg, run_as, owner, group)
    except ValueError as exc:  # the server layer's own checks, for combinations the settings table cannot see
        raise config.ConfigError(str(exc)) from None
    if run_as is not None:
        preload_helpers()
    try:
        param_policy(cfg).check(cfg.path)
    except ValueError as exc:
        raise config.ConfigError(str(exc)) from None
    logging.basicConfig(level=settings.logging_level, stream=sys.stderr,
                        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    if cfg.wsgi:
        from fcgi_handlers.wsgi import AppSpecError, check_app_spec, make_wsgi_app

        try:
            check_app_spec(cfg.wsgi, cfg.path)
        except AppSpecError as exc:
            raise config.ConfigError(str(exc)) from None
        return Arbiter(settings, lambda: make_wsgi_app(cfg)).run() or 0
    return Arbiter(settings, lambda: make_app(cfg)).run() or 0


def _settings(cfg: config.Config, run_as: Optional[RunAs], owner: Optional[int], group: Optional[int]) -> Settings:
    from fcgi_handlers.server.settings import Settings

    return Settings(
        bind=cfg.bind, workers=cfg.workers, threads=cfg.threads, socket_mode=cfg.socket_mode,
        socket_owner=owner, socket_group=group, run_as=run_as,
        graceful_timeout=cfg.graceful_timeout, max_params_size=cfg.max_params_size,
        stdin_spool_threshold=cfg.spool_threshold, max_requests=cfg.max_requests,
        log_level="debug" if cfg.debug else "info",
        status_path=cfg.status_path or "", slowlog_timeout=cfg.slowlog_timeout, slowlog=cfg.slowlog or "",
        request_timeout=cfg.request_timeout, access_log=cfg.access_log or "", allowed_clients=cfg.allowed_clients,
    )


def _apache_config(args: argparse.Namespace) -> int:
    from fcgi_handlers.apache import include_snippet

    snippet = include_snippet(args.bind, location=args.location, handler=args.handler, directory=args.directory,
                              pool_max=args.pool_max, auth=args.auth_bind, authen_handler=args.authen_handler,
                              debug=args.debug)
    sys.stdout.write(snippet)
    return 0


def _convert(args: argparse.Namespace) -> int:
    """`convert`: 0 when every mod_python directive converted, 1 otherwise (each named by file:line), 2 for usage."""
    from pathlib import Path

    from fcgi_handlers.apache.convert import convert
    from fcgi_handlers.apache.convert_output import problems, write
    from fcgi_handlers.apache.reader import ReadError

    source = Path(args.server_config)
    backend: Backend = args.bind   # argparse applies `type=` to the default too
    auth: Optional[Backend] = args.auth_bind
    out = Path(args.out) if args.out else Path("fcgi-handlers-converted")
    if not args.check:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise config.ConfigError(f"--out {out} exists and is not an empty directory")
        if out.resolve() == source.parent.resolve():
            raise config.ConfigError("--out is the configuration's own directory; the conversion never "
                                     "writes in place")
    try:
        conversion = convert(source, backend, auth)
    except ReadError as exc:
        print(f"fcgi-handlers convert: {exc}", file=sys.stderr)
        return 1
    found = problems(conversion)
    for line in found:
        print(line)
    if not args.check:
        try:
            written = write(conversion, out)
        except OSError as exc:
            raise config.ConfigError(f"--out: cannot write {exc.filename or out}: {exc.strerror or exc}") from None
        print(f"wrote {len(written)} files to {out}: converted files, fcgi-handlers.toml, report.md "
              f"({len(conversion.findings)} mod_python directives, {len(found)} not converted)")
    elif not found:
        print(f"{source}: {len(conversion.findings)} mod_python directives, all convert")
    return 1 if found else 0


def _demo(args: argparse.Namespace) -> int:
    from fcgi_handlers.apache.demo import run_demo

    return run_demo(port=args.port, daemon_port=args.daemon_port, handlers=args.handlers)


def _conformance(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fcgi_handlers.conformance import run

    docs = Path(args.docs) if args.docs else None
    return run(Path(args.out), docs=docs, names=args.scenario, areas=args.area, keep=args.keep)


def _ping(args: argparse.Namespace) -> int:
    from fcgi_handlers.client import get_values

    try:
        values = get_values(args.address, [b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS"],
                            timeout=args.timeout)
    except (OSError, ValueError) as exc:
        print(f"ping {args.address}: no FastCGI answer: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"ping {args.address}: ok " + " ".join(f"{k.decode()}={v.decode()}" for k, v in values.items()))
    return 0


def subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of one subcommand of `parser` (argparse keeps them in its private subparsers action)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise KeyError(name)


def _status(args: argparse.Namespace) -> int:
    """The status page straight from the daemon over FastCGI, without Apache (as `cgi-fcgi` is used with php-fpm)."""
    from fcgi_handlers.client import fcgi_request

    query = "&".join(name for name in ("json", "openmetrics", "full") if getattr(args, name))
    uri = args.path + (f"?{query}" if query else "")
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SCRIPT_NAME": args.path, "QUERY_STRING": query}
    try:
        result = fcgi_request(args.address, params, timeout=args.timeout)
    except (OSError, ValueError) as exc:
        print(f"status {args.address}: no FastCGI answer: {exc}", file=sys.stderr)
        return 1
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    if not head.startswith(b"Status: 200"):
        first = head.split(b"\r\n", 1)[0].decode("latin-1")
        print(f"status {args.address}: {args.path} answered {first!r}: is the daemon run with --status-path "
              f"{args.path}?", file=sys.stderr)
        return 1
    sys.stdout.write(body.decode("utf-8", "replace"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fcgi-handlers", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"fcgi-handlers {__version__}, {build.description()}, Python {sys.version.split()[0]}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the FastCGI daemon")
    config.add_arguments(serve)
    serve.set_defaults(func=_serve)

    snippet = commands.add_parser("apache-config", help="print an Apache snippet to Include")
    snippet.add_argument("--bind", type=checked(_backend, "address"), default="127.0.0.1:9000", metavar="ADDR",
                         help="the daemon's address (HOST:PORT or unix:PATH)")
    snippet.add_argument("--location", type=checked(_url_path, "location"), default="/app/", metavar="PATH",
                         help="URL prefix of the ProxyPass example (starts with /)")
    snippet.add_argument("--handler", type=checked(_nonempty, "handler"), default="hello", metavar="SPEC",
                         help="PythonHandler of the examples")
    snippet.add_argument("--directory", type=checked(_directory_path, "directory"), default="/var/www/python",
                         metavar="DIR", help="directory of the SetHandler example (absolute)")
    snippet.add_argument("--pool-max", type=checked(_positive_int, "number"), default=25, metavar="N",
                         help="kept connections per Apache child")
    snippet.add_argument("--auth-bind", type=checked(_tcp_backend, "address"), default=None, metavar="HOST:PORT",
                         help="the daemon's TCP address for mod_authnz_fcgi: adds an example with the auth phases "
                              "inside Apache (serve with a second --bind for it when --bind is a unix socket)")
    snippet.add_argument("--authen-handler", type=checked(_nonempty, "handler"), default="hello::authenhandler",
                         metavar="SPEC", help="PythonAuthenHandler of the auth example")
    snippet.add_argument("--debug", action="store_true",
                         help="PythonDebug On: tracebacks go to the client (development only; default Off)")
    snippet.set_defaults(func=_apache_config)

    converter = commands.add_parser("convert", help="convert a whole mod_python Apache configuration (every "
                                    "included file, .htaccess files) to send its requests to the daemon")
    converter.add_argument("server_config", type=checked(_file, "file"), metavar="SERVER_CONFIG",
                           help="Apache's main file (apache2.conf)")
    converter.add_argument("--bind", type=checked(_backend, "address"), default="127.0.0.1:9000", metavar="ADDR",
                           help="the daemon's address (HOST:PORT or unix:PATH)")
    converter.add_argument("--auth-bind", type=checked(_tcp_backend, "address"), default=None, metavar="HOST:PORT",
                           help="the daemon's TCP address for mod_authnz_fcgi (auth handlers; needed when --bind "
                                "is a unix socket)")
    converter.add_argument("--out", default=None, metavar="DIR",
                           help="where to write (a new directory; default ./fcgi-handlers-converted)")
    converter.add_argument("--check", action="store_true",
                           help="write nothing; exit 0 only when every mod_python directive converts")
    converter.set_defaults(func=_convert)

    demo = commands.add_parser("demo", help="serve the example handlers through a private Apache on loopback")
    demo.add_argument("--port", type=checked(_port, "port"), default=8080, help="Apache's port on 127.0.0.1")
    demo.add_argument("--daemon-port", type=checked(_port, "port"), default=9000,
                      help="the daemon's port on 127.0.0.1")
    demo.add_argument("--handlers", type=checked(_directory, "directory"), default=None, metavar="DIR",
                      help="handler directory (default: the bundled examples)")
    demo.set_defaults(func=_demo)

    conformance = commands.add_parser("conformance", help="answer every scenario by real mod_python and by the "
                                      "daemon, compare, write the report")
    conformance.add_argument("--out", default="conformance-report", help="report directory (report.md, report.html)")
    conformance.add_argument("--docs", nargs="?", const="docs/conformance.md", default=None, metavar="PATH",
                             help="also regenerate the committed summary (default docs/conformance.md)")
    conformance.add_argument("--scenario", type=checked(_scenario_name, "scenario"), action="append", default=[],
                             metavar="NAME", help="run only this one")
    conformance.add_argument("--area", type=checked(_area, "area"), action="append", default=[],
                             help="run only this area's scenarios")
    conformance.add_argument("--keep", action="store_true", help="keep the work directory (handlers, logs)")
    conformance.set_defaults(func=_conformance)

    ping = commands.add_parser("ping", help="ask a daemon for FCGI_GET_VALUES (a healthcheck)")
    ping.add_argument("address", type=checked(_address, "address"), nargs="?", default="127.0.0.1:9000",
                      help="HOST:PORT or unix:PATH")
    ping.add_argument("--timeout", type=checked(_positive_float, "seconds"), default=5.0, metavar="SECS",
                      help="how long to wait for the answer")
    ping.add_argument("-q", "--quiet", action="store_true")
    ping.set_defaults(func=_ping)

    status = commands.add_parser("status", help="print the daemon's status page, asked over FastCGI (no Apache)")
    status.add_argument("address", type=checked(_address, "address"), nargs="?", default="127.0.0.1:9000",
                        help="HOST:PORT or unix:PATH")
    status.add_argument("--path", type=checked(_url_path, "path"), default="/fh-status",
                        help="the daemon's --status-path")
    status.add_argument("--json", action="store_true", help="JSON instead of plain text")
    status.add_argument("--openmetrics", action="store_true", help="Prometheus/OpenMetrics text")
    status.add_argument("--full", action="store_true", help="one row per worker and per request in flight")
    status.add_argument("--timeout", type=checked(_positive_float, "seconds"), default=5.0, metavar="SECS",
                        help="how long to wait for the answer")
    status.set_defaults(func=_status)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the subcommand's parser, so the line names the subcommand
            subcommand(parser, args.command).error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:  # a usage error (already printed, one line), --help or --version
        return exc.code if isinstance(exc.code, int) else 2
    try:
        result: int = args.func(args)
    except config.ConfigError as exc:
        print(f"fcgi-handlers {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
