"""Request bodies through req.read/readline/readlines and FieldStorage: urlencoded, multipart, binary, empty, 10 MB,
and chunked (docs/mod_python-facts.md §5: a chunked body makes req.read() raise SERVER_RETURN(411))."""
from __future__ import annotations

import functools
from dataclasses import replace
import hashlib

from ..scenario import Call, Expect, Scenario, handler, improvement, mod_python_bug

AREA = "request bodies"
BOUNDARY = "cfboundary"
DIGEST = '''data = req.read()
req.content_type = "text/plain"
req.write("%d %s" % (len(data), hashlib.sha256(data).hexdigest()))
return apache.OK'''
LINES = '''digest, count, size = hashlib.sha256(), 0, 0
while True:
    line = req.readline()
    if not line:
        break
    digest.update(line)
    count += 1
    size += len(line)
req.content_type = "text/plain"
req.write("%d %d %s" % (count, size, digest.hexdigest()))
return apache.OK'''
FORM = '''fs = util.FieldStorage(req, keep_blank_values=1)
req.content_type = "text/plain"
for field in fs.list:
    value = field.value
    if field.filename:
        req.write("%s upload %s %s %d %s\\n" % (field.name, field.filename, field.type, len(value),
                                                hashlib.sha256(value).hexdigest()))
    else:
        req.write("%s %s %r\\n" % (field.name, type(value).__name__, value))
return apache.OK'''


@functools.lru_cache(maxsize=1)
def ten_megabytes() -> bytes:
    """10 MB of lines of varying length (about 87,000 lines)."""
    parts, size, i = [], 0, 0
    while size < 10 * 1024 * 1024:
        line = b"line %d %s\n" % (i, b"x" * (i % 300))
        parts.append(line)
        size += len(line)
        i += 1
    return b"".join(parts)


def multipart(*parts: tuple[str, str, bytes, str]) -> bytes:
    """A multipart/form-data body: (name, filename or "", data, content type or "") per part."""
    out = b""
    for name, filename, data, ctype in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += (f"Content-Type: {ctype}\r\n" if ctype else "").encode() + b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def body(name: str, code: str, *calls: Call, imports: str = "import hashlib") -> Scenario:
    return Scenario(name, AREA, handler(code, imports=imports), calls=calls)


def form(name: str, call: Call, theirs: Expect, ours: Expect) -> Scenario:
    """A FieldStorage scenario that shows FieldStorage's Python 3 type mix (FORM_TYPES)."""
    return Scenario(name, AREA, handler(FORM, imports="import hashlib\nfrom mod_python import util"),
                    intended_difference=FORM_TYPES, calls=(replace(call, expect=theirs, daemon=ours),))


def post(data: bytes, ctype: str = "application/octet-stream") -> Call:
    return Call(method="POST", headers=[("Content-Type", ctype)], body=data)


def digest_of(data: bytes) -> bytes:
    """What the DIGEST handler answers for `data`."""
    return b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())


FORM_TYPES = mod_python_bug(
    "util.FieldStorage on Python 3 mixes bytes and str: urlencoded POST fields have bytes names and values, multipart "
    "text fields bytes values, parse_header bytes keys, and a field value's str() is \"b'...'\"; so `name in fs`, "
    "getfirst and apply_fs_data miss POST fields. The daemon's util gives str for every non-file field")
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
CHUNKED = improvement(
    "the daemon reads a chunked request body, which mod_python cannot: Apache de-chunks a request body for a FastCGI backend (with CONTENT_LENGTH up to its 16 KB prefetch, streamed "
    "without one past it), and the daemon reads it. mod_python refuses any chunked body (REQUEST_CHUNKED_ERROR: "
    "SERVER_RETURN(411)); once a prefork child has refused one, the SERVER_RETURN its req.read() raises is no "
    "longer the class apache.py catches, and later ones in that child answer 500 (observed). Clients that stream "
    "uploads (chunked transfer coding) work behind the daemon")

