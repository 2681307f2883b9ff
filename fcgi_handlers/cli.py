"""The `fcgi-handlers` command: serve, apache-config, convert, demo, ping, conformance.

Each subcommand is a thin function over a library call, so the tests drive the same code paths as a user's shell.
Exit codes: 0 success, 1 failure (a ping that got no answer), 2 bad usage or configuration (the message says which
setting and why).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

from fcgi_handlers import __version__, build, config


def _serve(args: argparse.Namespace) -> int:
    from fcgi_handlers.app import make_app
    from fcgi_handlers.server import Arbiter
    from fcgi_handlers.server.settings import Settings

    cfg = config.from_namespace(args)
    settings = Settings(
        bind=cfg.bind, workers=cfg.workers, threads=cfg.threads, socket_mode=cfg.socket_mode,
        graceful_timeout=cfg.graceful_timeout, max_params_size=cfg.max_params_size,
        stdin_spool_threshold=cfg.spool_threshold, max_requests=cfg.max_requests,
        log_level="debug" if cfg.debug else "info",
    )
    logging.basicConfig(level=settings.logging_level, stream=sys.stderr,
                        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    return Arbiter(settings, lambda: make_app(cfg)).run() or 0


def _apache_config(args: argparse.Namespace) -> int:
    from fcgi_handlers.apache import Backend, include_snippet

    auth = Backend.from_bind(args.auth_bind) if args.auth_bind else None
    if auth is not None and auth.socket is not None:
        raise config.ConfigError(f"--auth-bind {args.auth_bind}: mod_authnz_fcgi reaches the daemon over TCP only")
    snippet = include_snippet(Backend.from_bind(args.bind), location=args.location, handler=args.handler,
                              directory=args.directory, pool_max=args.pool_max, auth=auth,
                              authen_handler=args.authen_handler)
    sys.stdout.write(snippet)
    return 0


def _convert(args: argparse.Namespace) -> int:
    """`convert`: 0 when every mod_python directive converted, 1 otherwise (each named by file:line), 2 for usage."""
    from pathlib import Path

    from fcgi_handlers.apache import Backend
    from fcgi_handlers.apache.convert import convert
    from fcgi_handlers.apache.convert_output import problems, write
    from fcgi_handlers.apache.reader import ReadError

    source = Path(args.server_config)
    if not source.is_file():
        raise config.ConfigError(f"convert: {source} is not a file")
    try:
        backend = Backend.from_bind(args.bind)
        auth = Backend.from_bind(args.auth_bind) if args.auth_bind else None
    except ValueError as exc:
        raise config.ConfigError(f"convert: {exc}") from None
    if auth is not None and auth.socket is not None:
        raise config.ConfigError(f"convert: --auth-bind {args.auth_bind}: mod_authnz_fcgi reaches the daemon over "
                                 "TCP only: give HOST:PORT")
    out = Path(args.out) if args.out else Path("fcgi-handlers-converted")
    if not args.check:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise config.ConfigError(f"convert: --out {out} exists and is not an empty directory")
        if out.resolve() == source.parent.resolve():
            raise config.ConfigError("convert: --out is the configuration's own directory; the conversion never "
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
            raise config.ConfigError(f"convert: cannot write {exc.filename or out}: {exc.strerror or exc}") from None
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fcgi-handlers", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"fcgi-handlers {__version__}, {build.description()}, Python {sys.version.split()[0]}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the FastCGI daemon")
    config.add_arguments(serve)
    serve.set_defaults(func=_serve)

    snippet = commands.add_parser("apache-config", help="print an Apache snippet to Include")
    snippet.add_argument("--bind", default="127.0.0.1:9000", help="the daemon's address (HOST:PORT or unix:PATH)")
    snippet.add_argument("--location", default="/app/", help="URL prefix of the ProxyPass example")
    snippet.add_argument("--handler", default="hello", help="PythonHandler of the examples")
    snippet.add_argument("--directory", default="/var/www/python", help="directory of the SetHandler example")
    snippet.add_argument("--pool-max", type=int, default=25, help="kept connections per Apache child")
    snippet.add_argument("--auth-bind", default=None, metavar="HOST:PORT",
                         help="the daemon's TCP address for mod_authnz_fcgi: adds an example with the auth phases "
                              "inside Apache (serve with a second --bind for it when --bind is a unix socket)")
    snippet.add_argument("--authen-handler", default="hello::authenhandler",
                         help="PythonAuthenHandler of the auth example")
    snippet.set_defaults(func=_apache_config)

    converter = commands.add_parser("convert", help="convert a whole mod_python Apache configuration (every "
                                    "included file, .htaccess files) to send its requests to the daemon")
    converter.add_argument("server_config", metavar="SERVER_CONFIG", help="Apache's main file (apache2.conf)")
    converter.add_argument("--bind", default="127.0.0.1:9000", metavar="ADDR",
                           help="the daemon's address (HOST:PORT or unix:PATH)")
    converter.add_argument("--auth-bind", default=None, metavar="HOST:PORT",
                           help="the daemon's TCP address for mod_authnz_fcgi (auth handlers; needed when --bind "
                                "is a unix socket)")
    converter.add_argument("--out", default=None, metavar="DIR",
                           help="where to write (a new directory; default ./fcgi-handlers-converted)")
    converter.add_argument("--check", action="store_true",
                           help="write nothing; exit 0 only when every mod_python directive converts")
    converter.set_defaults(func=_convert)

    demo = commands.add_parser("demo", help="serve the example handlers through a private Apache on loopback")
    demo.add_argument("--port", type=int, default=8080, help="Apache's port on 127.0.0.1")
    demo.add_argument("--daemon-port", type=int, default=9000, help="the daemon's port on 127.0.0.1")
    demo.add_argument("--handlers", default=None, help="handler directory (default: the bundled examples)")
    demo.set_defaults(func=_demo)

    conformance = commands.add_parser("conformance", help="answer every scenario by real mod_python and by the "
                                      "daemon, compare, write the report")
    conformance.add_argument("--out", default="conformance-report", help="report directory (report.md, report.html)")
    conformance.add_argument("--docs", nargs="?", const="docs/conformance.md", default=None, metavar="PATH",
                             help="also regenerate the committed summary (default docs/conformance.md)")
    conformance.add_argument("--scenario", action="append", default=[], metavar="NAME", help="run only this one")
    conformance.add_argument("--area", action="append", default=[], help="run only this area's scenarios")
    conformance.add_argument("--keep", action="store_true", help="keep the work directory (handlers, logs)")
    conformance.set_defaults(func=_conformance)

    ping = commands.add_parser("ping", help="ask a daemon for FCGI_GET_VALUES (a healthcheck)")
    ping.add_argument("address", nargs="?", default="127.0.0.1:9000", help="HOST:PORT or unix:PATH")
    ping.add_argument("--timeout", type=float, default=5.0)
    ping.add_argument("-q", "--quiet", action="store_true")
    ping.set_defaults(func=_ping)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except config.ConfigError as exc:
        print(f"fcgi-handlers: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
