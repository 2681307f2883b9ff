"""mod_python.publisher: `PythonHandler mod_python.publisher` maps a URL to a Python object in a page and publishes it.

Rule: mod_python 3.5's publisher (`docs/mod_python-facts.md` §7), request by request:
- GET, POST and HEAD only; anything else is 405 with `Allow`.
- The page is `<dir of req.filename>/<name>.py`, `<name>` being the file name with `.py`, an AddHandler extension or
  `req.extension` stripped (`index` for a directory). Without `<name>.py` the page is `index.py` and `<name>` goes in
  front of the object path; without `index.py` either, 404. The object path is `req.path_info` without its leading
  and one trailing `/`, with `/` read as `.`; empty means `index`. So `/pub/` is index.index, `/pub/hello`
  index.hello (no hello.py), `/pub/index.py/hello` index.hello, `/pub/inst/meth` index.inst.meth.
- Pages are loaded by path into modules that are not in `sys.modules`, cached per file and re-run when the file
  changes (not checked again with `PythonAutoReload Off`). A page is code: it must lie inside the daemon's allowed
  directories (403 otherwise), like any handler module.
- Every step of the object path is checked, with a log warning and 403 on refusal: a name starting with `_`;
  traversal through anything but modules' contents and ordinary instances (`tp_rules`: built-in types such as
  functions, methods and generators cannot be traversed, classes and modules neither); publishing a module, a class
  or a built-in function. A missing attribute is 404.
- `__auth__`, `__access__` and `__auth_realm__` are honoured on the page and on every object along the path, as
  attributes or as declarations inside a published function (`_publisher_auth`). `__auth__` is a callable
  `(req, user, password)`, a dict of passwords or a constant; `__access__` a callable `(req, user)`, a list/tuple of
  users or a constant. No or wrong credentials give 401 with `WWW-Authenticate: Basic realm="<realm>"` (default realm
  "unknown"), a refused user 403, a malformed `Authorization` 400. Apache passes `Authorization` only with
  `CGIPassAuth On`.
- A callable is called through `util.apply_fs_data` with `req.form = util.FieldStorage(req, keep_blank_values=1)`
  and `req=req`, and its result is published the same way. None publishes nothing, bytes go out as they are,
  anything else as `str()` (a generator as its repr, as in mod_python). Unless the code set a content type,
  `</html>` at the end of the last 100 characters means text/html, else text/plain. Output is written with
  flush=0, so a small page gets a Content-Length.
Differences, all on the safe side: the Debian build's auth fails with 400 on Python 3 (`base64.decodestring`) and its
nested declarations read wrong values; here both work. A class with a custom metaclass is refused like any class.
A callable whose code lives outside the allowed directories (e.g. `from shutil import rmtree` in a page) is not
published (403): the loader's rule that only code from `--path` runs for a URL applies to published functions too;
a decorated function is judged by the function it wraps (`__wrapped__`).
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import types
from types import BuiltinFunctionType, FunctionType, GeneratorType, MethodType, ModuleType
from typing import Any, Dict, Mapping, Optional, Tuple

from fcgi_handlers.request.exceptions import SERVER_RETURN
from mod_python import _pages, apache
from mod_python._publisher_auth import AUTH_NAMES, DeclarationError, basic_credentials, function_declarations, \
    register_module

__all__ = ["handler", "page_cache", "process_auth", "publish_object", "resolve_object", "tp_rules"]

ALLOWED_METHODS = ["GET", "POST", "HEAD"]
MAX_CALL_CHAIN = 16  # a published callable may return a callable, and so on; a cycle ends here
_HTML_END = re.compile(r"</HTML\s*>\s*$", re.IGNORECASE)
_NOT_WORD = re.compile(r"\W")

# type -> (traversable, publishable), looked up by exact type as mod_python does; users may add entries.
tp_rules: Dict[type, Tuple[bool, bool]] = {t: (False, True) for t in vars(types).values() if isinstance(t, type)}
tp_rules.update({ModuleType: (False, False), BuiltinFunctionType: (False, False), type: (False, False),
                 GeneratorType: (False, True)})
default_tp_rule = (True, True)

page_cache: _pages.FileCache[ModuleType] = _pages.FileCache()


def _page_builder(req: Any) -> _pages.Build[ModuleType]:
    debug = _pages.config_flag(req, "PythonDebug", False)

    def build(path: str, reloading: bool) -> Tuple[ModuleType, Mapping[str, _pages.Stamp]]:
        if debug:
            req.log_error(f"Publisher {'reloading' if reloading else 'loading'} page {path}", apache.APLOG_NOTICE)
        data, stamp = _pages.read_file(path)
        tree = ast.parse(data, filename=path)
        code = compile(tree, path, "exec", dont_inherit=True)
        register_module(tree, code, path)
        module = ModuleType(_NOT_WORD.sub("_", path))
        module.__file__ = path
        exec(code, module.__dict__)
        return module, {path: stamp}
    return build


def get_page(req: Any, path: str) -> ModuleType:
    """The page module for `path` (relative to the current page's directory), loaded through the page cache."""
    current = _pages.request_file(req, "mod_python.publisher")
    full = os.path.normpath(path if os.path.isabs(path) else os.path.join(os.path.dirname(current), path))
    _pages.ensure_allowed(req, full, "mod_python.publisher")
    if not os.path.isfile(full):
        raise SERVER_RETURN(apache.HTTP_NOT_FOUND)
    autoreload = _pages.config_flag(req, "PythonAutoReload", True)
    try:
        return page_cache.get(full, _page_builder(req), check=autoreload)
    except FileNotFoundError:
        raise SERVER_RETURN(apache.HTTP_NOT_FOUND) from None


def _suffixes(req: Any) -> "re.Pattern[str]":
    suffixes = ["py"]
    addhandler_exts = getattr(req, "get_addhandler_exts", None)
    if addhandler_exts is not None:
        suffixes += str(addhandler_exts()).split()
    if req.extension:
        suffixes.append(req.extension[1:])
    return re.compile("|".join(rf"\.{re.escape(suffix)}$" for suffix in suffixes if suffix))


def locate(req: Any) -> Tuple[str, str]:
    """(page file, dotted object path) for the request, by mod_python's mapping (see the module docstring)."""
    requested = _pages.request_file(req, "mod_python.publisher")
    if os.path.isdir(requested):
        directory, name = requested, "index"
    else:
        directory, name = os.path.split(requested)
        name = _suffixes(req).sub("", name, count=1) or "index"
    func_path = (req.path_info or "")[1:]
    if func_path.endswith("/"):
        func_path = func_path[:-1]
    filename = os.path.normpath(os.path.join(directory, name + ".py"))
    _pages.ensure_allowed(req, filename, "mod_python.publisher")
    if not os.path.exists(filename):
        func_path = f"{name}/{func_path}" if func_path else name
        filename = os.path.normpath(os.path.join(directory, "index.py"))
        _pages.ensure_allowed(req, filename, "mod_python.publisher")
        if not os.path.exists(filename):
            raise SERVER_RETURN(apache.HTTP_NOT_FOUND)
    return filename, (func_path or "index").replace("/", ".")


def handler(req: Any) -> int:
    """`PythonHandler mod_python.publisher`."""
    req.allow_methods(ALLOWED_METHODS)
    if req.method not in ALLOWED_METHODS:
        raise SERVER_RETURN(apache.HTTP_METHOD_NOT_ALLOWED)
    filename, func_path = locate(req)
    req.filename = filename
    module = get_page(req, filename)
    realm, user, passwd = process_auth(req, module)
    published = publish_object(req, resolve_object(req, module, func_path, realm, user, passwd))
    if not published and req._bytes_queued == 0 and req.next is None \
            and _pages.config_flag(req, "PythonDebug", False):
        req.log_error("mod_python.publisher: nothing to publish.", apache.APLOG_NOTICE)
    return apache.OK


# --- authentication -------------------------------------------------------------------------------------------------

def _declared(req: Any, obj: Any) -> Dict[str, Any]:
    """The auth names `obj` declares: in a function's body (mod_python's nested form), else as attributes."""
    func = obj.__func__ if isinstance(obj, MethodType) else obj
    values: Dict[str, Any] = {}
    if isinstance(func, FunctionType):
        try:
            values = function_declarations(func)
        except DeclarationError as exc:
            req.log_error(f"mod_python.publisher: {exc}", apache.APLOG_ERR)
            raise SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR) from None
    for name in AUTH_NAMES:
        if name not in values and hasattr(obj, name):
            values[name] = getattr(obj, name)
    return values


