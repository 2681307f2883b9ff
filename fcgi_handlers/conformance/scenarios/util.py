"""mod_python.util (docs/mod_python-facts.md §7): redirect, FieldStorage's mapping API and its errors (411, 400,
501), Field attributes, parse_header, apply_fs_data. FieldStorage's Python 3 type mix (bytes names and values for
urlencoded POST, bytes values for multipart, str for the query) is a mod_python bug the daemon does not copy."""
from __future__ import annotations

from dataclasses import replace

from ..scenario import Call, Expect, Scenario, handler, improvement, show
from .bodies import FORM_TYPES, MULTIPART, URLENCODED, multipart
from .strings import PARSE_QS_BUG

AREA = "util"
IMPORTS = "from mod_python import util"


def post(data: bytes, ctype: str = URLENCODED) -> Call:
    return Call(method="POST", body=data, headers=[("Content-Type", ctype)])


def util_scenario(name: str, code: str, *calls: Call) -> Scenario:
    return Scenario(name, AREA, handler(code, imports=IMPORTS), calls=calls or (Call(),))


def typed(name: str, code: str, call: Call, theirs: Expect, ours: Expect) -> Scenario:
    """A scenario that shows FieldStorage's Python 3 type mix (FORM_TYPES), with both answers asserted."""
    return Scenario(name, AREA, handler(code, imports=IMPORTS), intended_difference=FORM_TYPES,
                    calls=(replace(call, expect=theirs, daemon=ours),))


