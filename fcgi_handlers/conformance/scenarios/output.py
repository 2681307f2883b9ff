"""Tables and output timing.

mod_python's table (docs/mod_python-facts.md §6): case-insensitive keys, duplicates kept, `t[k]` a list when
a key repeats, `get` the first value; and what headers_out/err_headers_out tables put on the wire.

Output and header timing (docs/mod_python-facts.md §8): headers leave with the first flushed
`req.write()`, after which status, headers and content type changes are ignored; `write(s, 0)` buffers up to about
8 KB; set_content_length, sendfile, no_cache, Last-Modified and conditional requests."""
from __future__ import annotations

from ..scenario import NO_ANSWER, Call, Expect, Scenario, fastcgi_limit, handler, mod_python_bug, show

TABLES_AREA = "tables"


def table_show(name: str, setup: str, *expressions: str) -> Scenario:
    return Scenario(name, TABLES_AREA, show(*expressions, setup=setup))


FOLDED = fastcgi_limit("mod_proxy_fcgi folds a repeated response header other than Set-Cookie into one "
                       "comma-separated line (same meaning, RFC 9110 §5.3); mod_python sends one line per value")

TABLE_SCENARIOS = [
    table_show("tbl_case_insensitive", "t = apache.table()\nt['Foo'] = '1'",
               "t['foo']", "t.get('FOO')", "'fOo' in t", "t.get('bar', 'dflt')", "list(t.keys())"),
    table_show("tbl_duplicates", "t = apache.table()\nt['Foo'] = '1'\nt.add('foo', '2')\nt.add('FOO', '3')",
               "t['foo']", "t.get('foo')", "list(t.keys())", "list(t.values())", "list(t.items())", "len(t)"),
    table_show("tbl_set_replaces", "t = apache.table()\nt.add('a', '1')\nt.add('A', '2')\nt['a'] = '3'",
               "t['A']", "list(t.items())", "len(t)"),
    table_show("tbl_delete", "t = apache.table()\nt.add('a', '1')\nt.add('A', '2')\nt.add('b', '3')\ndel t['a']",
               "list(t.items())", "'a' in t", "t.get('a')"),
    table_show("tbl_missing_key", "t = apache.table()", "t['nope']", "t.get('nope')", "len(t)"),
    table_show("tbl_setdefault", "t = apache.table()\nt['a'] = '1'",
               "t.setdefault('a', 'x')", "t.setdefault('a')", "t.setdefault('b')", "list(t.items())"),
    Scenario("tbl_setdefault_new_key", TABLES_AREA,
             show("t.setdefault('c', 'z')", "list(t.items())", setup="t = apache.table()"),
             intended_difference=mod_python_bug(
                 "mp_table.setdefault(key, value) for a missing key crashes the Apache child (the client gets no "
                 "answer); the daemon stores and returns the value"),
             calls=(Call(status=NO_ANSWER, daemon=Expect(status=200, body=b"t.setdefault('c', 'z') = 'z'\n"
                                                         b"list(t.items()) = [('c', 'z')]\n")),)),
    table_show("tbl_copy", "t = apache.table()\nt.add('a', '1')\nt.add('b', '2')\nc = t.copy()\nc['b'] = '3'",
               "list(c.items())", "list(t.items())", "type(c) is type(t)"),
    Scenario("tbl_copy_duplicates", TABLES_AREA,
             show("list(t.copy().items())",
                  setup="t = apache.table()\nt.add('a', '1')\nt.add('a', '2')\nt.add('b', '3')"),
             intended_difference=mod_python_bug(
                 "mp_table.copy() (tableobject.c's table_copy, every mod_python version) fills the new table with "
                 "apr_table_overlap(to, from, APR_OVERLAP_TABLES_SET) instead of apr_table_copy, so a repeated key "
                 "keeps only its last value: the copy differs from its source although the same type keeps and "
                 "returns repeated keys everywhere else (t[k] gives the list), and a copy of headers_out loses all "
                 "but one Set-Cookie; nothing documents the collapse as intended. The daemon's copy keeps every "
                 "entry"),
             calls=(Call(expect=Expect(contains=[b"[('a', '2'), ('b', '3')]"]),
                         daemon=Expect(status=200, contains=[b"[('a', '1'), ('a', '2'), ('b', '3')]"])),)),
    table_show("tbl_update", "t = apache.table()\nt['a'] = '1'\nt.update({'A': '2', 'b': '3'})",
               "sorted(t.items())", "len(t)"),
    table_show("tbl_clear", "t = apache.table()\nt['a'] = '1'\nt.clear()", "len(t)", "list(t.keys())"),
    table_show("tbl_constructor", "t = apache.table([('a', '1'), ('A', '2'), ('b', '3')])",
               "t['a']", "list(t.items())", "len(apache.table({'x': 'y'}))", "len(apache.make_table())"),
    table_show("tbl_iteration", "t = apache.table()\nt['b'] = '1'\nt['a'] = '2'\nt.add('b', '3')",
               "[k for k in t]", "list(t)", "sorted(t.keys())"),
    table_show("tbl_value_types", "t = apache.table()",
               "t.__setitem__('n', 5)", "t.__setitem__('b', b'x')", "t.get('b')", "t.__setitem__(1, 'x')"),
    Scenario("tbl_popitem", TABLES_AREA,
             show("t.popitem()", "list(t.items())",
                  setup="t = apache.table()\nt['a'] = '1'\nt['b'] = '2'\nt['c'] = '3'"),
             intended_difference=mod_python_bug("mp_table.popitem() returns one entry but removes another"),
             calls=(Call(daemon=Expect(status=200, contains=[b"t.popitem() = ('c', '3')",
                                                            b"[('a', '1'), ('b', '2')]"])),)),
    table_show("tbl_unhashable", "t = apache.table()", "hash(t)"),
    table_show("tbl_type_name", "t = apache.table()", "type(t).__name__", "type(req.headers_in).__name__",
               "type(req.notes).__name__", "isinstance(req.headers_out, apache.table)"),
    table_show("tbl_headers_in_items", "pass", "sorted(k.lower() for k in req.headers_in.keys())"),
    Scenario("tbl_headers_out_repeated", TABLES_AREA, handler(
        'req.content_type = "text/plain"\nreq.headers_out.add("X-Multi", "a")\nreq.headers_out.add("X-Multi", "b")\n'
        'req.write("ok")\nreturn apache.OK'), intended_difference=FOLDED,
        calls=(Call(expect=Expect(headers={"X-Multi": "a"}), daemon=Expect(status=200, headers={"X-Multi": "a, b"})),)),
    Scenario("tbl_set_cookie_repeated", TABLES_AREA, handler(
        'req.content_type = "text/plain"\nreq.headers_out.add("Set-Cookie", "one=1")\n'
        'req.headers_out.add("Set-Cookie", "two=2")\nreq.write("ok")\nreturn apache.OK')),
    Scenario("tbl_err_headers_out_on_success", TABLES_AREA, handler(
        'req.content_type = "text/plain"\nreq.err_headers_out["X-Err"] = "e"\nreq.headers_out["X-Out"] = "o"\n'
        'req.write("ok")\nreturn apache.OK')),
    Scenario("tbl_both_tables_same_name", TABLES_AREA, handler(
        'req.content_type = "text/plain"\nreq.err_headers_out["X-Both"] = "err"\nreq.headers_out["X-Both"] = "out"\n'
        'req.write("ok")\nreturn apache.OK'), intended_difference=FOLDED,
        calls=(Call(expect=Expect(headers={"X-Both": "out"}),
                    daemon=Expect(status=200, headers={"X-Both": "err, out"})),)),
    Scenario("tbl_headers_out_delete", TABLES_AREA, handler(
        'req.content_type = "text/plain"\nreq.headers_out["X-Gone"] = "1"\ndel req.headers_out["X-Gone"]\n'
        'req.headers_out["X-Stay"] = "2"\nreq.write("ok")\nreturn apache.OK')),
    Scenario("tbl_content_type_header", TABLES_AREA, handler(
        'req.headers_out["Content-Type"] = "text/x-from-table"\nreq.write("ok")\nreturn apache.OK'),
        description="Apache takes Content-Type from r->content_type, not from headers_out"),
]


