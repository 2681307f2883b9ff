"""`mod_python.httpdconf`: mod_python 3.5's classes that build an httpd.conf from Python objects.

Rule: `str(obj)` is the configuration text and `repr(obj)` the Python expression that rebuilds it, as in mod_python, so
scripts and test suites that write their Apache configuration with these classes render the same text: `Directive(name,
value)` is one line, `ContainerTag(tag, attr, args)` a `<Tag attr> ... </Tag>` section indented by two,
`Container(*items)` a plain sequence, `Comment(text)` `# ` lines; backslashes become slashes unless `flipslash=0` (in
`repr` too, inside the value only, so a value holding a quote still round-trips). Each directive class mod_python
defines (`Listen("8080")`, `PythonHandler("mod::fn")`, ...) is declared below as a name in a table.

`Container(..., only_if=...)` renders only when its condition holds. mod_python `eval`s a string there; this module
evaluates nothing: it accepts a bool, a callable, or a string of the one form mod_python's own generated configs use,
comparisons of literals and (sliced) `mod_python.version` names, e.g. `"mod_python.version.HTTPD_VERSION[0:3] ==
'2.4'"`; any other string raises ValueError naming it.
"""
from __future__ import annotations

import ast
import operator
import os
import shutil
import sys
from typing import Any, Callable, Optional, Sequence, Union

from mod_python import version as _version

Node = Union["Directive", "Container", "ContainerTag", "Comment"]
Condition = Union[None, bool, str, Callable[[], bool]]


def _flip(text: str, flipslash: int) -> str:
    return text.replace("\\", "/") if flipslash else text


def _flipped(value: Any, flipslash: int) -> Any:
    # repr() flips the value, not the expression: mod_python flipped the backslashes of the repr's own escapes,
    # which breaks any value holding a quote.
    return _flip(value, flipslash) if isinstance(value, str) else value


class Directive:
    """One configuration line: `name value`."""

    def __init__(self, name: str, val: Any, flipslash: int = 1) -> None:
        self.name = name
        self.val = val
        self.indent = 0
        self.flipslash = flipslash

    def __repr__(self) -> str:
        return f"{' ' * self.indent}{self.name}({_flipped(self.val, self.flipslash)!r})"

    def __str__(self) -> str:
        return _flip(f"{' ' * self.indent}{self.name} {self.val}\n", self.flipslash)


class Container:
    """A sequence of nodes rendered one after another, at the container's indentation; see `only_if` above."""

    def __init__(self, *args: Node, **kwargs: Any) -> None:
        self.args: list[Node] = list(args)
        self.indent = 0
        self.only_if: Condition = kwargs.get("only_if")

    def append(self, value: Node) -> None:
        """Add a node; anything else is a TypeError."""
        if not isinstance(value, (Directive, Container, ContainerTag, Comment)):
            raise TypeError("appended value must be an instance of Directive, Container, ContainerTag or Comment")
        self.args.append(value)

    def __repr__(self) -> str:
        pad = " " * self.indent
        parts = [f"{pad}Container("]
        for arg in self.args:
            arg.indent = self.indent + 4
            parts.append(f"\n{arg!r},")
        parts.append(f"\n{pad}    only_if={self.only_if!r})" if self.only_if else f"\n{pad})")
        return "".join(parts)

    def __str__(self) -> str:
        if self.only_if and not condition_holds(self.only_if):
            return ""
        for arg in self.args:
            arg.indent = self.indent
        return "".join(str(arg) for arg in self.args)


