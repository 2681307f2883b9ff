"""What `fcgi-handlers convert` writes: the changed files, the daemon's settings and the report.

Rule: the output directory is an overlay. A changed file lies at its path relative to the main file's directory,
so copying the directory over the original tree (or stacking it over it) gives the converted installation; a file
outside that directory (an `.htaccess` under /var/www) lies under `_absolute/` at its absolute path. Beside them,
`fcgi-handlers.toml` holds the daemon settings the configuration implies (the format `fcgi-handlers serve --config`
reads) and `report.md` lists every mod_python directive found with what it became, or why it was not converted.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .convert import Conversion

SETTINGS_FILE = "fcgi-handlers.toml"
REPORT_FILE = "report.md"
ABSOLUTE_DIR = "_absolute"


def overlay_path(conversion: Conversion, path: Path) -> Path:
    """Where a changed file goes inside the output directory."""
    base = conversion.main.path.parent.absolute()
    absolute = path if path.is_absolute() else path.absolute()
    relative = os.path.relpath(absolute, base)
    if relative.startswith(".."):
        return Path(ABSOLUTE_DIR) / str(absolute).lstrip("/")
    return Path(relative)


def _bind(backend_text: str) -> str:
    return json.dumps(backend_text)


def daemon_settings(conversion: Conversion) -> str:
    """fcgi-handlers.toml: where to listen, what may be imported, what to import at start."""
    backend, auth = conversion.backend, conversion.auth
    binds = [f"unix:{backend.socket}" if backend.socket else f"{backend.host}:{backend.port}"]
    if auth is not None and f"{auth.host}:{auth.port}" not in binds:
        binds.append(f"{auth.host}:{auth.port}")
    existing = [p for p in conversion.paths if os.path.isdir(p)]
    lines = [f"# Daemon settings implied by {conversion.main.path}: fcgi-handlers serve --config {SETTINGS_FILE}",
             f"bind = [{', '.join(_bind(b) for b in binds)}]",
             "# every PythonPath entry and every directory that holds mod_python handlers",
             f"path = [{', '.join(json.dumps(p) for p in existing)}]"]
    lines += [f"# not a directory on this host, left out: {p}" for p in conversion.paths if p not in existing]
    if conversion.imports:
        imports = ", ".join(json.dumps(spec) for spec in conversion.imports)
        lines += ["# PythonImport, run in each worker at start", f"imports = [{imports}]"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report(conversion: Conversion) -> str:
    """report.md: every directive found, what it became, what was not converted and why."""
    failures = conversion.failures
    lines = [f"# Converting {conversion.main.path} for fcgi_handlers", "",
             f"{len(conversion.findings)} mod_python directives found, {len(conversion.findings) - len(failures)} "
             f"converted, {len(failures)} not converted.", "",
             "Copy this directory over the configuration directory (files under `_absolute/` go to their absolute "
             "path), then start the daemon and Apache:", "",
             f"    fcgi-handlers serve --config {SETTINGS_FILE}", "    apache2ctl configtest && apache2ctl graceful",
             "", "## Files changed", "", "| file | in this directory |", "|---|---|"]
    lines += [f"| `{path}` | `{overlay_path(conversion, path)}` |" for path in conversion.changed_files()]
    lines += ["", "## Directives", "", "| where | directive | became |", "|---|---|---|"]
    lines += [f"| {_cell(f.where)} | `{_cell(f.directive)}` | {_cell(f.became)} |"
              for f in conversion.findings if f.converted and not f.differs]
    differing = [f for f in conversion.findings if f.differs]
    if differing:
        lines += ["", "## Answers that differ from mod_python", "", "| where | directive | why |", "|---|---|---|"]
        lines += [f"| {_cell(f.where)} | `{_cell(f.directive)}` | {_cell(f.became)} |" for f in differing]
    lines += ["", "## Not converted", ""]
    if failures:
        lines += ["| where | directive | why |", "|---|---|---|"]
        lines += [f"| {_cell(f.where)} | `{_cell(f.directive)}` | {_cell(f.became)} |" for f in failures]
    else:
        lines.append("Nothing: every mod_python directive was converted.")
    return "\n".join(lines) + "\n"


def problems(conversion: Conversion) -> list[str]:
    """One line per directive not converted: `file:line: directive: why`."""
    return [f"{f.where}: {f.directive}: {f.became}" for f in conversion.failures]


def write(conversion: Conversion, out: Path) -> list[Path]:
    """Write the changed files, fcgi-handlers.toml and report.md under `out` (created; must not hold files)."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path in conversion.changed_files():
        target = out / overlay_path(conversion, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(conversion.changed_text(path), encoding="utf-8", errors="surrogateescape")
        target.chmod(0o644)
        written.append(target)
    for name, text in ((SETTINGS_FILE, daemon_settings(conversion)), (REPORT_FILE, report(conversion))):
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written
