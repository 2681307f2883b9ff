"""Query strings and Unicode.

Query strings with repeated, blank and encoded keys, through req.args, util.parse_qs/parse_qsl and FieldStorage.

mod_python's C parse_qs/parse_qsl corrupt pairs when given a str on Python 3 (keys come back equal to their values
for short keys: `a=1&b=2` gives `[('1', '1'), ('2', '2')]`, docs/mod_python-facts.md §10); FieldStorage,
the publisher and PSP's `form` inherit it. Those scenarios are intended differences with the daemon's correct answer
asserted; parsing the same bytes works in mod_python and must match.

Non-ASCII text in URLs, request and response headers, bodies and the error log (docs/mod_python-facts.md §5
"String typing on Py3": values out of Apache are decoded as UTF-8, values into Apache must be Latin-1 or bytes)."""
from __future__ import annotations

from ..scenario import Call, Expect, Scenario, handler, mod_python_bug, show
from .bodies import FORM_TYPES

QUERY_AREA = "query strings"
PARSE_QS_BUG = mod_python_bug(
    "mod_python's C parse_qs/parse_qsl read stale pointers after _PyBytes_Resize when given a str, so keys come back "
    "equal to their values (a=1&b=2 -> [('1', '1'), ('2', '2')])")
UTIL = "from mod_python import util"


def q(name: str, *expressions: str, calls: tuple[Call, ...]) -> Scenario:
    return Scenario(name, QUERY_AREA, show(*expressions, imports=UTIL), calls=calls)


def bug(name: str, expression: str, query: str, theirs: bytes, ours: bytes) -> Scenario:
    return Scenario(name, QUERY_AREA, show(expression, imports=UTIL), intended_difference=PARSE_QS_BUG,
                    calls=(Call("?" + query, expect=Expect(contains=[theirs]),
                                daemon=Expect(status=200, contains=[ours])),))


QUERY_SCENARIOS = [
    q("q_args_raw", "req.args", "req.unparsed_uri",
      calls=(Call("?a=1&b=2&a=3"), Call("?"), Call(), Call("?flag"), Call("?a=1;b=2"), Call("?%61%3D=x%26y"))),
    q("q_parse_qs_bytes", "util.parse_qs(req.args.encode())", "util.parse_qsl(req.args.encode())",
      calls=(Call("?a=1&b=2&a=3"), Call("?sp+ace=x%20y&%61=1"))),
    q("q_parse_qs_bytes_blank", "util.parse_qs(req.args.encode(), 1)", "util.parse_qsl(req.args.encode(), 1)",
      "util.parse_qsl(req.args.encode())", calls=(Call("?a=&b=1&c"),)),
    q("q_parse_qs_str", "util.parse_qs(req.args)", "util.parse_qs(req.args, 1)",
      calls=(Call("?a=1&b=2&a=3"), Call("?key=&other=v"))),
    bug("q_parse_qsl_str", "util.parse_qsl(req.args)", "a=1&b=2",
        b"[('1', '1'), ('2', '2')]", b"[('a', '1'), ('b', '2')]"),
    bug("q_parse_qsl_encoded", "util.parse_qsl(req.args)", "%61%62=c+d&x%3D=%26",
        b"('c d', 'c d')", b"[('ab', 'c d'), ('x=', '&')]"),
    bug("q_fieldstorage_getlist", "util.FieldStorage(req).getlist('a')", "a=1&b=2&a=3",
        b"= []", b"= [Field('a', '1'), Field('a', '3')]"),
    q("q_fieldstorage_getfirst", "util.FieldStorage(req).getfirst('name')", calls=(Call("?name=value&x=y"),)),
    bug("q_fieldstorage_keys", "sorted(util.FieldStorage(req, keep_blank_values=1).keys())", "a=1&b=&c=3",
        b"['1', '3', 'b']", b"['a', 'b', 'c']"),
    q("q_fieldstorage_no_query", "util.FieldStorage(req).list", "len(util.FieldStorage(req))", calls=(Call(),)),
    q("q_long_query", "len(req.args)", "req.args[-10:]", calls=(Call("?" + "k=v&" * 1500 + "end=1"),)),
]


UNICODE_AREA = "unicode"
URI = ("req.uri", "req.unparsed_uri", "req.args", "req.the_request")
STRICT_UTF8 = mod_python_bug(
    "mod_python decodes what comes out of Apache with PyUnicode_FromString, strict UTF-8, so a request path or header "
    "that is not UTF-8 makes the attribute raise UnicodeDecodeError; the daemon falls back to Latin-1 for that value")


