"""The user's mod_python configuration, as the in-process client and the `httpd` fixture read it.

Rule: the test configuration is the production configuration. The text is the user's own mod_python sections
(`<Location>`/`<Directory>` blocks, as in their httpd.conf), split into top-level sections here and converted with the
project's translator (`fcgi_handlers.apache.mod_python_block_to_daemon`), exactly as `fcgi-handlers` converts them for
a real Apache. The in-process client then reads the converted section back: the route (`ProxyPass` in a Location,
`SetHandler`/`AddHandler` in a Directory) and the `SetEnv` params Apache would send. Auth phases are emulated by the
daemon (no mod_authnz_fcgi in process), the translator's `authn="emulate"` form.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from fcgi_handlers.apache import Backend, UnsupportedDirective, mod_python_block_to_daemon, split_arguments

# The address the in-process routes pretend the daemon has: only its shape reaches the handlers (SCRIPT_FILENAME).
IN_PROCESS = Backend(host="127.0.0.1", port=9000)
_CONTAINERS = ("location", "directory")


class ConfigError(ValueError):
    """The configuration cannot be used for testing; the message names the line and why."""


@dataclass
class Section:
    """One converted top-level section: where it applies and the params Apache would send for it."""

    kind: str                              # "location" or "directory"
    path: str                              # the URL prefix or the directory
    original: str                          # the user's mod_python text
    params: dict[str, str] = field(default_factory=dict)
    extensions: tuple[str, ...] = ()       # AddHandler extensions; () means every request in the section

    def matches_url(self, url_path: str) -> bool:
        prefix = self.path if self.path.endswith("/") else self.path + "/"
        return self.kind == "location" and (url_path == self.path or url_path.startswith(prefix))


def read_config(config: Union[str, Path]) -> str:
    """A Path is read as a file; a str is the configuration text itself."""
    if isinstance(config, Path):
        try:
            return config.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read the mod_python configuration {config}: {exc}") from None
    return config


def split_sections(text: str) -> list[str]:
    """The top-level `<Kind ...> ... </Kind>` sections of a configuration text; comments and blank lines between
    them are skipped, any other top-level directive is an error (the daemon gets no server-level configuration)."""
    sections: list[str] = []
    current: list[str] = []
    depth = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if depth == 0 and (not line or line.startswith("#")):
            continue
        opens = line.startswith("<") and not line.startswith("</")
        closes = line.startswith("</")
        if depth == 0 and not opens:
            raise ConfigError(f"line {number}: {line!r} is outside a <Location> or <Directory> section")
        current.append(raw)
        depth += 1 if opens else -1 if closes else 0
        if depth == 0:
            sections.append("\n".join(current))
            current = []
    if depth != 0:
        raise ConfigError("the last section is not closed")
    if not sections:
        raise ConfigError("no <Location> or <Directory> section in the mod_python configuration")
    return sections


def convert(section_text: str) -> Section:
    """Translate one section and read back its route and params."""
    head = split_arguments(section_text.strip().splitlines()[0].strip()[1:-1])
    if not head or head[0].lower() not in _CONTAINERS or len(head) != 2:
        raise ConfigError(f"only <Location PATH> and <Directory PATH> sections are supported: "
                          f"{section_text.splitlines()[0].strip()!r}")
    try:
        converted = mod_python_block_to_daemon(section_text, IN_PROCESS, authn="emulate")
    except (UnsupportedDirective, ValueError) as exc:
        raise ConfigError(f"{section_text.splitlines()[0].strip()}: {exc}") from None
    section = Section(head[0].lower(), head[1], section_text)
    routed = False
    for line in converted.splitlines()[1:-1]:
        words = split_arguments(line.strip())
        if not words:
            continue
        name = words[0].lower()
        if name.startswith("<"):
            raise ConfigError(f"{section_text.splitlines()[0].strip()}: nested sections ({words[0]}>) are not "
                              "supported by the in-process client; test them with the httpd fixture")
        if name == "setenv" and len(words) == 3:
            section.params[words[1]] = words[2]
        elif name in ("proxypass", "sethandler"):
            routed = True
        elif name == "addhandler":
            routed, section.extensions = True, tuple(words[2:])
    if not routed:
        raise ConfigError(f"{section_text.splitlines()[0].strip()}: no SetHandler/AddHandler mod_python, so no "
                          "request would reach a handler")
    return section


def load_sections(config: Union[str, Path]) -> list[Section]:
    """Every section of the configuration, converted."""
    return [convert(text) for text in split_sections(read_config(config))]


def find_section(sections: list[Section], url_path: str) -> Optional[Section]:
    """The section serving `url_path`: the longest matching Location (Apache merges, the most specific wins here)."""
    found = [s for s in sections if s.matches_url(url_path)]
    return max(found, key=lambda s: len(s.path)) if found else None
