"""Fuzz target: PSP's parser (``mod_python._psp_parser.translate``) and the compiled page it produces.

Two kinds of input. A whole page (documented errors: ``PSPParseError`` from the translation, and the
``SyntaxError``/``ValueError`` that ``compile`` raises for the page's own bad code, which the PSP handler reports
like any handler error). And a page of arbitrary text around well-formed expression sections (``<%= n %>``), which
must translate, compile and write back exactly its text (CRLF as LF) and the expressions' values: text never
becomes code.
Includes resolve to a fixed snippet or, for one name, the page itself (the include limit must stop it).
"""

from __future__ import annotations

from typing import Callable

import atheris

from _harness import instrumented, main

with instrumented("mod_python._psp_parser"):
    from mod_python._psp_parser import PSPParseError, decode_page, translate

SNIPPET = 'included <%= "i" %>\n'


class _Writer:
    def __init__(self) -> None:
        self.out: list[str] = []

    def write(self, text: str, flush: int = 1) -> None:
        self.out.append(text)


def _include_for(page: str) -> Callable[[str], str]:
    def include(name: str) -> str:
        if name == "self":
            return page
        if name == "snippet":
            return SNIPPET
        raise PSPParseError(f"include of {name!r} is not available here")
    return include


def _whole_page(page: str) -> None:
    try:
        source = translate(page, _include_for(page))
    except PSPParseError:
        return
    try:
        compile(source, "__psp__", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass  # the page's own code is wrong: the handler reports it with the page's line numbers


def _no_tags(text: str) -> str:
    while "<%" in text:
        text = text.replace("<%", "<")
    return text


def _text_page(pieces: list[str]) -> None:
    texts = [_no_tags(piece) for piece in pieces]
    page = "".join(text + (f"<%= {index} %>" if index < len(texts) - 1 else "") for index, text in enumerate(texts))
    source = translate(page)
    writer = _Writer()
    exec(compile(source, "__psp__", "exec", dont_inherit=True), {"req": writer, "str": str})  # noqa: S102
    # CRLF in page text becomes LF (documented: the page's lines are Python source lines).
    expected = "".join(text.replace("\r\n", "\n") + (str(index) if index < len(texts) - 1 else "")
                       for index, text in enumerate(texts))
    got = "".join(writer.out)
    assert got == expected, f"page {page!r} wrote {got!r}"


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        _whole_page(decode_page(fdp.ConsumeBytes(fdp.remaining_bytes())))
    else:
        count = fdp.ConsumeIntInRange(1, 4)
        pieces = [fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64)) for _ in range(count)]
        _text_page(pieces)


def seeds() -> list[bytes]:
    pages = [b"<html>\n<% for i in range(3): %>\n<p><%= i %></p>\n<% %>\n</html>\n",
             b'<%@ include file="snippet" %>text\\ "quoted" \r\n<%-- comment --%>',
             b"<% if 1:\n    x = 1\n%>yes<%\n%>\n", b'<%@ include file="self" %>']
    return [b"\x01" + page for page in pages] + [b"\x00\x02\x05a\\b\"c\x04\r\x00\n"]


if __name__ == "__main__":
    main(test_one_input, seeds)
