"""The request object's attributes and methods as a content handler sees them (mod_python-behaviour.md §3.2-§3.4):
each scenario writes a few `repr()`s, so a difference shows which attribute differs and how."""
from __future__ import annotations

from typing import Mapping, Sequence

from ..scenario import Call, Container, Expect, Scenario, fastcgi_limit, show

AREA = "request API"
FILES = {"page.txt": b"static page\n", "index.html": b"<p>index</p>\n"}


def attrs(name: str, *expressions: str, calls: Sequence[Call] = (Call(),), setup: str = "", imports: str = "",
          container: Container = "Location", files: Mapping[str, bytes] = {},
          directives: Sequence[str] = ("SetHandler mod_python", "PythonHandler {mod}"), logs: Sequence[str] = (),
          description: str = "") -> Scenario:
    return Scenario(name, AREA, show(*expressions, setup=setup, imports=imports), directives=directives,
                    calls=calls, container=container, files=files, logs=logs, description=description)


SCENARIOS = [
    attrs("req_uri_location", "req.uri", "req.unparsed_uri", "req.args", "req.filename", "req.path_info",
          calls=(Call("a/b?x=1&y=2"), Call())),
    attrs("req_method_protocol", "req.method", "req.method_number", "req.protocol", "req.proto_num",
          "req.the_request", calls=(Call("p?q=1"), Call("p", method="POST", body=b"x=1"),
                                    Call("p", method="DELETE"), Call("p", method="OPTIONS"))),
    attrs("req_hostname", "req.hostname", "req.server.server_admin", "req.construct_url('/z')"),
    attrs("req_server_hostname", "req.server.server_hostname", "req.interpreter", "apache.interpreter",
          description="the virtual host's ServerName (the converter passes it; Apache sends the Host's name)"),
    attrs("req_host_header", "req.hostname", "req.headers_in['Host']", "req.construct_url('/z')",
          calls=(Call(headers=[("Host", "example.org")]), Call(headers=[("Host", "Example.ORG:81")]))),
    attrs("req_flags", "req.header_only", "req.assbackwards", "req.proxyreq", "req.chunked", "req.no_cache",
          "req.no_local_copy"),
    attrs("req_defaults", "req.status", "req.status_line", "req.content_type", "req.handler", "req.phase",
          "req.user", "req.ap_auth_type", "req.content_encoding", "req.content_languages"),
    attrs("req_headers_in", "req.headers_in['X-Test']", "req.headers_in.get('x-test')", "'X-TEST' in req.headers_in",
          "req.headers_in.get('X-Absent')", "req.headers_in.get('User-Agent')",
          calls=(Call(headers=[("X-Test", "value one"), ("User-Agent", "conformance/1")]),)),
    attrs("req_headers_in_repeated", "req.headers_in['X-Dup']", "req.headers_in.get('X-Dup')",
          calls=(Call(headers=[("X-Dup", "a"), ("X-Dup", "b")]),)),
    Scenario("req_headers_in_underscore", AREA, show("req.headers_in.get('X_Under')", "req.headers_in.get('X-Dash')"),
             intended_difference=fastcgi_limit(
                 "Apache leaves request headers whose names hold an underscore out of the CGI/FastCGI environment "
                 "(HTTP_X_UNDER could be forged from X-Under), so the daemon never sees them"),
             calls=(Call(headers=[("X_Under", "u"), ("X-Dash", "d")], expect=Expect(contains=[b"('X_Under') = 'u'"]),
                         daemon=Expect(status=200, contains=[b"('X_Under') = None", b"('X-Dash') = 'd'"])),)),
    attrs("req_connection", "req.connection.client_ip", "req.connection.local_ip", "req.connection.local_addr",
          "req.useragent_ip", "req.connection.remote_host", "req.connection.remote_logname",
          "req.connection.aborted"),
    attrs("req_remote_host", "req.get_remote_host()", "req.get_remote_host(apache.REMOTE_NOLOOKUP)",
          "req.get_remote_host(apache.REMOTE_NOLOOKUP, 1)"),
    attrs("req_document_root", "req.document_root()"),
    Scenario("req_server_error_fname", AREA, show("req.server.error_fname is not None"),
             intended_difference=fastcgi_limit("Apache sends no ErrorLog path to a FastCGI backend"),
             calls=(Call(expect=Expect(contains=[b"= True"]), daemon=Expect(status=200, contains=[b"= False"])),)),
    attrs("req_parsed_uri", "req.parsed_uri", "req.parsed_uri[apache.URI_PATH]", "req.parsed_uri[apache.URI_QUERY]",
          calls=(Call("deep/path?k=v"), Call())),
    attrs("req_request_time", "type(req.request_time).__name__", "abs(req.request_time - time.time()) < 30",
          imports="import time"),
    attrs("req_notes", "req.notes.get('k')", "req.notes['k']", "'k' in req.notes", setup="req.notes['k'] = 'v'"),
    attrs("req_notes_keys", "list(req.notes.keys())"),
    attrs("req_custom_attribute", "req.custom", "hasattr(req, 'form')", "getattr(req, 'nothing', 'default')",
          setup="req.custom = {'a': 1}"),
    attrs("req_subprocess_env_cgi", *[f"req.subprocess_env.get({key!r})" for key in (
        "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "QUERY_STRING", "REQUEST_URI", "SCRIPT_NAME",
        "PATH_INFO", "SERVER_NAME", "SERVER_ADDR", "REMOTE_ADDR", "DOCUMENT_ROOT", "REQUEST_SCHEME",
        "CONTEXT_PREFIX", "HTTP_HOST", "HTTP_X_CUSTOM")],
          setup="req.add_cgi_vars()", calls=(Call("sub?q=1", headers=[("X-Custom", "c")]),)),
    attrs("req_subprocess_env_set", "req.subprocess_env.get('MINE')", "req.subprocess_env.get('PythonHandler')",
          setup="req.subprocess_env['MINE'] = 'x'"),
    attrs("req_hlist", "req.hlist.handler", "req.hlist.is_location", "req.hlist.silent"),
    attrs("req_clength_remaining", "req.clength", "req.remaining", "req.read_chunked", "req.expecting_100",
          "req.range", calls=(Call(), Call(method="POST", body=b"abc"))),
    attrs("req_main_prev_next", "req.main", "req.prev", "req.next"),
    attrs("req_https", "req.is_https()", "req.ssl_var_lookup('HTTPS')", "req.subprocess_env.get('HTTPS')"),
    attrs("req_auth_config", "req.auth_name()", "req.auth_type()"),
    attrs("req_authorization_header", "req.headers_in.get('Authorization')", "req.user",
          calls=(Call(headers=[("Authorization", "Basic dXNlcjpwYXNz")]),)),
    attrs("req_readonly", "setattr(req, 'method', 'PUT')", "setattr(req, 'headers_in', None)",
          "setattr(req, 'uri', '/elsewhere')", "req.uri"),
    attrs("req_server", "req.server.is_virtual", "req.server.timeout", "req.server.keep_alive",
          "req.server.keep_alive_timeout", "req.server.limit_req_line", "req.server.limit_req_fields",
          "req.server.limit_req_fieldsize"),
    attrs("req_directory_paths", "req.uri", "req.filename", "req.canonical_filename", "req.path_info",
          "req.used_path_info", "req.args", container="Location",
          calls=(Call("page.txt/extra/info?z=1"),), directives=("SetHandler mod_python", "PythonHandler {mod}")),
    attrs("req_dir_filename", "req.uri", "req.filename == '{dir}/page.txt'", "req.path_info", "req.args",
          "req.hlist.is_location", container="Directory", files=FILES,
          calls=(Call("page.txt/extra/info?z=1"), Call("page.txt"), Call("page.txt/"))),
    attrs("req_dir_hlist", "req.hlist.directory", "req.hlist.handler", container="Directory", files=FILES,
          calls=(Call("page.txt"),)),
    attrs("req_dir_finfo", "req.finfo is not None", "req.finfo.size if req.finfo else None",
          "req.finfo[apache.FINFO_FILETYPE] == apache.APR_REG if req.finfo else None",
          container="Directory", files=FILES, calls=(Call("page.txt"),)),
    attrs("req_dir_index", "req.uri", "req.filename == '{dir}/'", "req.path_info", container="Directory",
          files=FILES, calls=(Call(""),)),
    attrs("req_get_config_debug", "req.get_config().get('PythonDebug')",
          "req.get_config().get('PythonAutoReload')",
          directives=("SetHandler mod_python", "PythonHandler {mod}", "PythonDebug On")),
    attrs("req_get_options_empty", "dict(req.get_options())", "len(req.get_options())"),
    attrs("req_log_error", "req.log_error('cf-marker request')",
          "req.log_error('cf-marker warning', apache.APLOG_WARNING)", "apache.log_error('cf-marker module')",
          "req.server.log_error('cf-marker server', apache.APLOG_ERR)",
          logs=(r"cf-marker request", r"cf-marker module", r"cf-marker server")),
    attrs("req_mpm_threads", "apache.mpm_query(apache.AP_MPMQ_IS_THREADED) in (0, 1, 2)",
          "isinstance(apache.mpm_query(apache.AP_MPMQ_MAX_DAEMONS), int)"),
    attrs("req_send_http_header", "req.send_http_header()", "req.status"),
    attrs("req_hlist_location", "req.hlist.directory", "req.hlist.is_location",
          description="the <Location> path (the converter passes it)"),
    attrs("req_set_etag", "req.headers_out.get('ETag')", setup="req.set_etag()"),
    attrs("req_dir_set_etag", "req.headers_out.get('ETag')", setup="req.set_etag()", container="Directory",
          files=FILES, calls=(Call("page.txt"),)),
    attrs("req_sys_argv", "sys.argv", imports="import sys"),
    attrs("mp_package_modules", "[__import__('mod_python.' + m) and m for m in ('cache', 'httpdconf', 'python22', "
          "'testhandler', 'version')]", "__import__('mod_python.cache').cache.FunctionCache(abs)(-2)",
          "str(__import__('mod_python.httpdconf').httpdconf.Listen('8080'))"),
]

