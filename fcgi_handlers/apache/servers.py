"""Which server a block belongs to, and whether its requests reach mod_python: what the conversion must know about
the whole configuration before it converts one block.

Rule: Apache decides both per request, from every section that matches; a converter sees the configuration only,
so it answers from the sections' paths, as Apache matches them:
- the server of a block is its `<VirtualHost>`'s last `ServerName` (its host part), else the main server's, which
  mod_python reports as `req.server.server_hostname`; an `.htaccess` file belongs to the server whose `DocumentRoot`
  or `Alias` target covers its directory most closely (none when several servers share that root);
- a block's requests reach mod_python when the block says `SetHandler`/`AddHandler mod_python`, or does not set a
  handler and lies below a section of its family (`<Location>`s by URL, `<Directory>`s by path) of the same server
  that does. A phase handler in a block whose requests Apache serves itself runs only where Apache can call the
  daemon (its auth phases); the converter reports the rest.
"""
from __future__ import annotations

import os
from typing import Iterator, Optional

from .reader import Directive, Node, Section, flatten
from .translate import server_host

BLOCK_KINDS = ("location", "locationmatch", "directory", "directorymatch", "files", "filesmatch")
MOD_PYTHON_HANDLERS = ("mod_python", "python-program")


class ServerMap:
    """The servers, document roots and mod_python sections of one configuration (its main file's nodes)."""

    def __init__(self, nodes: list[Node]) -> None:
        self.main_server = server_name(nodes, outside_virtual_hosts=True)
        # Sections whose content mod_python handles: (section kind, path, ServerName of their server).
        self.handled: list[tuple[str, str, Optional[str]]] = []
        # Where each server maps URLs to files: (directory, ServerName).
        self.roots: list[tuple[str, Optional[str]]] = []
        self._walk(nodes, self.main_server)

    def _walk(self, nodes: list[Node], server: Optional[str]) -> None:
        for node in nodes:
            if isinstance(node, Directive):
                if node.lowered in ("documentroot", "alias", "scriptalias") and node.args:
                    self.roots.append((os.path.normpath(node.args[-1]), server))
                for included in node.included:
                    self._walk(included.nodes, server)
            elif node.lowered == "virtualhost":
                self._walk(node.body, server_name(node.body) or server)
            elif node.lowered in BLOCK_KINDS and node.args and routes_to_mod_python(flatten(node.body)):
                self.handled.append((node.lowered, node.args[-1], server))
            elif node.active:
                self._walk(node.body, server)

    def server_of(self, directory: str) -> Optional[str]:
        """The ServerName of the one server whose DocumentRoot or Alias covers `directory` most closely; None when
        none does or several servers share that root."""
        covering = [(root, server) for root, server in self.roots if _below(directory, root)]
        if not covering:
            return None
        longest = max(len(root) for root, _ in covering)
        servers = {server for root, server in covering if len(root) == longest}
        return servers.pop() if len(servers) == 1 else None

    def reaches_mod_python(self, section: Section, lines: list[str], server: Optional[str]) -> bool:
        """Whether requests of this block reach mod_python: its own SetHandler, else a covering section's."""
        if routes_to_mod_python(lines):
            return True
        if any(line.split()[0].lower() == "sethandler" for line in lines if line.split()):
            return False
        path = section.args[-1] if section.args else ""
        return any(family(kind) == family(section.lowered) and owner == server and _below(path, root)
                   for kind, root, owner in self.handled)

    def below_mod_python_location(self, path: str, server: Optional[str]) -> bool:
        """Whether a `<Location path>` lies strictly below a mod_python `<Location>` of the same server."""
        return any(kind == "location" and owner == server and path != root and _below(path, root)
                   for kind, root, owner in self.handled)


def _below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def family(kind: str) -> str:
    """Sections of one family cover each other by path: location, directory, files."""
    return "location" if kind.startswith("location") else kind.replace("match", "")


def server_name(nodes: list[Node], *, outside_virtual_hosts: bool = False) -> Optional[str]:
    """The host part of the last ServerName among `nodes` (as for Apache, the last one counts)."""
    names = [node.args[0] for node in _server_scope(nodes, outside_virtual_hosts)
             if node.lowered == "servername" and node.args]
    return server_host(names[-1]) if names else None


def _server_scope(nodes: list[Node], skip_virtual_hosts: bool) -> Iterator[Directive]:
    for node in nodes:
        if isinstance(node, Directive):
            yield node
            for included in node.included:
                yield from _server_scope(included.nodes, skip_virtual_hosts)
        elif node.active and not (skip_virtual_hosts and node.lowered == "virtualhost"):
            yield from _server_scope(node.body, skip_virtual_hosts)


def routes_to_mod_python(lines: list[str]) -> bool:
    """Whether block lines hand requests to mod_python (`SetHandler`/`AddHandler mod_python`)."""
    for line in lines:
        words = [w.strip("\"'") for w in line.split()]
        if len(words) > 1 and words[0].lower() in ("sethandler", "addhandler") and words[1].lower() in \
                MOD_PYTHON_HANDLERS:
            return True
    return False
