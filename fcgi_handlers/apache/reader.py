"""Reading a whole Apache configuration as Apache reads it: files, sections, includes and conditions.

Rule: the reader keeps Apache's own order and nothing more. A file becomes a list of nodes (one per logical line:
a trailing backslash continues a line; comments and blank lines are not nodes), each with its file and first and
last physical line, so a converter can rewrite a line range and a report can name `file:line`. `Include` and
`IncludeOptional` are followed where Apache meets them: a path relative to the `ServerRoot` seen so far, shell
wildcards in any component (sorted, as Apache sorts them), a directory meaning every file under it. `<IfModule>`,
`<IfDefine>` are evaluated at that point against the modules loaded (`LoadModule`) and the names defined (`Define`)
so far, as Apache does; a section whose condition is false is kept, marked inactive, and nothing inside it is
followed. `${NAME}` is replaced from `Define`s, then from the environment (Debian's `envvars` file beside the main
file is read too, as `apache2ctl` does). `<IfVersion>`, `<IfFile>`, `<IfDirective>` and `<IfSection>` are taken as
true: a converted installation runs the same Apache.

`.htaccess` files are found by `access_files`: under every `<Directory>` whose `AllowOverride` admits mod_python's
directives. mod_python declares all of them `OR_ALL` (its command table), so any override class admits them, not
only FileInfo; `AllowOverride None` (Apache's default since 2.3.9) admits none.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Optional, Union

from .translate import split_arguments

# Modules compiled into Debian's apache2 (`apache2 -l`): always loaded, so `<IfModule>` on them is true.
BUILTIN_MODULES = ("core.c", "mod_so.c", "mod_watchdog.c", "http_core.c", "mod_log_config.c", "mod_logio.c",
                   "mod_version.c", "mod_unixd.c")
CONDITIONS = ("ifmodule", "ifdefine")
ALWAYS_TRUE = ("ifversion", "iffile", "ifdirective", "ifsection")
OVERRIDE_CLASSES = ("authconfig", "fileinfo", "indexes", "limit", "options")
MAX_INCLUDED_FILES = 10_000       # Apache has no limit; a glob matching more is almost surely a mistake
MAX_SCANNED_DIRECTORIES = 10_000  # bound on the walk that looks for .htaccess files
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ReadError(ValueError):
    """The configuration cannot be read as Apache would (a missing Include, an unbalanced section)."""


class _Located:
    """What a directive and a section both answer: where it stands (`file:line`) and its name in lower case."""

    name: str
    source: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def lowered(self) -> str:
        return self.name.lower()


@dataclass
class Directive(_Located):
    """One logical line: `name args...`, from `source` lines `line`..`end` (1-based)."""

    name: str
    args: list[str]
    source: Path
    line: int
    end: int
    text: str
    included: list[ConfigFile] = field(default_factory=list)   # Include/IncludeOptional: the files read


@dataclass
class Section(_Located):
    """`<Name args>` ... `</Name>` from `source` lines `line`..`end`; `active` is False for a false condition."""

    name: str
    args: list[str]
    source: Path
    line: int
    end: int
    head: str
    body: list[Node] = field(default_factory=list)
    active: bool = True


Node = Union[Directive, Section]


@dataclass
class ConfigFile:
    """One file as read: its path, its physical lines, its nodes."""

    path: Path
    lines: list[str]
    nodes: list[Node]


@dataclass
class State:
    """What Apache knows at a point of reading: its ServerRoot, loaded modules and defined names."""

    server_root: Path
    environment: Mapping[str, str]
    modules: set[str] = field(default_factory=lambda: set(BUILTIN_MODULES))
    defines: dict[str, str] = field(default_factory=dict)
    files_read: int = 0

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            found = self.defines.get(name, self.environment.get(name))
            return match.group(0) if found is None else found
        return _VARIABLE.sub(value, text)


def parse_file(path: Path) -> ConfigFile:
    """The nodes of one file, sections nested; raises ReadError for unbalanced sections or bad quoting."""
    try:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as exc:
        raise ReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    root: list[Node] = []
    stack: list[Section] = []
    for first, last, text in _logical_lines(lines):
        body = stack[-1].body if stack else root
        if text.startswith("</"):
            name = text[2:].rstrip(">").strip()
            if not stack or stack[-1].lowered != name.lower():
                raise ReadError(f"{path}:{first}: </{name}> without a matching opening section")
            stack.pop().end = last
        elif text.startswith("<"):
            if not text.endswith(">"):
                raise ReadError(f"{path}:{first}: section line does not end with '>'")
            words = _split(text[1:-1], path, first)
            section = Section(words[0], words[1:], path, first, last, text)
            body.append(section)
            stack.append(section)
        else:
            words = _split(text, path, first)
            body.append(Directive(words[0], words[1:], path, first, last, text))
    if stack:
        raise ReadError(f"{stack[-1].where}: <{stack[-1].name}> is never closed")
    return ConfigFile(path, lines, root)


def _split(text: str, path: Path, line: int) -> list[str]:
    try:
        words = split_arguments(text)
    except ValueError as exc:
        raise ReadError(f"{path}:{line}: {exc}") from None
    if not words:
        raise ReadError(f"{path}:{line}: empty directive")
    return words


def _logical_lines(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """(first line, last line, text) per logical line, comments and blank lines left out."""
    pending, start = "", 0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not pending:
            start = number
            if not text or text.startswith("#"):
                continue
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        text, pending = (pending + text).strip(), ""
        if text:
            yield start, number, text
    if pending.strip():
        yield start, len(lines), pending.strip()


def read_config(path: Path, environment: Optional[Mapping[str, str]] = None) -> tuple[ConfigFile, State]:
    """Read the main file and everything it includes, evaluating conditions in order; the final state is returned
    with it (the modules and names the whole configuration loads and defines)."""
    env = dict(environment if environment is not None else os.environ)
    env.update({k: v for k, v in debian_envvars(path.parent / "envvars").items() if k not in env})
    state = State(server_root=path.parent.resolve(), environment=env)
    main = parse_file(path)
    evaluate(main.nodes, state)
    return main, state


def debian_envvars(path: Path) -> dict[str, str]:
    """`export NAME=value` lines of Debian's envvars file (what apache2ctl sources), `$NAME` expanded among them."""
    found: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        match = re.match(r"^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match is None or "$(" in match.group(2) or "`" in match.group(2):
            continue
        value = match.group(2).strip().strip("'\"")
        # As the shell expands it: an unset variable is empty (Debian's $SUFFIX for the default instance).
        found[match.group(1)] = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                                       lambda m: found.get(m.group(1), os.environ.get(m.group(1), "")), value)
    return found


def evaluate(nodes: list[Node], state: State) -> None:
    """Walk nodes in Apache's order: follow includes, record modules and defines, mark false conditions."""
    for node in nodes:
        node.args = [state.expand(arg) for arg in node.args]
        if isinstance(node, Section):
            if node.lowered in CONDITIONS:
                node.active = condition_holds(node, state)
            if node.active:
                evaluate(node.body, state)
            continue
        name = node.lowered
        if name == "serverroot" and node.args:
            state.server_root = Path(node.args[0])
        elif name == "loadmodule" and len(node.args) == 2:
            state.modules.update(module_names(node.args[0], node.args[1]))
        elif name == "define" and node.args:
            state.defines[node.args[0]] = node.args[1] if len(node.args) > 1 else ""
        elif name == "undefine" and node.args:
            state.defines.pop(node.args[0], None)
        elif name in ("include", "includeoptional") and node.args:
            node.included = _include(node, state)


def module_names(identifier: str, path: str) -> set[str]:
    """The names `<IfModule>` knows a module by: `python_module` and `mod_python.c` (its source file name)."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    return {identifier, stem + ".c"}


def condition_holds(section: Section, state: State) -> bool:
    """`<IfModule [!]name>` / `<IfDefine [!]name>` as Apache evaluates it at this point of reading."""
    if not section.args:
        return False
    argument = section.args[0]
    negated = argument.startswith("!")
    name = argument[1:] if negated else argument
    if section.lowered == "ifmodule":
        held = name in state.modules
    else:
        held = name in state.defines
    return held != negated


def _include(node: Directive, state: State) -> list[ConfigFile]:
    optional = node.lowered == "includeoptional"
    pattern = node.args[0]
    if not os.path.isabs(pattern):
        pattern = str(state.server_root / pattern)
    if glob.has_magic(pattern):
        matches = sorted(glob.glob(pattern))
        if not matches and not optional:
            raise ReadError(f"{node.where}: Include: no file matches {pattern}")
    elif os.path.exists(pattern):
        matches = [pattern]
    elif optional:
        matches = []
    else:
        raise ReadError(f"{node.where}: Include: {pattern} does not exist")
    files: list[ConfigFile] = []
    for match in matches:
        for path in _files_under(Path(match)):
            state.files_read += 1
            if state.files_read > MAX_INCLUDED_FILES:
                raise ReadError(f"{node.where}: more than {MAX_INCLUDED_FILES} included files")
            included = parse_file(path)
            evaluate(included.nodes, state)
            files.append(included)
    return files


def _files_under(path: Path) -> list[Path]:
    """A file, or every file under a directory in sorted order (Apache's directory Include)."""
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for entry in sorted(path.iterdir()):
        found += _files_under(entry) if entry.is_dir() else [entry]
    return found


def walk(nodes: list[Node], *, active_only: bool = True) -> Iterator[Node]:
    """Every node in reading order, into sections and included files (skipping inactive sections' bodies)."""
    for node in nodes:
        yield node
        if isinstance(node, Section):
            if node.active or not active_only:
                yield from walk(node.body, active_only=active_only)
        else:
            for included in node.included:
                yield from walk(included.nodes, active_only=active_only)


def flatten(nodes: list[Node]) -> list[str]:
    """A section body as text: included files and true conditions inlined (Apache merges them into the enclosing
    section), false conditions left out, nested sections kept."""
    lines: list[str] = []
    for node in nodes:
        if isinstance(node, Directive):
            if node.included:
                for included in node.included:
                    lines += flatten(included.nodes)
            elif node.lowered not in ("include", "includeoptional"):
                lines.append(node.text)
        elif node.lowered in CONDITIONS or node.lowered in ALWAYS_TRUE:
            lines += flatten(node.body) if node.active else []
        else:
            lines += [node.head, *("    " + line for line in flatten(node.body)), f"</{node.name}>"]
    return lines


def directives_in(nodes: list[Node]) -> Iterator[Directive]:
    """Every directive in reading order, into true conditions, nested sections and included files."""
    for node in walk(nodes):
        if isinstance(node, Directive):
            yield node


@dataclass(frozen=True)
class AccessFile:
    """An .htaccess file Apache reads, and the `<Directory>` whose AllowOverride admits it."""

    path: Path
    directory: Section
    classes: frozenset[str]   # override classes that section allows ("all" expanded)


def override_classes(section: Section) -> Optional[frozenset[str]]:
    """The override classes a `<Directory>` allows, or None when it does not say (it inherits)."""
    classes: Optional[set[str]] = None
    for node in section.body:
        if isinstance(node, Directive) and node.lowered == "allowoverride":
            classes = set()
            for arg in (a.lower() for a in node.args):
                if arg == "all":
                    classes.update(OVERRIDE_CLASSES)
                elif arg != "none":
                    classes.add(arg.split("=", 1)[0])
    return None if classes is None else frozenset(classes)


def access_files(main: ConfigFile, access_name: str = ".htaccess") -> list[AccessFile]:
    """Every `access_name` file under a plain `<Directory>` whose (most specific) AllowOverride admits mod_python's
    directives: any override class does (see the module docstring)."""
    sections = [n for n in walk(main.nodes) if isinstance(n, Section) and n.lowered == "directory"
                and len(n.args) == 1 and not n.args[0].startswith("~")]
    allowed: list[tuple[str, Section, frozenset[str]]] = []
    for section in sections:
        classes = override_classes(section)
        if classes is not None:
            allowed.append((os.path.normpath(section.args[0]), section, classes))
    found: list[AccessFile] = []
    seen: set[Path] = set()
    for root, _, classes in sorted(allowed, key=lambda item: len(item[0])):
        if not classes:
            continue   # never walk below an AllowOverride None (it is often <Directory />)
        for directory in _directories(Path(root)):
            candidate = directory / access_name
            if candidate in seen or not candidate.is_file():
                continue
            best = max((item for item in allowed if _covers(item[0], str(directory))), key=lambda i: len(i[0]))
            seen.add(candidate)
            if best[2]:
                found.append(AccessFile(candidate, best[1], best[2]))
    return found


def _covers(root: str, directory: str) -> bool:
    return directory == root or directory.startswith(root.rstrip("/") + "/")


def _directories(root: Path) -> Iterator[Path]:
    count = 0
    for current, subdirs, _ in os.walk(root):
        count += 1
        if count > MAX_SCANNED_DIRECTORIES:
            raise ReadError(f"more than {MAX_SCANNED_DIRECTORIES} directories under {root} while looking for "
                            ".htaccess files")
        subdirs.sort()
        yield Path(current)
