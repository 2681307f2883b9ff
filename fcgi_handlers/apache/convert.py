"""Converting a whole mod_python installation: every file Apache reads, rewritten to send the same requests to the
daemon (`fcgi-handlers convert`).

Rule: the configuration is read as Apache reads it (`reader`), and each mod_python directive is converted where it
stands, by the one-block translation (`translate`), so a converted tree differs from the original only in the
lines that held mod_python:
- a `<Location>`, `<Directory>`, `<Files>` (or regex form) section holding mod_python directives is replaced by its
  translation, with true `<IfModule>`/`<IfDefine>` sections and included files inside it inlined, false ones left
  out (Apache merges an `<IfModule>`'s content into the enclosing section; mod_python merges per section);
- a server or virtual-host level directive becomes the server-level `SetEnv` lines it implies (mod_env and
  mod_python both merge the main server's settings into every virtual host), `PythonImport` becomes an `imports`
  entry of the daemon's settings;
- `<IfModule mod_python.c>` (or `python_module`) becomes `<IfModule proxy_fcgi_module>`, true exactly where the
  original was once mod_python is replaced;
- `LoadModule python_module` is disabled, and in its place the modules the conversion needs are loaded (each only if
  not loaded already), with the pooled proxy worker and, when a block uses it, mod_authnz_fcgi's providers;
- `.htaccess` files that Apache reads (`reader.access_files`) are converted as `<Directory>` blocks.
Phase handlers on content Apache serves itself (no `SetHandler mod_python` in the block or a section covering it)
run only where Apache can call the daemon: PythonAuthenHandler/PythonAuthzHandler through mod_authnz_fcgi (TCP),
PythonAccessHandler first in its authentication call (so beside a PythonAuthenHandler), the other phases nowhere; each
such directive is reported as not converted with the reason, never dropped silently.
Nothing here writes files: `Conversion` holds the edits and findings; `convert_report` renders and writes them.
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional

from ..dispatch.phases import PHASES
from .config import (Backend, UnsupportedDirective, auth_provider_lines, guarded_module_lines, setenvif_line,
                     worker_block)
from .paths import MODULES_DIR
from .reader import (ALWAYS_TRUE, CONDITIONS, AccessFile, ConfigFile, Directive, Node, ReadError, Section, State,
                     access_files, directives_in, evaluate, flatten, parse_file, read_config, walk)
from .servers import BLOCK_KINDS, MOD_PYTHON_HANDLERS, ServerMap, server_name
from .translate import (Context, mod_python_block_to_daemon, mod_python_to_daemon, split_arguments,
                        unsupported_reason)

PYTHON_MODULE_NAMES = ("python_module", "mod_python.c")
# Phases that need the request to reach the daemon; the auth pair can be called by mod_authnz_fcgi instead.
_AUTH_PHASES = ("pythonauthenhandler", "pythonauthzhandler")
_CONTENT_BOUND = tuple(p.directive.lower() for p in PHASES if p.directive.lower() not in _AUTH_PHASES
                       and p.directive not in ("PythonHandler", "PythonAccessHandler"))
_MARK = "# fcgi-handlers convert:"
_FILTER_DIRECTIVES = ("pythonoutputfilter", "pythoninputfilter")
_FILTER_USERS = ("addoutputfilter", "setoutputfilter", "addinputfilter", "setinputfilter", "addoutputfilterbytype")


@dataclass(frozen=True)
class Finding:
    """One mod_python directive found: where, as written, what it became, or why it was not converted."""

    where: str
    directive: str
    became: str
    converted: bool = True
    differs: bool = False     # converted, and the converted Apache answers differently from mod_python


@dataclass(frozen=True)
class Edit:
    """Physical lines `start`..`end` (1-based, inclusive) of one file replaced by `lines`."""

    start: int
    end: int
    lines: tuple[str, ...]


@dataclass
class Conversion:
    """Everything a conversion found and changed; nothing is written yet."""

    main: ConfigFile
    backend: Backend
    auth: Optional[Backend]
    files: dict[Path, ConfigFile] = field(default_factory=dict)
    edits: dict[Path, list[Edit]] = field(default_factory=dict)
    replaced: dict[Path, str] = field(default_factory=dict)        # whole new texts (.htaccess files)
    findings: list[Finding] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)                 # the daemon's --path
    imports: list[str] = field(default_factory=list)               # the daemon's --import
    uses_auth: bool = False

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.converted]

    def changed_text(self, path: Path) -> str:
        """A changed file's new text."""
        if path in self.replaced:
            return self.replaced[path]
        lines = list(self.files[path].lines)
        for edit in sorted(self.edits[path], key=lambda e: e.start, reverse=True):
            lines[edit.start - 1:edit.end] = edit.lines
        return "\n".join(lines) + "\n"

    def changed_files(self) -> list[Path]:
        return sorted({*self.edits, *self.replaced})