def _challenge(req: Any, realm: object) -> SERVER_RETURN:
    quoted = str(realm).replace("\\", "\\\\").replace('"', '\\"')
    req.err_headers_out["WWW-Authenticate"] = f'Basic realm="{quoted}"'
    return SERVER_RETURN(apache.HTTP_UNAUTHORIZED)


def _credentials(req: Any) -> Tuple[Optional[str], Optional[str]]:
    header = req.headers_in.get("Authorization")
    if header is None:
        return None, None
    try:
        found = basic_credentials(header)
    except ValueError:
        raise SERVER_RETURN(apache.HTTP_BAD_REQUEST) from None
    return found if found is not None else (None, None)


def process_auth(req: Any, object: Any, realm: Any = "unknown", user: Optional[str] = None,  # noqa: A002
                 passwd: Optional[str] = None) -> Tuple[Any, Optional[str], Optional[str]]:
    """Apply `object`'s __auth__/__access__ (raising SERVER_RETURN 401/403/400); returns (realm, user, passwd)."""
    declared = _declared(req, object)
    realm = declared.get("__auth_realm__", realm)
    if "__auth__" not in declared and "__access__" not in declared:
        return realm, user, passwd
    if not user:
        user, passwd = _credentials(req)
    if "__auth__" in declared:
        auth = declared["__auth__"]
        if not user:
            raise _challenge(req, realm)
        if callable(auth):
            allowed = auth(req, user, passwd)
        elif isinstance(auth, dict):
            allowed = user in auth and auth[user] == passwd
        else:
            allowed = auth
        if not allowed:
            raise _challenge(req, realm)
    if "__access__" in declared:
        access = declared["__access__"]
        if callable(access):
            allowed = access(req, user)
        elif isinstance(access, (list, tuple)):
            allowed = user in access
        else:
            allowed = access
        if not allowed:
            raise SERVER_RETURN(apache.HTTP_FORBIDDEN)
    if user:
        req.user = user  # the checks passed: the page sees who it serves, as mod_python's publisher sets it
    return realm, user, passwd