def uni(name: str, source: str, *calls: Call) -> Scenario:
    return Scenario(name, UNICODE_AREA, source, calls=calls or (Call(),))


UNICODE_SCENARIOS = [
    uni("uni_path_percent_utf8", show(*URI), Call("caf%C3%A9/%E2%98%83?q=caf%C3%A9")),
    uni("uni_path_raw_utf8", show(*URI), Call("caf\u00e9/\u2603?q=\u00e9")),
    Scenario("uni_path_percent_latin1", UNICODE_AREA, show(*URI), intended_difference=STRICT_UTF8,
             calls=(Call("caf%E9", expect=Expect(contains=[b"req.uri = raised UnicodeDecodeError"]),
                         daemon=Expect(status=200,
                                       contains=[b"req.uri = '/cf/uni_path_percent_latin1/caf\xc3\xa9'"])),)),
    uni("uni_path_encoded_slash", show(*URI), Call("a%2Fb", status=404), Call("a%20b%2Bc")),
    uni("uni_query_raw_utf8", show("req.args", "req.parsed_uri[apache.URI_QUERY]"), Call("?k=\u00e9\u2603")),
    uni("uni_header_in_utf8", show("req.headers_in.get('X-Name')"), Call(headers=[("X-Name", "caf\u00e9 \u2603")])),
    Scenario("uni_header_in_latin1", UNICODE_AREA, show("req.headers_in.get('X-Name')"),
             intended_difference=STRICT_UTF8,
             calls=(Call(headers=[("X-Name", b"caf\xe9")], expect=Expect(contains=[b"raised UnicodeDecodeError"]),
                         daemon=Expect(status=200, body=b"req.headers_in.get('X-Name') = 'caf\xc3\xa9'\n")),)),
    uni("uni_header_out_latin1", handler('req.content_type = "text/plain"\nreq.headers_out["X-Out"] = "caf\\u00e9"\n'
                                         'req.write("ok")\nreturn apache.OK')),
    uni("uni_header_out_bytes", handler('req.content_type = "text/plain"\nreq.headers_out["X-Out"] = b"caf\\xc3\\xa9"\n'
                                        'req.write(repr(req.headers_out["X-Out"]))\nreturn apache.OK')),
    uni("uni_header_out_non_latin1", handler('req.content_type = "text/plain"\n'
                                             'req.headers_out["X-Out"] = "snow \\u2603"\nreq.write("ok")\n'
                                             "return apache.OK"), Call(status=500)),
    uni("uni_content_type_non_latin1", handler('req.content_type = "text/plain; x=\\u2603"\nreq.write("ok")\n'
                                               "return apache.OK"), Call(status=500)),
    uni("uni_write_str", handler('req.content_type = "text/plain; charset=utf-8"\n'
                                 'req.write("caf\\u00e9 \\u2603 \\U0001F600")\nreturn apache.OK')),
    uni("uni_write_surrogate", handler('req.content_type = "text/plain"\nreq.write("bad \\udc80")\nreturn apache.OK'),
        Call(status=500)),
    Scenario("uni_form_urlencoded", UNICODE_AREA,
             handler('fs = util.FieldStorage(req)\nreq.content_type = "text/plain"\n'
                     'req.write(repr([(f.name, f.value) for f in fs.list]))\nreturn apache.OK',
                     imports="from mod_python import util"),
             intended_difference=FORM_TYPES,
             calls=(Call(method="POST", body="k=caf%C3%A9&\u00e9=raw".encode(),
                         headers=[("Content-Type", "application/x-www-form-urlencoded")],
                         expect=Expect(body=b"[(b'k', b'caf\\xc3\\xa9'), (b'\\xc3\\xa9', b'raw')]"),
                         daemon=Expect(status=200, body="[('k', 'caf\u00e9'), ('\u00e9', 'raw')]".encode())),)),
    uni("uni_log_error", handler('req.log_error("caf\\u00e9 \\u2603 logged")\nreq.content_type = "text/plain"\n'
                                 'req.write("ok")\nreturn apache.OK')),
    uni("uni_location_header", handler('req.headers_out["Location"] = "/caf%C3%A9"\n'
                                       "return apache.HTTP_MOVED_TEMPORARILY"), Call(status=302)),
]


SCENARIOS = [*QUERY_SCENARIOS, *UNICODE_SCENARIOS]