def is_python_directive(node: Node) -> bool:
    return isinstance(node, Directive) and (node.lowered.startswith("python") or (
        node.lowered in ("sethandler", "addhandler") and bool(node.args)
        and node.args[0].lower() in MOD_PYTHON_HANDLERS))


def convert(server_config: Path, backend: Backend, auth: Optional[Backend] = None,
            environment: Optional[Mapping[str, str]] = None) -> Conversion:
    """Read `server_config` and everything it includes, and convert every mod_python directive (see the module
    docstring). Raises reader.ReadError when Apache could not read the configuration either."""
    main, state = read_config(server_config, environment)
    if auth is not None and auth.socket is not None:
        raise ValueError("mod_authnz_fcgi reaches the daemon over TCP only: --auth-bind needs HOST:PORT")
    converter = _Converter(Conversion(main, backend, auth), state)
    converter.scope(main.nodes, converter.servers.main_server)
    names = [n.args[0] for n in walk(main.nodes) if isinstance(n, Directive) and n.lowered == "accessfilename"
             and n.args]
    for access in access_files(main, names[-1] if names else ".htaccess"):
        converter.access_file(access)
    converter.place_preamble()
    return converter.result


class _Converter:
    """One conversion's walk: it fills `result` with edits and findings, in Apache's reading order."""

    def __init__(self, result: Conversion, state: State) -> None:
        self.result, self.state = result, state
        self.python_load: Optional[Directive] = None
        self.result.files[result.main.path] = result.main
        for node in walk(result.main.nodes):
            if isinstance(node, Directive):
                for included in node.included:
                    self.result.files[included.path] = included
        self.servers = ServerMap(result.main.nodes)
        # The names PythonInputFilter/PythonOutputFilter register (the handler when no NAME is given).
        self.filters = {(n.args[1] if len(n.args) > 1 else n.args[0]).lower() for n in walk(result.main.nodes)
                        if isinstance(n, Directive) and n.lowered in _FILTER_DIRECTIVES and n.args}

    # -- where requests go to the daemon --

    def _static_under_proxypass(self, section: Section, server: Optional[str]) -> None:
        """A `<Location>` that gives its content another handler (`SetHandler None`) below a mod_python
        `<Location>`: that one becomes `ProxyPass`, which a nested SetHandler does not undo, so `ProxyPass "!"`
        goes beside the SetHandler."""
        setter = next((n for n in section.body if isinstance(n, Directive) and n.lowered == "sethandler"), None)
        if section.lowered != "location" or setter is None or not section.args:
            return
        if not self.servers.below_mod_python_location(section.args[0], server):
            return
        self._edit(setter, ['ProxyPass "!"', setter.text])
        self.result.findings.append(Finding(setter.where, setter.text, (
            'ProxyPass "!" added beside it: Apache serves this content itself, as the SetHandler asks (mod_python '
            "3.5 answers 404 here: below a mod_python <Location> it skips Apache's file lookup)"), differs=True))

    # -- server and virtual-host scope --

    def scope(self, nodes: list[Node], server: Optional[str]) -> None:
        """Convert the nodes of the server or a virtual host (`server`: its ServerName), following includes."""
        for node in nodes:
            if isinstance(node, Section):
                self._section(node, server)
            elif node.lowered in ("include", "includeoptional"):
                for included in node.included:
                    self.scope(included.nodes, server)
            elif node.lowered == "loadmodule" and node.args and node.args[0] == "python_module":
                if self.python_load is None:
                    self.python_load = node
                else:
                    self._edit(node, [f"{_MARK} {node.text} (mod_python is replaced by the daemon)"])
            elif is_python_directive(node):
                self._server_directive(node)
            elif self._uses_python_filter(node):
                self._fail(node, "names a filter a PythonInputFilter/PythonOutputFilter registered, which is not "
                                 "converted")

    def _section(self, node: Section, server: Optional[str]) -> None:
        if node.lowered in CONDITIONS or node.lowered in ALWAYS_TRUE:
            if node.lowered == "ifmodule" and node.args and node.args[0].lstrip("!") in PYTHON_MODULE_NAMES \
                    and "python_module" in self.state.modules:
                negation = "!" if node.args[0].startswith("!") else ""
                self._replace(node.source, node.line, node.line, [f"<IfModule {negation}proxy_fcgi_module>"])
            if node.active:
                self.scope(node.body, server)
        elif node.lowered == "virtualhost":
            self.scope(node.body, server_name(node.body) or server)
        elif node.lowered == "location" and not any(is_python_directive(n) for n in walk(node.body)):
            self._static_under_proxypass(node, server)
        elif any(is_python_directive(n) for n in walk(node.body)):
            if node.lowered in BLOCK_KINDS:
                self._block(node, server)
            else:
                for inner in directives_in(node.body):
                    if is_python_directive(inner):
                        self._fail(inner, f"mod_python directives inside <{node.name}> are not converted")

    def _server_directive(self, node: Directive) -> None:
        name = node.lowered
        if name == "pythonimport":
            if not node.args:
                self._fail(node, "PythonImport needs a module")
                return
            spec = " ".join(node.args)
            self.result.imports.append(spec)
            self._edit(node, [f"{_MARK} {node.text} (the daemon imports it at start: fcgi-handlers.toml)"])
            self.result.findings.append(Finding(node.where, node.text, f"imports = [{spec!r}] in fcgi-handlers.toml"))
            return
        reason = unsupported_reason(name)
        if reason is not None:
            self._fail(node, f"{node.name} {reason}")
            return
        if name in _AUTH_PHASES:
            self._fail(node, "at server level it cannot go through mod_authnz_fcgi, whose directives are per "
                             "directory: put it in the <Location>/<Directory> it guards")
            return
        if name == "pythonpath" and not self._path_entries(node):
            return
        try:
            lines = mod_python_to_daemon([node.text], self.result.backend, container="VirtualHost")
        except ValueError as exc:
            self._fail(node, str(exc))
            return
        # CGIPassAuth is a directory-level directive; the blocks that reach the daemon carry their own. Params are
        # set with SetEnvIfExpr, which at server level runs when the request is read: mod_authnz_fcgi's calls
        # then see them too (SetEnv runs after the auth phases), as mod_python's auth handlers see server options.
        lines = [_early(line) for line in lines if line != "CGIPassAuth On"]
        self._edit(node, [f"{_MARK} {node.text}", *lines])
        self.result.findings.append(Finding(node.where, node.text, "; ".join(lines) + " (server level)"))

    # -- sections and .htaccess files --

    def _block(self, section: Section, server: Optional[str]) -> None:
        body = flatten(section.body)
        found = [n for n in directives_in(section.body) if is_python_directive(n) or self._uses_python_filter(n)]
        keep, notes = self._screen(section, found, body, server)
        text = "\n".join([section.head, *_without(body, keep), f"</{section.name}>"])
        try:
            converted = mod_python_block_to_daemon(text, self.result.backend, auth=self._auth_target(),
                                                   define_providers=False, server_name=server)
        except (UnsupportedDirective, ValueError) as exc:
            failed = {f.where for f in self.result.failures}
            for directive in found:
                if directive.where not in failed:
                    self._fail(directive, f"the section at {section.where} cannot be converted: {exc}", edit=False)
            self._replace(section.source, section.line, section.end,
                          [f"{_MARK} {line}" for line in text.splitlines()])
            return
        self._record(converted, found, notes)
        if section.lowered == "directory" and section.args and "pythonpath" not in {n.lowered for n in found}:
            self._add_paths([section.args[0]])
        self._replace(section.source, section.line, section.end, converted.splitlines())

    def access_file(self, access: AccessFile) -> None:
        parsed = parse_file(access.path)
        evaluate(parsed.nodes, self.state)
        found = [n for n in directives_in(parsed.nodes) if is_python_directive(n) or self._uses_python_filter(n)]
        if not found:
            return
        directory = str(access.path.parent)
        section = Section("Directory", [directory], access.path, 1, len(parsed.lines), f"<Directory {directory}>")
        body = flatten(parsed.nodes)
        server = self.servers.server_of(directory)
        keep, notes = self._screen(section, found, body, server)
        lines = _without(body, keep)
        if "fileinfo" not in access.classes:
            for directive in found:
                self._fail(directive, f"the converted lines (SetEnv, SetHandler) need AllowOverride FileInfo in the "
                                      f"<Directory> at {access.directory.where}", edit=False)
            return
        try:
            converted = mod_python_to_daemon(lines, self.result.backend, container="Directory", route="sethandler",
                                             auth=self._auth_target(),
                                             context=Context(directory=directory, server_name=server))
        except (UnsupportedDirective, ValueError) as exc:
            for directive in found:
                self._fail(directive, f"{access.path} cannot be converted: {exc}", edit=False)
            return
        if "authconfig" not in access.classes:
            converted = [line for line in converted if line != "CGIPassAuth On"]
            notes.append(((), "Authorization is not passed to the daemon: CGIPassAuth needs AllowOverride "
                                 "AuthConfig"))
        text = "\n".join(converted)
        self._record(text, found, notes)
        self._add_paths([directory])
        self.result.files[access.path] = parsed
        self.result.replaced[access.path] = f"{_MARK} converted from mod_python\n{text}\n"

    def _screen(self, section: Section, found: list[Directive], body: list[str],
                server: Optional[str]) -> tuple[set[str], list[tuple[tuple[str, ...], str]]]:
        """The lines a block cannot carry (reported as not converted) and notes for the converted ones, each
        (the directives it is about, all when empty; text)."""
        keep: set[str] = set()
        notes: list[tuple[tuple[str, ...], str]] = []
        reaches = self.servers.reaches_mod_python(section, body, server)
        authenticates = any(d.lowered == "pythonauthenhandler" for d in found)
        for directive in found:
            unsupported = unsupported_reason(directive.lowered)
            reason = f"{directive.name} {unsupported}" if unsupported else None
            if self._uses_python_filter(directive):
                reason = "names a filter a PythonInputFilter/PythonOutputFilter registered, which is not converted"
            if reason is None and not reaches and directive.lowered == "pythonaccesshandler" and not (
                    authenticates and self._auth_target() is not None):
                reason = ("guards content Apache serves itself, where only mod_authnz_fcgi can call the daemon: it "
                          "has no access-checker hook, so the access phase runs in its authentication call, which "
                          "needs a PythonAuthenHandler in the block" + ("" if self._auth_target() else
                                                                         " and --auth-bind HOST:PORT"))
            if reason is None and not reaches and directive.lowered in _CONTENT_BOUND:
                reason = ("runs only for requests Apache sends to the daemon, and Apache serves this block's "
                          "content itself (no SetHandler mod_python); mod_python ran it for any content")
            if reason is None and not reaches and directive.lowered in _AUTH_PHASES and self._auth_target() is None:
                reason = ("guards content Apache serves itself, so it must run inside Apache through "
                          "mod_authnz_fcgi, which reaches the daemon over TCP only: give --auth-bind HOST:PORT")
            if reason is not None:
                keep.add(directive.text)
                self._fail(directive, reason, edit=False)
        if any(d.lowered in _AUTH_PHASES for d in found) and self._auth_target() is not None:
            notes.append((_AUTH_PHASES, "runs inside Apache's auth phases through mod_authnz_fcgi" +
                          ("" if reaches else "; the content stays Apache's")))
        elif any(d.lowered in _AUTH_PHASES for d in found) and reaches:
            notes.append((_AUTH_PHASES, "runs in the daemon before the content handler (mod_authnz_fcgi needs a TCP "
                                "address: --auth-bind)"))
        if authenticates and self._auth_target() is not None:
            notes.append((("pythonaccesshandler",), "runs first in mod_authnz_fcgi's authentication call (it has no "
                                                    "access-checker hook)"))
        return keep, notes

    def _record(self, converted: str, found: list[Directive], notes: list[tuple[tuple[str, ...], str]]) -> None:
        if "AuthnzFcgi" in converted:
            self.result.uses_auth = True
        lines = [line.strip() for line in converted.splitlines()]
        failed = {f.where for f in self.result.failures}
        for directive in found:
            if directive.where in failed or (directive.lowered == "pythonpath" and not self._path_entries(directive)):
                continue
            extra = [text for about, text in notes if not about or directive.lowered in about]
            self.result.findings.append(Finding(directive.where, directive.text,
                                                "; ".join([_became(directive, lines), *extra])))

    def _path_entries(self, node: Directive) -> bool:
        """Add a PythonPath's directories to the daemon's path; False (and reported) when it cannot be read."""
        try:
            self._add_paths(python_path_dirs(node.args[0] if node.args else "", node.where))
        except ReadError as exc:
            self._fail(node, str(exc), edit=node.source in self.result.files)
            return False
        return True

    def _uses_python_filter(self, node: Node) -> bool:
        return isinstance(node, Directive) and node.lowered in _FILTER_USERS and any(
            name.lower() in self.filters for arg in node.args for name in arg.split(";"))

    def _auth_target(self) -> Optional[Backend]:
        if self.result.auth is not None:
            return self.result.auth
        return self.result.backend if self.result.backend.socket is None else None

    # -- output bookkeeping --

    def _fail(self, node: Directive, reason: str, *, edit: bool = True) -> None:
        self.result.findings.append(Finding(node.where, node.text, reason, converted=False))
        if edit:
            self._edit(node, [f"{_MARK} {node.text} (not converted: see report.md)"])

    def _edit(self, node: Directive, lines: list[str]) -> None:
        self._replace(node.source, node.line, node.end, lines)

    def _replace(self, path: Path, start: int, end: int, lines: Iterable[str]) -> None:
        edits = self.result.edits.setdefault(path, [])
        if any(e.start <= start and end <= e.end for e in edits):
            return   # inside a range replaced already
        edits[:] = [e for e in edits if not (start <= e.start and e.end <= end)]
        original = self.result.files[path].lines[start - 1]
        indent = original[:len(original) - len(original.lstrip())]
        edits.append(Edit(start, end, tuple(indent + line if line else line for line in lines)))

    def _add_paths(self, directories: Iterable[str]) -> None:
        for directory in directories:
            if directory not in self.result.paths:
                self.result.paths.append(directory)

    def place_preamble(self) -> None:
        """Disable mod_python's LoadModule and load, in its place, what the converted blocks need."""
        if not self.result.findings:
            return
        modules = ["proxy", "proxy_fcgi", "env", "setenvif"] + (["authnz_fcgi"] if self.result.uses_auth else [])
        load = self.python_load
        modules_dir = os.path.dirname(load.args[1]) if load is not None and len(load.args) > 1 else MODULES_DIR
        if modules_dir and not os.path.isabs(modules_dir):
            modules_dir = str(self.state.server_root / modules_dir)
        lines = [f"{_MARK} mod_python is replaced by the fcgi_handlers daemon (see fcgi-handlers.toml)",
                 *guarded_module_lines(modules, modules_dir), *worker_block(self.result.backend).splitlines()]
        target = self._auth_target()
        if self.result.uses_auth and target is not None:   # a block uses mod_authnz_fcgi only with a TCP target
            lines += auth_provider_lines(target)
        if load is not None:
            self._edit(load, [f"{_MARK} {load.text}", *lines])
        else:
            self.result.edits.setdefault(self.result.main.path, []).append(Edit(1, 0, tuple(lines)))