# --- traversal and publishing ---------------------------------------------------------------------------------------

def _refuse(req: Any, message: str) -> SERVER_RETURN:
    req.log_error(message, apache.APLOG_WARNING)
    return SERVER_RETURN(apache.HTTP_FORBIDDEN)


def _rule(obj: Any) -> Tuple[bool, bool]:
    rule = tp_rules.get(type(obj))
    if rule is not None:
        return rule
    if isinstance(obj, (type, ModuleType)):
        return False, False  # a class with a metaclass, a module subclass
    return default_tp_rule


def _foreign_code(obj: Any) -> Optional[str]:
    """The file of the Python code `obj` would run when called, if that file is outside the allowed directories."""
    target = inspect.unwrap(obj) if isinstance(obj, (FunctionType, MethodType)) else obj
    if isinstance(target, MethodType):
        target = inspect.unwrap(target.__func__)
    if not isinstance(target, FunctionType):
        target = getattr(type(obj), "__call__", None)
    if not isinstance(target, FunctionType):
        return None
    filename = target.__code__.co_filename
    return None if _pages.is_allowed(filename) else filename


def resolve_object(req: Any, obj: Any, object_str: str, realm: Any = None, user: Optional[str] = None,
                   passwd: Optional[str] = None) -> Any:
    """Walk `object_str` ("a.b.c") from the page module, checking every step (see the module docstring)."""
    name = object_str
    for index, name in enumerate(object_str.split(".")):
        if not name:
            raise SERVER_RETURN(apache.HTTP_NOT_FOUND)
        if name[0] == "_":
            raise _refuse(req, f"Cannot traverse {name} in {req.unparsed_uri} because it starts with an underscore")
        if index > 0 and not _rule(obj)[0]:
            raise _refuse(req, f"Cannot traverse {name} in {req.unparsed_uri} because {obj!r} is not a "
                               "traversable object")
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise SERVER_RETURN(apache.HTTP_NOT_FOUND) from None
        realm, user, passwd = process_auth(req, obj, realm, user, passwd)
    if not _rule(obj)[1]:
        raise _refuse(req, f"Cannot publish {name} in {req.unparsed_uri} because {obj!r} is not publishable")
    foreign = _foreign_code(obj) if callable(obj) else None
    if foreign is not None:
        raise _refuse(req, f"Cannot publish {name} in {req.unparsed_uri} because its code ({foreign}) is not inside "
                           "the daemon's configured paths")
    return obj


def _form(req: Any) -> Any:
    form = getattr(req, "form", None)
    if form is None:
        from mod_python import util
        form = req.form = util.FieldStorage(req, keep_blank_values=1)
    return form


def publish_object(req: Any, obj: Any) -> bool:
    """Call `obj` while it is callable, then write the result; False when there was nothing to write."""
    from mod_python import util
    for _ in range(MAX_CALL_CHAIN):
        if not callable(obj):
            break
        obj = util.apply_fs_data(obj, _form(req), req=req)
    else:
        raise RuntimeError(f"mod_python.publisher: more than {MAX_CALL_CHAIN} callables returned in a row")
    if obj is None:
        return False
    result: Any = bytes(obj) if isinstance(obj, (bytes, bytearray, memoryview)) else str(obj)
    if not req._content_type_set:
        tail = result[-100:].decode("latin-1") if isinstance(result, bytes) else result[-100:]
        req.content_type = "text/html" if _HTML_END.search(tail) else "text/plain"
    # flush=0: the whole page goes out at the end, so Apache can give it a Content-Length (MODPYTHON-107).
    req.write(result, 0)
    return True
