"""build_report: read a store, write report.md, a self-contained report.html, tables and figures.

The report only reads: it never opens a store folder that has no index (opening one would create
it), and an empty or half-run store gets a report of what exists and what is still missing. The
verdict thresholds are the experiment's own (its `verdicts:` section, kept in the store).
"""

from __future__ import annotations

from pathlib import Path

from ftscope.errors import ConfigError
from ftscope.experiments.store import Store
from ftscope.report.findings.analysis import Analysis, analyse
from ftscope.report.render import charts
from ftscope.report.render import figures as F
from ftscope.report.render.html import html_page, markdown
from ftscope.report.render.sections import all_sections
from ftscope.report.render.tables import write_tables
from ftscope.specs import VerdictRules

TITLE = "ftscope report"


def read_rows(store_root: Path, experiment: str | None) -> tuple[list[dict], list[str], VerdictRules]:
    """The store's rows (of one experiment), notes when there is nothing to read, and the verdict rules."""
    if not store_root.is_dir():
        raise ConfigError(f"{store_root}: no such store folder; give the folder an experiment ran into")
    if not (store_root / "index.sqlite").is_file():
        return [], [f"{store_root} holds no store index yet (index.sqlite): nothing has run."], VerdictRules()
    store = Store(store_root)
    if experiment is not None and experiment not in store.experiments():
        known = ", ".join(store.experiments()) or "none"
        return [], [f"experiment '{experiment}' is not in this store (it holds: {known})."], VerdictRules()
    config = store.config_of(experiment) if experiment else None
    return store.rows(experiment), [], VerdictRules.from_dict((config or {}).get("verdicts"))


def draw(a: Analysis, out_dir: Path) -> list[F.Plot]:
    folder = out_dir / "figures"
    return [*F.heatmaps(a.gen, folder), *F.sample_size_lines(a.gen, folder), *charts.method_bars(a.by_method, folder),
            *charts.rag_bars(a.rag_deltas, folder), *charts.loss_plot(a.curves, folder)]


def build_report(store_root: str | Path, out_dir: str | Path, experiment: str | None = None) -> Path:
    """Write the report of `store_root` (one experiment, or all) into `out_dir`; return report.html's path."""
    store_root, out_dir = Path(store_root), Path(out_dir)
    rows, notes, rules = read_rows(store_root, experiment)
    a = analyse(rows, str(store_root), experiment, notes, rules)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tables(a.tables(), out_dir)
    sections = all_sections(a, draw(a, out_dir))
    title = f"{TITLE}: {experiment}" if experiment else TITLE
    (out_dir / "report.md").write_text(markdown(title, sections, out_dir), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(html_page(title, sections), encoding="utf-8")
    return page