class ContainerTag:
    """A section: `<tag attr>`, its nodes indented by two, `</tag>`."""

    def __init__(self, tag: str, attr: Any, args: Sequence[Node], flipslash: int = 1) -> None:
        self.tag = tag
        self.attr = attr
        self.args = args
        self.indent = 0
        self.flipslash = flipslash

    def __repr__(self) -> str:
        pad = " " * self.indent
        text = f"{pad}{self.tag}({_flipped(self.attr, self.flipslash)!r},"
        for arg in self.args:
            arg.indent = self.indent + 4
            text += f"\n{arg!r},"
        return text + f"\n{pad})"

    def __str__(self) -> str:
        pad = " " * self.indent
        text = _flip(f"{pad}<{self.tag} {self.attr}>\n", self.flipslash)
        for arg in self.args:
            arg.indent = self.indent + 2
            text += str(arg)
        return text + f"{pad}</{self.tag}>\n"


class Comment:
    """Comment lines: each line of `comment` as `# line`."""

    def __init__(self, comment: str) -> None:
        self.comment = comment
        self.indent = 0

    def __repr__(self) -> str:
        pad = " " * self.indent
        lines = self.comment.splitlines() or [""]
        text = f"{pad}Comment({lines[0] + chr(10)!r}"
        for line in lines[1:]:
            text += f"\n        {pad}{line + chr(10)!r}"
        return text + ")"

    def __str__(self) -> str:
        pad = " " * self.indent
        return "".join(f"{pad}# {line}\n" for line in self.comment.splitlines())


# --- only_if without eval ------------------------------------------------------------------------------------------
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


def condition_holds(condition: Condition) -> bool:
    """The value of an `only_if` condition (see the module docstring)."""
    if callable(condition):
        return bool(condition())
    if not isinstance(condition, str):
        return bool(condition)
    try:
        return bool(_value(ast.parse(condition, mode="eval").body))
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"only_if {condition!r}: only comparisons of literals and mod_python.version names are "
                         f"evaluated ({exc})") from None