OUTPUT_AREA = "output timing"
OUTPUT_FILES = {"data.bin": bytes(range(256)) * 4, "page.txt": b"static page\n"}


def out(name: str, code: str, *calls: Call, files: dict[str, bytes] = {}, imports: str = "") -> Scenario:
    return Scenario(name, OUTPUT_AREA, handler(code, imports=imports), calls=calls or (Call(),), files=files)


OUTPUT_SCENARIOS = [
    out("out_headers_after_write", 'req.content_type = "text/plain"\nreq.headers_out["X-Before"] = "1"\n'
        'req.write("body\\n")\nreq.headers_out["X-After"] = "1"\nreq.status = 404\n'
        'req.content_type = "text/html"\nreturn apache.OK'),
    out("out_buffered_then_header", 'req.content_type = "text/plain"\nreq.write("a" * 10, 0)\n'
        'req.headers_out["X-Late"] = "sent"\nreq.write("b" * 15, 0)\nreturn apache.OK'),
    out("out_buffer_overflow", 'req.content_type = "text/plain"\nreq.write("x" * 100000, 0)\n'
        'req.headers_out["X-Late"] = "lost"\nreturn apache.OK'),
    out("out_flush_sends_headers", 'req.content_type = "text/plain"\nreq.write("a", 0)\nreq.flush()\n'
        'req.headers_out["X-Late"] = "lost"\nreq.write("b")\nreturn apache.OK'),
    out("out_empty_write", 'req.content_type = "text/plain"\nreq.write("")\nreq.headers_out["X-Late"] = "?"\n'
        'req.write("x")\nreturn apache.OK'),
    out("out_empty_write_after_buffered", 'req.content_type = "text/plain"\nreq.write("a", 0)\nreq.write("")\n'
        'req.headers_out["X-Late"] = "?"\nreq.write("b")\nreturn apache.OK'),
    out("out_set_content_length", 'req.content_type = "text/plain"\nreq.set_content_length(5)\n'
        'req.write("12345")\nreturn apache.OK'),
    out("out_content_length_header", 'req.content_type = "text/plain"\nreq.headers_out["Content-Length"] = "3"\n'
        'req.write("abc", 0)\nreturn apache.OK'),
    out("out_no_content_type", 'req.write("no type")\nreturn apache.OK'),
    out("out_content_type_charset", 'req.content_type = "text/html; charset=utf-8"\nreq.write("<p>x</p>")\n'
        "return apache.OK"),
    out("out_write_bytes", 'req.content_type = "application/octet-stream"\nreq.write(bytes(range(256)))\n'
        "return apache.OK"),
    out("out_write_bytearray", 'req.content_type = "text/plain"\nreq.write(bytearray(b"ba"))\nreturn apache.OK',
        Call(status=500)),
    out("out_write_memoryview", 'req.content_type = "text/plain"\nreq.write(memoryview(b"mv"))\nreturn apache.OK',
        Call(status=500)),
    out("out_write_int", 'req.content_type = "text/plain"\nreq.write(5)\nreturn apache.OK', Call(status=500)),
    out("out_many_writes", 'req.content_type = "text/plain"\nfor i in range(2000):\n    req.write("%d\\n" % i)\n'
        "return apache.OK"),
    out("out_large_body", 'req.content_type = "text/plain"\nreq.write("0123456789abcdef" * 300000)\n'
        "return apache.OK"),
    out("out_status_before_write", 'req.status = apache.HTTP_CREATED\nreq.content_type = "text/plain"\n'
        'req.write("made")\nreturn apache.OK', Call(status=201)),
    out("out_send_http_header", 'req.content_type = "text/plain"\nreq.send_http_header()\n'
        'req.headers_out["X-After-Send"] = "1"\nreq.write("x")\nreturn apache.OK'),
    out("out_no_cache", 'req.content_type = "text/plain"\nreq.no_cache = 1\nreq.write("x")\nreturn apache.OK'),
    out("out_last_modified", 'req.content_type = "text/plain"\nreq.update_mtime(1000000000)\n'
        'req.set_last_modified()\nreq.write("x")\nreturn apache.OK'),
    out("out_update_mtime_keeps_newest", 'req.content_type = "text/plain"\nreq.update_mtime(1000000000)\n'
        'req.update_mtime(900000000)\nreq.write(repr(req.mtime))\nreturn apache.OK'),
    out("out_meets_conditions", 'req.content_type = "text/plain"\nreq.update_mtime(1000000000)\n'
        "req.set_last_modified()\nstatus = req.meets_conditions()\nif status != apache.OK:\n    return status\n"
        'req.write("fresh")\nreturn apache.OK',
        Call(), Call(headers=[("If-Modified-Since", "Sun, 09 Sep 2001 01:46:40 GMT")], status=304),
        Call(headers=[("If-Modified-Since", "Sat, 08 Sep 2001 01:46:40 GMT")])),
    out("out_sendfile", 'req.content_type = "application/octet-stream"\n'
        'sent = req.sendfile("{dir}/data.bin")\nreq.write(b"|%d" % sent)\nreturn apache.OK', files=OUTPUT_FILES),
    out("out_sendfile_range", 'req.content_type = "application/octet-stream"\n'
        'sent = req.sendfile("{dir}/data.bin", 10, 20)\nreq.write(b"|%d" % sent)\nreturn apache.OK',
        files=OUTPUT_FILES),
    out("out_sendfile_missing", 'req.content_type = "text/plain"\nreq.sendfile("{dir}/nope.bin")\n'
        "return apache.OK", Call(status=500), files=OUTPUT_FILES),
    out("out_bytes_sent", 'req.content_type = "text/plain"\nreq.write("12345")\nreq.write(" %d" % req.bytes_sent)\n'
        "return apache.OK"),
    out("out_write_after_done", 'req.content_type = "text/plain"\nreq.write("a")\nreq.write("b", 0)\n'
        "return apache.DONE"),
    out("out_status_line_after_write", 'req.content_type = "text/plain"\nbefore = req.status_line\n'
        'req.write("x")\nreq.write(" %r %r" % (before, req.status_line))\nreturn apache.OK'),
    out("out_chunked_flag_after_write", 'req.content_type = "text/plain"\nbefore = req.chunked\n'
        'req.write("x")\nreq.write(" %r %r" % (before, req.chunked))\nreturn apache.OK'),
]

SCENARIOS = [*TABLE_SCENARIOS, *OUTPUT_SCENARIOS]