SCENARIOS = [
    util_scenario("util_redirect", 'util.redirect(req, "/somewhere/else")', Call(status=302)),
    util_scenario("util_redirect_permanent_text", 'util.redirect(req, "/moved", permanent=1, text="moved!")',
                  Call(status=301)),
    replace(util_scenario("util_redirect_absolute", 'util.redirect(req, "http://example.com/a?b=<c>&d")'),
            intended_difference=improvement(
                "security: the daemon's util.redirect() HTML-escapes the location in its default body, so a location "
                "built from request data cannot inject markup (XSS); mod_python writes it into the href as given"),
            calls=(Call(status=302, expect=Expect(contains=[b'href="http://example.com/a?b=<c>&d"']),
                        daemon=Expect(status=302, headers={"Location": "http://example.com/a?b=<c>&d"},
                                      contains=[b'href="http://example.com/a?b=&lt;c&gt;&amp;d"'])),)),
    util_scenario("util_redirect_after_output", 'req.content_type = "text/plain"\nreq.write("early")\n'
                  'util.redirect(req, "/late")'),
    util_scenario("util_redirect_keeps_err_headers", 'req.err_headers_out["X-Kept"] = "1"\n'
                  'req.headers_out["X-Lost"] = "1"\nutil.redirect(req, "/x")', Call(status=302)),
    Scenario("util_form_urlencoded_types", AREA, show(
        "[(type(f.name).__name__, type(f.value).__name__) for f in util.FieldStorage(req).list]", imports=IMPORTS),
        intended_difference=FORM_TYPES,
        calls=(Call(method="POST", body=b"a=1&b=2", headers=[("Content-Type", URLENCODED)],
                    expect=Expect(contains=[b"[('bytes', 'bytes'), ('bytes', 'bytes')]"]),
                    daemon=Expect(status=200, contains=[b"[('str', 'str'), ('str', 'str')]"])),)),
    Scenario("util_form_multipart_types", AREA, show(
        "[(f.name, type(f.value).__name__, f.filename) for f in util.FieldStorage(req).list]", imports=IMPORTS),
        intended_difference=FORM_TYPES,
        calls=(Call(method="POST", body=multipart(("t", "", b"text", ""), ("f", "f.txt", b"file", "text/plain")),
                    headers=[("Content-Type", MULTIPART)],
                    expect=Expect(contains=[b"('t', 'bytes', None)"]),
                    daemon=Expect(status=200, contains=[b"('t', 'str', None)", b"('f', 'bytes', 'f.txt')"])),)),
    typed("util_form_mapping_api", 'fs = util.FieldStorage(req, keep_blank_values=1)\n'
          'req.content_type = "text/plain"\n'
          'req.write(repr((len(fs), "x" in fs, fs.has_key("y"), fs.get("nope", "d"), '
          'len(fs.getlist("x")))))\nreturn apache.OK', post(b"x=1&x=2&y="),
          Expect(body=b"(2, False, False, 'd', 0)"), Expect(status=200, body=b"(2, True, True, 'd', 2)")),
    Scenario("util_form_mapping_api_query", AREA, handler('fs = util.FieldStorage(req, keep_blank_values=1)\n'
             'req.content_type = "text/plain"\n'
             'req.write(repr((len(fs), "xx" in fs, fs.has_key("yy"), fs.get("nope", "d"), '
             'len(fs.getlist("xx")))))\nreturn apache.OK', imports=IMPORTS), intended_difference=PARSE_QS_BUG,
             calls=(Call("?xx=11&xx=22&yy=", expect=Expect(body=b"(3, False, True, 'd', 0)"),
                         daemon=Expect(status=200, body=b"(2, True, True, 'd', 2)")),)),
    typed("util_form_file_field", 'fs = util.FieldStorage(req)\nf = fs["up"]\n'
          'req.content_type = "text/plain"\n'
          'req.write(repr((f.name, f.filename, f.type, f.type_options, f.disposition, '
          'f.disposition_options, f.file.read(), sorted(k.lower() for k in f.headers.keys()))))\n'
          "return apache.OK",
          post(multipart(("up", "u.txt", b"uploaded\r\ndata", "text/plain; charset=utf-8")), MULTIPART),
          Expect(contains=[b"{b'charset': 'utf-8'}"]),
          Expect(status=200, body=b"('up', 'u.txt', 'text/plain', {'charset': 'utf-8'}, 'form-data', "
                                  b"{'name': 'up', 'filename': 'u.txt'}, b'uploaded\\r\\ndata', "
                                  b"['content-disposition', 'content-type'])")),
    util_scenario("util_form_file_callback", 'names = []\ndef cb(filename):\n    names.append(filename)\n'
                  '    import io\n    return io.BytesIO()\nfs = util.FieldStorage(req, file_callback=cb)\n'
                  'req.content_type = "text/plain"\nreq.write(repr(names))\nreturn apache.OK',
                  post(multipart(("a", "one.bin", b"1", ""), ("b", "two.bin", b"2", "")), MULTIPART)),
    util_scenario("util_form_unknown_type", "util.FieldStorage(req)\nreturn apache.OK",
                  Call(method="POST", body=b"<x/>", headers=[("Content-Type", "text/xml")], status=501)),
    util_scenario("util_form_bad_boundary", "util.FieldStorage(req)\nreturn apache.OK",
                  Call(method="POST", body=b"no parts here", headers=[("Content-Type", "multipart/form-data")],
                       status=400)),
    util_scenario("util_form_put_ignores_body", 'fs = util.FieldStorage(req)\nreq.content_type = "text/plain"\n'
                  'req.write(repr(fs.keys()))\nreturn apache.OK',
                  Call(method="PUT", body=b"a=1", headers=[("Content-Type", URLENCODED)])),
    util_scenario("util_form_no_content_type", 'fs = util.FieldStorage(req)\nreq.content_type = "text/plain"\n'
                  'req.write(repr(len(fs)))\nreturn apache.OK', Call(method="POST", body=b"a=1&b=2")),
    util_scenario("util_form_empty_post", 'fs = util.FieldStorage(req)\nreq.content_type = "text/plain"\n'
                  'req.write(repr(len(fs)))\nreturn apache.OK', post(b"")),
    typed("util_parse_header", 'req.content_type = "text/plain"\n'
          'req.write(repr(util.parse_header(b\'form-data; name="x"; filename="a b.txt"\')))\n'
          "return apache.OK", Call(), Expect(body=b"(b'form-data', {b'name': 'x', b'filename': 'a b.txt'})"),
          Expect(status=200, body=b"('form-data', {'name': 'x', 'filename': 'a b.txt'})")),
    typed("util_apply_fs_data", 'def target(a, b=2, **kw):\n    return (a, b, sorted(kw))\n'
          'fs = util.FieldStorage(req)\nreq.content_type = "text/plain"\n'
          'req.write(repr(util.apply_fs_data(target, fs)))\nreturn apache.OK',
          replace(post(b"a=1&b=x&c=3"), status=500),
          Expect(), Expect(status=200, body=b"('1', 'x', ['c'])")),
    util_scenario("util_apply_fs_data_query", 'def target(alpha, beta=2, **kw):\n'
                  '    return (alpha, beta, sorted(kw))\nfs = util.FieldStorage(req)\n'
                  'req.content_type = "text/plain"\nreq.write(repr(util.apply_fs_data(target, fs)))\nreturn apache.OK',
                  Call("?alpha=one&beta=xx&gamma=333")),
    util_scenario("util_apply_fs_data_drops_unknown", 'def target(a):\n    return a\n'
                  'fs = util.FieldStorage(req)\nreq.content_type = "text/plain"\n'
                  'req.write(repr(util.apply_fs_data(target, fs, a="given")))\nreturn apache.OK',
                  Call(method="POST", body=b"zz=1", headers=[("Content-Type", URLENCODED)])),
]
