"""Return codes and HEAD.

Return codes and SERVER_RETURN: what Apache makes of a content handler's result (docs/mod_python-facts.md §2,
§5): OK/DONE send `req.status`, an HTTP code gets Apache's stock page (headers_out dropped, err_headers_out and a
redirect's Location kept), DECLINED goes to Apache's default handler, anything not an int is an error.

HEAD: the same status and headers as GET, no body (Apache discards what the handler writes); req.header_only."""
from __future__ import annotations

from ..scenario import Call, Expect, Scenario, handler

RETURNS_AREA = "return codes"


def returns(name: str, code: str, *calls: Call, description: str = "") -> Scenario:
    return Scenario(name, RETURNS_AREA, handler(code), calls=calls or (Call(),), description=description)


RETURN_SCENARIOS = [
    returns("ret_ok_no_output", "return apache.OK"),
    returns("ret_done_no_output", "return apache.DONE"),
    returns("ret_ok_text", 'req.content_type = "text/plain"\nreq.write("fine\\n")\nreturn apache.OK'),
    returns("ret_not_found", "return apache.HTTP_NOT_FOUND", Call(status=404)),
    returns("ret_forbidden", "return apache.HTTP_FORBIDDEN", Call(status=403)),
    returns("ret_unauthorized", "return apache.HTTP_UNAUTHORIZED", Call(status=401)),
    returns("ret_internal_error", "return apache.HTTP_INTERNAL_SERVER_ERROR", Call(status=500)),
    returns("ret_service_unavailable", "return apache.HTTP_SERVICE_UNAVAILABLE", Call(status=503)),
    returns("ret_bad_request", "return apache.HTTP_BAD_REQUEST", Call(status=400)),
    returns("ret_gone", "return apache.HTTP_GONE", Call(status=410)),
    returns("ret_teapot", "return apache.HTTP_IM_A_TEAPOT", Call(status=500)),
    returns("ret_no_content", "return apache.HTTP_NO_CONTENT", Call(status=204)),
    returns("ret_not_modified", "return apache.HTTP_NOT_MODIFIED", Call(status=304)),
    returns("ret_redirect_headers_out",
            'req.headers_out["Location"] = "/x"\nreturn apache.HTTP_MOVED_TEMPORARILY',
            Call(status=302, expect=Expect(headers={"Location": "/x"}))),
    returns("ret_redirect_err_headers_out",
            'req.err_headers_out["Location"] = "/y"\nreq.headers_out["X-Lost"] = "1"\n'
            'req.err_headers_out["X-Kept"] = "1"\nreturn apache.HTTP_MOVED_PERMANENTLY',
            Call(status=301, expect=Expect(headers={"Location": "/y", "X-Kept": "1", "X-Lost": None}))),
    returns("ret_see_other", 'req.headers_out["Location"] = "http://example.com/o?a=1&b=<2>"\n'
            "return apache.HTTP_SEE_OTHER", Call(status=303)),
    returns("ret_method_not_allowed", 'req.allow_methods(["GET", "POST"])\nreturn apache.HTTP_METHOD_NOT_ALLOWED',
            Call(status=405)),
    returns("ret_not_implemented", 'req.allow_methods(["PUT"])\nreturn apache.HTTP_NOT_IMPLEMENTED',
            Call(status=501)),
    returns("ret_allow_reset", 'req.allow_methods(["GET"])\nreq.allow_methods(["DELETE"], 1)\n'
            "return apache.HTTP_METHOD_NOT_ALLOWED", Call(status=405)),
    returns("ret_status_with_body", 'req.status = apache.HTTP_NOT_FOUND\nreq.content_type = "text/plain"\n'
            'req.write("custom not found\\n")\nreturn apache.OK', Call(status=404)),
    returns("ret_status_no_body", "req.status = apache.HTTP_NOT_FOUND\nreturn apache.OK", Call(status=404)),
    returns("ret_status_then_code", "req.status = apache.HTTP_FORBIDDEN\nreturn apache.HTTP_NOT_FOUND",
            Call(status=404)),
    returns("ret_created_done", 'req.status = apache.HTTP_CREATED\nreq.content_type = "text/plain"\n'
            'req.write("made")\nreturn apache.DONE', Call(status=201)),
    returns("ret_write_then_error", 'req.content_type = "text/plain"\nreq.write("partial output\\n")\n'
            "return apache.HTTP_NOT_FOUND"),
    returns("ret_http_ok", "return apache.HTTP_OK"),
    returns("ret_unknown_code", "return 299", Call(status=500)),
    returns("ret_none", "return None", Call(status=500)),
    returns("ret_true", "return True", Call(status=500)),
    returns("ret_string", 'return "OK"', Call(status=500)),
    returns("ret_write_then_none", 'req.write("x")', Call()),
    returns("ret_status_unknown", 'req.status = 299\nreq.write("x")\nreturn apache.OK', Call(status=500)),
    returns("ret_status_line_custom", 'req.status = 299\nreq.status_line = "299 Custom Thing"\n'
            'req.write("x")\nreturn apache.OK', Call(status=299)),
    returns("ret_status_line_mismatch", 'req.status_line = "404 Not Here"\nreq.write("x")\nreturn apache.OK'),
    returns("sr_code", "raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)", Call(status=403)),
    returns("sr_done_created", "raise apache.SERVER_RETURN(apache.DONE, apache.HTTP_CREATED)", Call(status=201)),
    returns("sr_ok_accepted", "raise apache.SERVER_RETURN(apache.OK, apache.HTTP_ACCEPTED)", Call(status=202)),
    returns("sr_code_and_status", "raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND, apache.HTTP_FORBIDDEN)",
            Call(status=404)),
    returns("sr_after_output", 'req.content_type = "text/plain"\nreq.write("sent\\n")\n'
            "raise apache.SERVER_RETURN(apache.DONE, apache.HTTP_CREATED)"),
    returns("sr_string", 'raise apache.SERVER_RETURN("x")', Call(status=500)),
    returns("sr_no_args", "raise apache.SERVER_RETURN", Call(status=500)),
    returns("sr_ok_plain", 'req.content_type = "text/plain"\nreq.write("a")\nraise apache.SERVER_RETURN(apache.OK)'),
]


