"""The publisher's authentication data: `__auth__`, `__access__` and `__auth_realm__` declared inside a published
function, and the Basic credentials of the request.

Rule: mod_python lets a function protect itself with local declarations,

    def secret(req):
        __auth_realm__ = "Members"
        __auth__ = {"alice": "wonderland"}
        def __access__(req, user):
            return user == "alice"

and digs their values out of the function's code object by position in `co_consts`. That only matched constants laid
out as CPython 2 compiled them: on Python 3 a dict or list literal is not a constant, so mod_python reads some other
value. Here a declaration is a top-level statement of the function body that binds one of the names (assignment,
annotated assignment or `def`), found in the function's source. Each is compiled once and run on demand in the
function's module globals, so a literal, a module-level name, a lambda and a nested def all work; the function's other
locals do not exist at that point. Page modules register their parsed source when they are loaded, so the
declarations always match the code that runs; other functions are read with `inspect`.

Fail closed: a function whose code binds one of the names (they appear in its local variables) but whose declaration
cannot be read (no source, a binding that is not a top-level statement, a value that fails to evaluate) raises
`DeclarationError`, which the publisher answers with 500; it is never published unprotected.
"""

from __future__ import annotations

import ast
import base64
import inspect
import textwrap
import threading
import weakref
from types import CodeType, FunctionType
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

AUTH_NAMES = ("__auth__", "__access__", "__auth_realm__")
FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]

# Code object of a function -> {declared name: code of the statement declaring it}.
_registry: "weakref.WeakKeyDictionary[CodeType, Mapping[str, CodeType]]" = weakref.WeakKeyDictionary()
_registry_guard = threading.Lock()


class DeclarationError(Exception):
    """A function binds __auth__/__access__/__auth_realm__ in a way the publisher cannot evaluate."""


def _bound_names(statement: ast.stmt) -> List[str]:
    """The plain names a top-level statement binds, when it is a declaration form."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [statement.name]
    if isinstance(statement, ast.Assign):
        return [target.id for target in statement.targets if isinstance(target, ast.Name)]
    if isinstance(statement, ast.AnnAssign) and statement.value is not None and isinstance(statement.target, ast.Name):
        return [statement.target.id]
    return []


def _declarations(node: FunctionNode, filename: str) -> Dict[str, CodeType]:
    found: Dict[str, CodeType] = {}
    for statement in node.body:
        for name in _bound_names(statement):
            if name in AUTH_NAMES:
                module = ast.Module(body=[statement], type_ignores=[])
                found[name] = compile(module, filename, "exec", dont_inherit=True)
    return found


def _first_line(node: FunctionNode) -> int:
    # co_firstlineno is the first decorator's line for a decorated function.
    return min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])


def _code_objects(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _code_objects(const)


def register_module(tree: ast.Module, code: CodeType, filename: str) -> None:
    """Record the declarations of every function of a page, compiled from `tree` into `code`."""
    nodes = {(node.name, _first_line(node)): node for node in ast.walk(tree)
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    found: Dict[CodeType, Mapping[str, CodeType]] = {}
    for function_code in _code_objects(code):
        node = nodes.get((function_code.co_name, function_code.co_firstlineno))
        if node is not None:
            found[function_code] = _declarations(node, filename)
    with _registry_guard:
        _registry.update(found)


def _from_source(func: FunctionType) -> Mapping[str, CodeType]:
    """Declarations read from the source of a function that no page registered (e.g. from a helper module)."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError) as exc:
        raise DeclarationError(f"cannot read the source of {func.__qualname__} to find its declarations: {exc}")
    node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if node is None or node.name != func.__code__.co_name:
        raise DeclarationError(f"cannot find the definition of {func.__qualname__} in its source")
    found = _declarations(node, func.__code__.co_filename)
    with _registry_guard:
        _registry[func.__code__] = found
    return found


def function_declarations(func: FunctionType) -> Dict[str, Any]:
    """The values of the declarations `func` makes in its body ({} when it makes none)."""
    code = func.__code__
    wanted = (set(code.co_varnames) | set(code.co_cellvars)) & set(AUTH_NAMES)
    if not wanted:
        return {}
    with _registry_guard:
        declared = _registry.get(code)
    if declared is None:
        declared = _from_source(func)
    missing = wanted - declared.keys()
    if missing:
        raise DeclarationError(f"{func.__qualname__} binds {', '.join(sorted(missing))} other than as a plain "
                               "top-level statement of its body; the publisher cannot read it")
    values: Dict[str, Any] = {}
    for name, statement in declared.items():
        namespace: Dict[str, Any] = {}
        try:
            exec(statement, func.__globals__, namespace)
        except Exception as exc:
            raise DeclarationError(f"{name} of {func.__qualname__} could not be evaluated in its module "
                                   f"(only module-level names are visible): {exc!r}") from exc
        values[name] = namespace[name]
    return values


def basic_credentials(header: str) -> Optional[Tuple[str, str]]:
    """(user, password) from an Authorization value; None for another scheme; ValueError when malformed.

    The base64 must be valid and the decoded text must hold a colon. Text is UTF-8 (what current browsers send),
    else Latin-1 (RFC 7617's historical default)."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    raw = base64.b64decode(encoded.strip(), validate=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, colon, password = text.partition(":")
    if not colon:
        raise ValueError("Basic credentials without a colon")
    return user, password
