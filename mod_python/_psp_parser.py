r"""The PSP language translated to Python source: mod_python's flex lexer (`src/psp_parser.l`) redone as a scanner.

Rule: a page written for mod_python must produce the same Python, so its indentation rules carry over unchanged:
- text becomes `req.write(<text as a triple-quoted literal>,0)`; the generated code starts with such a call and the
  text's newlines stay newlines inside the literal, so line N of the page is line N of the generated code
  (includes and multi-line comments aside);
- `<%= expr %>` becomes `req.write(str(expr),0)`; `<%-- ... --%>` is dropped;
  `<%@ include file="name" %>` splices the named file's text in (the caller resolves and reads it);
- `<% code %>`: the code is copied as written. The text after `%>` is indented like the last line of code (a
  `%>` at the start of a line keeps that line's indentation, an empty line clears it), so a block stays open
  across code sections until a section that ends unindented (`<%\n%>` closes it); a `%>` right after a line ending
  in `:` indents the following text by one extra tab.
What mod_python's lexer gets wrong is fixed, because the fixes only turn its errors into working pages:
- every backslash in text is escaped (the lexer escapes only `\n`, `\r` and `\t`, so `a\b` lost its backslash and a
  trailing backslash ended the literal), a lone CR is written as `\r` and a NUL as `\x00`;
- a code section with nothing on its last line gets no `;` (`<% %>` and `<%%>` produced `; ;`, a SyntaxError),
  and one whose last line has code always gets one (`<%x=1\ny=2%>` produced `y=2req.write(...)`);
- an indented `%>` line (`    %>`) indents the text once, not twice (an IndentationError in mod_python);
- spaces after a final `:` still count as "after a colon";
- comments and directives are dropped silently (the lexer echoed them to the process's stdout), a malformed
  include is an error (an include made the C lexer abort the interpreter on Python 3), and str input is accepted
  (`_psp.parsestring` wanted bytes).
Includes are limited to `MAX_INCLUDES` per page, which also stops a page that includes itself.
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional

MAX_INCLUDES = 64

Include = Callable[[str], str]

_OPEN = "<%"
_CLOSE = "%>"
_INCLUDE = re.compile(r'\s*include\s+file\s*=\s*"([^"]+)"\s*\Z')
_TEXT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\r": "\\r", "\x00": "\\x00"}
_TEXT_SPECIAL = re.compile(r'\r\n|[\\"\r\x00]')


class PSPParseError(ValueError):
    """A page the translator cannot turn into Python (malformed or runaway include)."""


def escape_text(text: str) -> str:
    """Page text as the inside of a triple-quoted literal whose value is the text (CRLF becomes LF)."""
    return _TEXT_SPECIAL.sub(lambda m: "\n" if m.group(0) == "\r\n" else _TEXT_ESCAPES[m.group(0)], text)


class _Translator:
    """One pass over a page; `out` collects the generated Python."""

    def __init__(self, source: str, include: Optional[Include]) -> None:
        self.text = source
        self.include = include
        self.includes = 0
        self.out: List[str] = []
        self.pos = 0
        self.in_text = True  # a `req.write("""` literal is open

    def run(self) -> str:
        if not self.text:
            return ""
        self.out.append('req.write("""')
        while self.pos < len(self.text):
            self._text_section()
        if self.in_text:
            self.out.append('""",0)\n')
        return "".join(self.out)

    # --- text ---------------------------------------------------------------------------------------------------------
    def _text_section(self) -> None:
        start = self.pos
        tag = self.text.find(_OPEN, start)
        end = len(self.text) if tag < 0 else tag
        self.out.append(escape_text(self.text[start:end]))
        self.pos = end
        if tag < 0:
            return
        if self.text.startswith("<%--", tag):
            self._skip_to("--%>", tag + 4)
        elif self.text.startswith("<%@", tag):
            self._directive(tag)
        elif self.text.startswith("<%=", tag):
            self.out.append('""",0); req.write(str(')
            self._code_section(tag + 3, echo=True)
        else:
            self.out.append('""",0);')
            self._code_section(tag + 2, echo=False)

    def _skip_to(self, marker: str, start: int) -> int:
        """Move past `marker` (or to the end of the page when it never comes); returns where the marker began."""
        found = self.text.find(marker, start)
        self.pos = len(self.text) if found < 0 else found + len(marker)
        return len(self.text) if found < 0 else found

    def _directive(self, tag: int) -> None:
        body_end = self._skip_to(_CLOSE, tag + 3)
        body = self.text[tag + 3:body_end]
        if not body.strip().startswith("include"):
            return  # mod_python ignores every other directive
        match = _INCLUDE.match(body)
        if match is None:
            raise PSPParseError(f"malformed include directive <%@{body}%> (expected include file=\"name\")")
        if self.include is None:
            raise PSPParseError(f"include of {match.group(1)!r} is not available here")
        self.includes += 1
        if self.includes > MAX_INCLUDES:
            raise PSPParseError(f"more than {MAX_INCLUDES} includes (does a page include itself?)")
        # The included text is scanned as if it stood in place of the directive, as the lexer's buffer stack does.
        self.text = self.text[:self.pos] + self.include(match.group(1)) + self.text[self.pos:]

    # --- code ---------------------------------------------------------------------------------------------------------
    def _code_section(self, start: int, *, echo: bool) -> None:
        text, out = self.text, self.out
        self.in_text = False
        indent = ""                    # indentation of the current code line: becomes the text's indentation
        pending: Optional[str] = None  # leading whitespace of a line not yet known to hold code
        line_has_code = False
        after_colon = False
        i = start
        while i < len(text):
            char = text[i]
            if text.startswith(_CLOSE, i):
                self.pos, self.in_text = i + 2, True
                if echo:
                    out.append((pending or "") + '),0); req.write("""')
                    return
                if pending:
                    indent = pending  # a `%>` at the start of a line keeps the previous line's indentation
                if line_has_code and not after_colon:
                    out.append(";")
                out.append(indent + ("\t" if after_colon else "") + 'req.write("""')
                return
            if char in "\r\n":
                i += 2 if text.startswith("\r\n", i) else 1
                if pending is not None:
                    indent = pending  # an empty line clears the indentation, a blank one sets it
                out.append((pending or "") + "\n")
                pending, line_has_code = "", False
                continue
            if pending is not None:
                if char in " \t":
                    pending += char
                    i += 1
                    continue
                out.append(pending)
                indent, pending = pending, None
            out.append(char)
            if char not in " \t":
                line_has_code = True
                after_colon = char == ":"
            i += 1
        out.append(pending or "")
        self.pos = len(text)  # an unclosed code section ends the page, as in mod_python


def translate(source: str, include: Optional[Include] = None) -> str:
    """The Python source for PSP page text; `include(name)` returns the text of an included file."""
    return _Translator(source, include).run()


def decode_page(data: bytes) -> str:
    """Page bytes as text: UTF-8, else Latin-1 (a legacy page renders instead of failing)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
