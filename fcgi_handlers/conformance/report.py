"""The conformance report: a Markdown and an HTML table of every scenario, the totals, and the docs summary.

The table has one row per scenario: its name, area, mod_python's answer, the daemon's answer and the verdict. Below
it, every intended difference with its reason, and every mismatch with what differed. `docs/conformance.md` holds only
what should be committed: totals by area, the intended differences and the open mismatches, no timings or paths, so
regenerating it changes it only when a verdict changes. The last line printed is the totals line CI greps for.
"""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .compare import View, differences
from .judge import Outcome, Result

MARKS = {Outcome.MATCH: "match", Outcome.INTENDED: "intended difference", Outcome.MISMATCH: "**mismatch**"}


@dataclass(frozen=True)
class Totals:
    scenarios: int
    match: int
    intended: int
    mismatch: int

    def line(self) -> str:
        return (f"{self.scenarios} scenarios: {self.match} match, {self.intended} intended differences, "
                f"{self.mismatch} mismatches")


def totals(results: Sequence[Result]) -> Totals:
    count = Counter(result.outcome for result in results)
    return Totals(len(results), count[Outcome.MATCH], count[Outcome.INTENDED], count[Outcome.MISMATCH])


def by_area(results: Sequence[Result]) -> list[tuple[str, Totals]]:
    """Totals per area, areas in corpus order."""
    areas: dict[str, list[Result]] = {}
    for result in results:
        areas.setdefault(result.scenario.area, []).append(result)
    return [(area, totals(group)) for area, group in areas.items()]


def answer(views: list[list[View]]) -> str:
    """One cell: each call's answer (several calls joined by ' ; ', a concurrent call as 'n x answer')."""
    cells = []
    for answers in views:
        if not answers:
            cells.append("(no answer)")
        elif len(set(answers)) == 1:
            cells.append((f"{len(answers)} x " if len(answers) > 1 else "") + answers[0].summary(60))
        else:
            cells.append(" / ".join(a.summary(30) for a in answers))
    return " ; ".join(cells) or "(not run)"


def differing(result: Result) -> str:
    """What differs between the two sides' answers, call by call: status, header names, body."""
    parts: list[str] = []
    for index, (theirs, ours) in enumerate(zip(result.mod_python, result.daemon)):
        if len(theirs) != len(ours):
            parts.append(f"call {index + 1}: answers")
            continue
        found = {line.split(":", 1)[0] for a, b in zip(theirs, ours) for line in differences(a, b)}
        if found:
            parts.append(f"call {index + 1}: " + ", ".join(sorted(found)))
    if result.daemon_run.config_error:
        parts.append("block not translatable")
    return "; ".join(parts)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def area_table(results: Sequence[Result]) -> list[str]:
    rows = ["| area | scenarios | match | intended differences | mismatches |", "|---|---:|---:|---:|---:|"]
    for area, t in by_area(results):
        rows.append(f"| {area} | {t.scenarios} | {t.match} | {t.intended} | {t.mismatch} |")
    t = totals(results)
    rows.append(f"| **all** | **{t.scenarios}** | **{t.match}** | **{t.intended}** | **{t.mismatch}** |")
    return rows


