"""Apache's side of the daemon: everything that writes Apache configuration or runs Apache.

`paths` says where Apache's binary and modules are; `config` renders configuration text (the snippet an existing
Apache includes, a standalone httpd.conf, the proxy worker and mod_authnz_fcgi lines); `translate` turns one
mod_python configuration block into the block that sends the same requests to the daemon; `reader` reads a whole
configuration as Apache does, `servers` says which server a block belongs to and whether its requests reach
mod_python, and `convert` (with `convert_output`) converts every file of it (`fcgi-handlers convert`); `runner`
starts and stops Apache and the daemon as child processes (tests, demo, conformance, benchmark); `demo` is
`fcgi-handlers demo`.
Rendering and translation are pure text functions; only `runner` and `demo` touch processes. The public names of
`config` and `translate` are importable from this package.
"""
from __future__ import annotations

from .config import (AUTH_MODULES, BASE_MODULES, DEFAULT_POOL_MAX, SNIPPET_MODULES, AuthnMode, Backend, Mpm, Route,
                     UnsupportedDirective, auth_provider_lines, auth_provider_names, authn_lines, authz_lines,
                     daemon_directives, guarded_module_lines, httpd_conf, include_snippet, module_line, quote,
                     section, setenvif_line, worker_block)
from .paths import MODULES_DIR
from .translate import mod_python_block_to_daemon, mod_python_to_daemon, split_arguments

__all__ = ["AUTH_MODULES", "BASE_MODULES", "Backend", "DEFAULT_POOL_MAX", "MODULES_DIR", "SNIPPET_MODULES",
           "AuthnMode", "Mpm", "Route", "UnsupportedDirective", "auth_provider_lines", "auth_provider_names",
           "authn_lines", "authz_lines", "daemon_directives", "guarded_module_lines", "httpd_conf", "include_snippet",
           "mod_python_block_to_daemon", "mod_python_to_daemon", "module_line", "quote", "section", "setenvif_line",
           "split_arguments", "worker_block"]