def _early(line: str) -> str:
    """`SetEnv NAME "value"` as the SetEnvIfExpr line that sets it before the auth phases; other lines as they are."""
    words = split_arguments(line)
    if len(words) == 3 and words[0] == "SetEnv":
        return setenvif_line(words[1], words[2])
    return line


def _without(body: list[str], dropped: set[str]) -> list[str]:
    """Body lines with the dropped directives turned into comments that point at the report."""
    return [f"# {line.strip()} (not converted: see report.md)" if line.strip() in dropped else line for line in body]


def _became(directive: Directive, lines: list[str]) -> str:
    """The converted line that carries a directive."""
    if directive.lowered in ("sethandler", "addhandler"):
        hit = next((line for line in lines if line.startswith("ProxyPass ") or '"proxy:' in line), None)
    else:
        key = directive.name.lower() + (("." + directive.args[0].lower()) if directive.lowered == "pythonoption"
                                        and directive.args else "")
        carrying = [line for line in lines if key in line.lower()]
        hit = next((line for line in carrying if directive.args and directive.args[0] in line),
                   carrying[0] if carrying else None)
    return hit or "merged into the block's params"


def python_path_dirs(expression: str, where: str = "") -> list[str]:
    """The string literals of a PythonPath expression (`['/a', '/b'] + sys.path`): the directories the daemon must
    be allowed to import from. Never evaluated."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ReadError(f"{where}: PythonPath is not a Python expression: {expression!r}") from None
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