def _value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute) and ast.unparse(node.value) in ("mod_python.version", "version"):
        if node.attr.startswith("_") or not hasattr(_version, node.attr):
            raise ValueError(f"mod_python.version has no {node.attr!r}")
        return getattr(_version, node.attr)
    if isinstance(node, ast.Subscript):
        return _value(node.value)[_index(node.slice)]
    if isinstance(node, ast.Compare):
        left = _value(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = _value(right_node)
            if type(op) not in _COMPARE or not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = (_value(item) for item in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _value(node.operand)
    raise ValueError(f"unsupported expression {ast.unparse(node)!r}")


def _index(node: ast.expr) -> Any:
    if isinstance(node, ast.Slice):
        parts = [None if item is None else _value(item) for item in (node.lower, node.upper, node.step)]
        return slice(*parts)
    return _value(node)


# --- the directive classes mod_python defines ------------------------------------------------------------------------
class _NamedDirective(Directive):
    """A directive class whose name is the directive's: `Listen("8080")` renders `Listen 8080`."""

    def __init__(self, val: Any) -> None:
        super().__init__(type(self).__name__, val)


class _NamedSection(ContainerTag):
    """A section class whose name is the tag: `Location("/x", SetHandler("mod_python"))`."""

    def __init__(self, attr: Any, *args: Node) -> None:
        super().__init__(type(self).__name__, attr, args)


def _directive(name: str) -> type[_NamedDirective]:
    return type(name, (_NamedDirective,), {"__doc__": f"`{name} value`.", "__module__": __name__})


def _section(name: str) -> type[_NamedSection]:
    return type(name, (_NamedSection,), {"__doc__": f"`<{name} attr> ... </{name}>`.", "__module__": __name__})


AddHandler = _directive("AddHandler")
AddOutputFilter = _directive("AddOutputFilter")
AddType = _directive("AddType")
AuthBasicAuthoritative = _directive("AuthBasicAuthoritative")
AuthBasicProvider = _directive("AuthBasicProvider")
AuthType = _directive("AuthType")
AuthName = _directive("AuthName")
CustomLog = _directive("CustomLog")
DirectoryIndex = _directive("DirectoryIndex")
DocumentRoot = _directive("DocumentRoot")
ErrorLog = _directive("ErrorLog")
KeepAliveTimeout = _directive("KeepAliveTimeout")
Listen = _directive("Listen")
LoadModule = _directive("LoadModule")
LogLevel = _directive("LogLevel")
LogFormat = _directive("LogFormat")
LockFile = _directive("LockFile")
MaxConnectionsPerChild = _directive("MaxConnectionsPerChild")
MaxClients = _directive("MaxClients")
MaxRequestsPerChild = _directive("MaxRequestsPerChild")
MaxSpareServers = _directive("MaxSpareServers")
MaxSpareThreads = _directive("MaxSpareThreads")
MaxThreadsPerChild = _directive("MaxThreadsPerChild")
MinSpareThreads = _directive("MinSpareThreads")
Mutex = _directive("Mutex")
NameVirtualHost = _directive("NameVirtualHost")
NumServers = _directive("NumServers")
Options = _directive("Options")
PidFile = _directive("PidFile")
PythonAuthenHandler = _directive("PythonAuthenHandler")
PythonAuthzHandler = _directive("PythonAuthzHandler")
PythonCleanupHandler = _directive("PythonCleanupHandler")
PythonConnectionHandler = _directive("PythonConnectionHandler")
PythonDebug = _directive("PythonDebug")
PythonHandler = _directive("PythonHandler")
PythonAccessHandler = _directive("PythonAccessHandler")
PythonPostReadRequestHandler = _directive("PythonPostReadRequestHandler")
PythonTransHandler = _directive("PythonTransHandler")
PythonFixupHandler = _directive("PythonFixupHandler")
PythonImport = _directive("PythonImport")
PythonPath = _directive("PythonPath")
PythonOutputFilter = _directive("PythonOutputFilter")
PythonOption = _directive("PythonOption")
Require = _directive("Require")
SetHandler = _directive("SetHandler")
ServerAdmin = _directive("ServerAdmin")
ServerName = _directive("ServerName")
ServerPath = _directive("ServerPath")
ServerRoot = _directive("ServerRoot")
StartServers = _directive("StartServers")
StartThreads = _directive("StartThreads")
ThreadsPerChild = _directive("ThreadsPerChild")
Timeout = _directive("Timeout")
TypesConfig = _directive("TypesConfig")
PythonInterpPerDirectory = _directive("PythonInterpPerDirectory")
PythonInterpPerDirective = _directive("PythonInterpPerDirective")

Directory = _section("Directory")
Files = _section("Files")
IfModule = _section("IfModule")
Location = _section("Location")
VirtualHost = _section("VirtualHost")


# --- helpers -------------------------------------------------------------------------------------------------------
def quote_if_space(s: str) -> str:
    """`s` in double quotes when it contains a space."""
    return f'"{s}"' if " " in s else s


_BASIC_MODULES = ("authn_file", "authn_core", "authz_host", "authz_groupfile", "authz_user", "authz_core",
                  "access_compat", "auth_basic", "reqtimeout", "include", "filter", "mime", "log_config", "env",
                  "headers", "setenvif", "version", "unixd", "status", "autoindex", "dir", "alias")


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _make_dirs(server_root: str, conf: str, logs: str, htdocs: str) -> None:
    for dirname in (server_root, *(os.path.join(server_root, d) for d in (htdocs, conf, logs))):
        if os.path.isdir(dirname):
            _note(f"Warning: directory {dirname!r} already exists, continuing.")
        else:
            _note(f"Creating directory {dirname!r}.")
            os.mkdir(dirname)
    dest = os.path.join(server_root, conf, "mime.types")
    if os.path.isfile(dest):
        _note(f"Warning: file {dest!r} already exists, continuing.")
        return
    for source_dir in (_version.SYSCONFDIR, "/etc"):
        source = os.path.join(source_dir, "mime.types")
        if source_dir and os.path.isfile(source):
            _note(f"Copying {source!r} to {dest!r}")
            shutil.copy(source, dest)
            return


def basic_config(server_root: str, listen: str, conf: str, logs: str, htdocs: str, pythonhandler: str,
                 pythonpath: Sequence[str], pythonoptions: Sequence[str], mp_comments: Sequence[str]) -> Container:
    """The configuration `write_basic_config` writes, as nodes."""
    modpath = _version.LIBEXECDIR or "/usr/lib/apache2/modules"
    modules = Container(Comment("\nLoad the necessary modules (this is the default httpd set):\n\n"))
    for name in _BASIC_MODULES:
        modules.append(LoadModule(f"{name}_module {quote_if_space(os.path.join(modpath, f'mod_{name}.so'))}"))
    main = Container(
        Comment("\nMain configuration options:\n\n"), ServerRoot(server_root),
        Container(MaxConnectionsPerChild("65536"), only_if="mod_python.version.HTTPD_VERSION[0:3] == '2.4'"),
        Container(MaxRequestsPerChild("65536"), only_if="mod_python.version.HTTPD_VERSION[0:3] < '2.4'"),
        LogFormat(r'"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined'),
        CustomLog(f"{quote_if_space(os.path.join(logs, 'access_log'))} combined"),
        ErrorLog(quote_if_space(os.path.join(logs, "error_log"))), LogLevel("warn"),
        PidFile(quote_if_space(os.path.join(logs, "httpd.pid"))),
        TypesConfig(quote_if_space(os.path.join(conf, "mime.types"))),
        ServerName("127.0.0.1"),  # only so that Apache does not warn that it cannot determine its name
        Listen(listen), DocumentRoot(quote_if_space(os.path.join(server_root, htdocs))))
    handling = Container(
        Comment("\nmod_python-specific options:\n\n"),
        LoadModule(f"python_module {quote_if_space(os.path.join(modpath, 'mod_python.so'))}"),
        SetHandler("mod_python"), Comment("PythonDebug On"), PythonHandler(pythonhandler))
    if pythonpath:
        handling.append(PythonPath('"sys.path+[' + "".join(f"{p!r}," for p in pythonpath) + ']"'))
    for option in pythonoptions:
        handling.append(PythonOption(option))
    for comment in mp_comments:
        handling.append(Comment(comment))
    return Container(Comment("\nThis config was auto-generated, do not edit!\n\n"), modules, main, handling)


def write_basic_config(server_root: str, listen: str = "0.0.0.0:8888", conf: str = "conf", logs: str = "logs",
                       htdocs: str = "public", pythonhandler: str = "mod_python.publisher",
                       pythonpath: Sequence[str] = (), pythonoptions: Sequence[str] = (),
                       mp_comments: Sequence[str] = (), conf_name: str = "httpd_conf.py", createdirs: bool = True,
                       replace_config: bool = False) -> Optional[str]:
    """Write `<server_root>/<conf>/<conf_name>`, a Python script that prints a basic mod_python Apache configuration;
    returns its path, or None (with a message on stderr) when it exists and `replace_config` is false."""
    conf_path = os.path.join(server_root, conf, conf_name)
    if os.path.exists(conf_path) and not replace_config:
        _note(f"Error: {conf_path!r} already exists, aborting.")
        return None
    if createdirs:
        _make_dirs(server_root, conf, logs, htdocs)
    config = basic_config(server_root, listen, conf, logs, htdocs, pythonhandler, pythonpath, pythonoptions,
                          mp_comments)
    script = (f"#!{_version.PYTHON_BIN}\n\n#\n# This config was auto-generated, but you can edit it!\n"
              "# Run it to print the Apache configuration.\n#\n\n"
              f"from mod_python.httpdconf import *\n\nconfig = {config!r}\n\nprint(config)\n")
    _note(f"Writing {conf_path!r}.")
    with open(conf_path, "w") as handle:
        handle.write(script)
    return conf_path