SCENARIOS = [
    body("body_read_urlencoded", DIGEST, post(b"a=1&b=2&c=%20x", URLENCODED)),
    body("body_read_binary", DIGEST, post(bytes(range(256)) * 64)),
    body("body_read_empty", DIGEST, post(b"")),
    body("body_read_on_get", DIGEST, Call()),
    body("body_read_put", DIGEST, Call(method="PUT", body=b"put body\x00\xff")),
    body("body_read_partial", 'req.content_type = "text/plain"\na = req.read(5)\nb = req.read(3)\nc = req.read()\n'
         'd = req.read()\nreq.write(repr((a, b, c, d)))\nreturn apache.OK', post(b"0123456789abcdef")),
    body("body_read_zero", 'req.content_type = "text/plain"\nreq.write(repr((req.read(0), req.read())))\n'
         "return apache.OK", post(b"xyz")),
    body("body_readline", LINES, post(b"one\ntwo\r\nthree\n\nlast without newline")),
    body("body_readline_limit", 'req.content_type = "text/plain"\n'
         "req.write(repr([req.readline(3), req.readline(3), req.readline(), req.readline(100), req.readline()]))\n"
         "return apache.OK", post(b"abcdef\nghi\n")),
    body("body_readlines", 'req.content_type = "text/plain"\nreq.write(repr(req.readlines()))\nreturn apache.OK',
         post(b"a\nb\n\nc")),
    body("body_readlines_hint", 'req.content_type = "text/plain"\nreq.write(repr(req.readlines(3)))\n'
         "return apache.OK", post(b"ab\ncd\nef\n")),
    body("body_remaining_during_read", 'req.content_type = "text/plain"\nbefore = req.remaining\n'
         "first = req.read(4)\nmiddle = req.remaining\nrest = req.read()\n"
         "req.write(repr((before, first, middle, len(rest), req.remaining)))\nreturn apache.OK", post(b"x" * 10)),
    body("body_discard", 'req.content_type = "text/plain"\nrc = req.discard_request_body()\n'
         "req.write(repr((rc, req.read())))\nreturn apache.OK", post(b"discard me")),
    body("body_10mb_read", DIGEST, post(ten_megabytes())),
    body("body_10mb_readline", LINES, post(ten_megabytes())),
    body("body_content_length_header", 'req.content_type = "text/plain"\n'
         'req.write(repr((req.headers_in.get("Content-Length"), req.headers_in.get("Content-Type"))))\n'
         "return apache.OK", post(b"12345", "text/x-thing")),
    body("body_expect_continue", DIGEST, Call(method="POST", body=b"continued", headers=[("Expect", "100-continue")])),
    form("body_form_urlencoded", post(b"name=value&empty=&sp=a+b%21&u=caf%C3%A9", URLENCODED),
         Expect(contains=[b"b'name' bytes b'value'\n"]),
         Expect(status=200, body=b"name str 'value'\nempty str ''\nsp str 'a b!'\nu str 'caf\xc3\xa9'\n")),
    form("body_form_multipart", post(multipart(
        ("title", "", "caf\u00e9".encode(), ""), ("doc", "d.bin", bytes(range(256)) * 40, "application/octet-stream"),
        ("note", "", b"", "text/plain")), MULTIPART),
        Expect(contains=[b"title bytes b'caf\\xc3\\xa9'\n"]),
        Expect(status=200, contains=[b"title str 'caf\xc3\xa9'\n", b"doc upload d.bin application/octet-stream "
                                     b"10240 ", b"note str ''\n"])),
    body("body_form_multipart_large", FORM, post(multipart(
        ("big", "big.bin", ten_megabytes()[:3 * 1024 * 1024], "application/octet-stream")), MULTIPART),
        imports="import hashlib\nfrom mod_python import util"),
    Scenario("body_chunked_small", AREA, handler(DIGEST, imports="import hashlib"),
             intended_difference=CHUNKED,
             calls=(Call(method="POST", body=b"small chunked body", chunked=True, status=411, alternatives=(500,),
                         daemon=Expect(status=200, body=digest_of(b"small chunked body"))),)),
    Scenario("body_chunked_large", AREA, handler(DIGEST, imports="import hashlib"),
             intended_difference=CHUNKED,
             calls=(Call(method="POST", body=bytes(range(256)) * 1024, chunked=True, status=411, alternatives=(500,),
                         daemon=Expect(status=200, body=digest_of(bytes(range(256)) * 1024))),)),
]