HEAD_AREA = "HEAD"
HEAD = Call(method="HEAD")


def head(name: str, code: str, *calls: Call, directives: tuple[str, ...] = (), imports: str = "") -> Scenario:
    return Scenario(name, HEAD_AREA, handler(code, imports=imports), calls=calls or (HEAD, Call()),
                    directives=directives or ("SetHandler mod_python", "PythonHandler {mod}"))


HEAD_SCENARIOS = [
    head("head_write", 'req.content_type = "text/plain"\nreq.headers_out["X-H"] = "1"\nreq.write("body\\n")\n'
         "return apache.OK"),
    head("head_header_only", 'req.content_type = "text/plain"\n'
         'req.headers_out["X-Header-Only"] = str(req.header_only)\nreq.write("m=%s" % req.method)\nreturn apache.OK'),
    head("head_buffered", 'req.content_type = "text/plain"\nreq.write("a" * 100, 0)\nreturn apache.OK'),
    head("head_set_content_length", 'req.content_type = "text/plain"\nreq.set_content_length(4)\n'
         'req.write("four")\nreturn apache.OK'),
    head("head_not_found", "return apache.HTTP_NOT_FOUND", Call(method="HEAD", status=404), Call(status=404)),
    head("head_done_empty", "return apache.DONE"),
    head("head_redirect", 'util.redirect(req, "/else")', Call(method="HEAD", status=302), Call(status=302),
         imports="from mod_python import util"),
    head("head_debug_exception", 'raise ValueError("head boom")', Call(method="HEAD", status=500),
         Call(status=500), directives=("SetHandler mod_python", "PythonHandler {mod}", "PythonDebug On")),
    head("head_status_created", 'req.status = apache.HTTP_CREATED\nreq.write("c")\nreturn apache.OK',
         Call(method="HEAD", status=201), Call(status=201)),
]

SCENARIOS = [*RETURN_SCENARIOS, *HEAD_SCENARIOS]