def intended_list(results: Sequence[Result]) -> list[str]:
    """One item per reason, with the scenarios that show it (a scenario whose difference did not hold is marked)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for result in results:
        reason = result.scenario.intended_difference
        if reason is not None:
            verdict = "" if result.outcome is Outcome.INTENDED else f" (**{result.outcome.value}**)"
            groups.setdefault((reason.kind, reason.text), []).append(f"`{result.scenario.name}`{verdict}")
    return [f"- {kind}: {text}. Scenarios: {', '.join(names)}." for (kind, text), names in groups.items()] or ["(none)"]


def mismatch_list(results: Sequence[Result], *, details: bool = True) -> list[str]:
    """Each mismatch with its diagnosis (or "not diagnosed") and, with `details`, what differed."""
    lines = []
    for result in results:
        scenario = result.scenario
        if result.outcome is Outcome.MISMATCH:
            diagnosis = scenario.known_mismatch or "**not diagnosed**"
            lines.append(f"- `{scenario.name}` ({scenario.area}): {diagnosis}")
            if details:
                lines += [f"  - {_md_cell(note)[:700]}" for note in result.notes]
        elif scenario.known_mismatch:
            lines.append(f"- `{scenario.name}` ({scenario.area}) now gives {result.outcome.value}: remove its "
                         "known-mismatch note")
    return lines or ["(none)"]


def markdown(results: Sequence[Result], runtime: float) -> str:
    lines = ["# fcgi_handlers conformance report", "",
             "Every scenario answered by real mod_python 3.5.0 (Debian, prefork Apache) and by the daemon behind an "
             "event Apache with mod_proxy_fcgi, from one block (see docs/conformance.md for how answers are compared).",
             "", f"Runtime: {runtime:.1f} s.", "", *area_table(results), "",
             "| scenario | area | mod_python | daemon | verdict | differs in |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| `{r.scenario.name}` | {r.scenario.area} | {_md_cell(answer(r.mod_python))} | "
                     f"{_md_cell(answer(r.daemon))} | {MARKS[r.outcome]} | {_md_cell(differing(r))} |")
    lines += ["", "## Intended differences", "", *intended_list(results), "", "## Mismatches", "",
              *mismatch_list(results), "", totals(results).line(), ""]
    return "\n".join(lines)


def _details(r: Result) -> str:
    s = r.scenario
    parts = [f"<p>{html.escape(s.description)}</p>" if s.description else "",
             "<pre>" + html.escape("\n".join(s.directives)) + "</pre>",
             "<pre>" + html.escape(s.source) + "</pre>"]
    if s.intended_difference is not None:
        parts.append(f"<p>Intended ({html.escape(s.intended_difference.kind)}): "
                     f"{html.escape(s.intended_difference.text)}</p>")
    if r.notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in r.notes) + "</ul>")
    for who, views in (("mod_python", r.mod_python), ("daemon", r.daemon)):
        for index, answers in enumerate(views):
            for v in answers[:1]:
                headers = "\n".join(f"{k}: {', '.join(vals)}" for k, vals in v.headers)
                body = v.body[:4000].decode("utf-8", "replace")
                parts.append(f"<p>{who}, call {index + 1}</p><pre>{html.escape(v.status)}\n"
                             f"{html.escape(headers)}\n\n{html.escape(body)}</pre>")
    return "".join(parts)


def html_page(results: Sequence[Result], runtime: float) -> str:
    t = totals(results)
    rows = []
    for r in results:
        css = r.outcome.name.lower()
        rows.append(f'<tr class="{css}"><td><details><summary><code>{html.escape(r.scenario.name)}</code></summary>'
                    f"{_details(r)}</details></td><td>{html.escape(r.scenario.area)}</td>"
                    f"<td>{html.escape(answer(r.mod_python))}</td><td>{html.escape(answer(r.daemon))}</td>"
                    f"<td>{html.escape(r.outcome.value)}</td><td>{html.escape(differing(r))}</td></tr>")
    areas = "".join(f"<tr><td>{html.escape(a)}</td><td>{x.scenarios}</td><td>{x.match}</td><td>{x.intended}</td>"
                    f"<td>{x.mismatch}</td></tr>" for a, x in by_area(results))
    style = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:2px 6px;vertical-align:top;font-size:90%}tr.mismatch{background:#fdd}tr.intended{background:"
             "#ffd}pre{white-space:pre-wrap;max-width:60em}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>fcgi_handlers conformance</title>"
            f"<style>{style}</style></head><body><h1>fcgi_handlers conformance</h1><p>{html.escape(t.line())} "
            f"({runtime:.1f} s)</p><table><tr><th>area</th><th>scenarios</th><th>match</th><th>intended</th>"
            f"<th>mismatch</th></tr>{areas}</table><h2>Scenarios</h2><table><tr><th>scenario</th><th>area</th>"
            f"<th>mod_python</th><th>daemon</th><th>verdict</th><th>differs in</th></tr>{''.join(rows)}</table>"
            "</body></html>\n")


def docs_summary(results: Sequence[Result]) -> str:
    """docs/conformance.md: stable text, changed only by a changed verdict."""
    return "\n".join([
        "# Conformance with mod_python", "",
        "Generated by `fcgi-handlers conformance --docs`; do not edit by hand.", "",
        "Each scenario (handler source, one mod_python `<Location>`/`<Directory>` block, HTTP requests) is answered "
        "by real mod_python 3.5.0 (Debian's libapache2-mod-python, prefork Apache 2.4) and by the daemon behind an "
        "event Apache with mod_proxy_fcgi, whose block is the same block translated by "
        "`fcgi_handlers.apache.mod_python_block_to_daemon`. Compared: status line, every response header except "
        "framing (Content-Length, Transfer-Encoding, Connection, Keep-Alive; Apache >= 2.4.59 drops a FastCGI "
        "backend's Content-Length), and the body, after normalising only what must differ: Date, Server and ETag "
        "values, the order of Allow (Apache's follows a per-start hash seed), each side's port, the traceback "
        "frames (and exceptions raised and caught) inside each implementation, and declared random values such as "
        "session ids. Error-log lines are compared where a scenario names them (on the daemon's side Apache's log "
        "and the daemon's own, where the log and cleanup phases write after the response). The oracle's answer is "
        "checked too: each request declares the status real mod_python gives, so a broken scenario cannot match. "
        "The scenarios live in `fcgi_handlers/conformance/scenarios/`; `fcgi-handlers conformance --out DIR` "
        "writes the full table.", "",
        "## Totals by area", "", *area_table(results), "",
        "## Intended differences", "",
        "Each scenario asserts the daemon's answer, and what mod_python's answer shows; the daemon does not "
        "reproduce a mod_python bug.", "",
        *intended_list(results), "", "## Mismatches", "",
        "Each is left for the lead with its diagnosis; none is hidden from the totals.", "",
        *mismatch_list(results, details=False), "", totals(results).line(), ""])


def write(results: Sequence[Result], out: Path, runtime: float) -> list[Path]:
    """Write report.md and report.html under `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / "report.md", out / "report.html"
    md.write_text(markdown(results, runtime))
    page.write_text(html_page(results, runtime))
    return [md, page]
