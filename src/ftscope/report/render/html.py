"""A report as sections of plain blocks, written as Markdown and as one self-contained HTML file.

The HTML carries everything inline (CSS, figures as base64 PNG data URIs, one small script), so it
opens offline, mails as one file and never fetches anything. The script only records whether every
image decoded (`body[data-images-ok]`), which the browser test reads back.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ftscope.report.render.figures import Plot
from ftscope.report.render.style import CSS, SCRIPT

MAX_ROWS = 300  # beyond this a table is cut in the page; the CSV beside it has every row


@dataclass
class Table:
    df: pd.DataFrame
    caption: str = ""
    file: str = ""  # the CSV that holds the whole table
    collapsed: bool = False


@dataclass
class Verdict:
    """A claim's verdict line: a coloured badge in HTML, bold in Markdown."""

    verdict: str
    text: str = ""


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)  # str (paragraph), list[str] (bullets), Table, Plot, Section


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _cut(t: Table) -> tuple[pd.DataFrame, str]:
    if len(t.df) <= MAX_ROWS:
        return t.df, ""
    return t.df.head(MAX_ROWS), f"First {MAX_ROWS} of {len(t.df)} rows; all of them are in {t.file or 'the CSV'}."


# ---- Markdown -------------------------------------------------------------------------------
def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _md_cell(value) -> str:
    return _text(value).replace("|", "\\|")


def _md_table(t: Table) -> str:
    df, note = _cut(t)
    if df.empty:
        return f"_{t.caption or 'table'}: no rows._\n"
    lines = ["| " + " | ".join(map(_md_cell, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    head = f"*{t.caption}*\n\n" if t.caption else ""
    return head + "\n".join(lines) + (f"\n\n_{note}_" if note else "") + "\n"


def _md_block(block, level: int, out_dir: Path) -> str:
    if isinstance(block, Section):
        return _md_section(block, level + 1, out_dir)
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, Plot):
        return f"![{block.title}]({block.png.relative_to(out_dir).as_posix()})\n\n*{block.caption}*\n"
    if isinstance(block, list):
        return "\n".join(f"- {item}" for item in block) + "\n"
    if isinstance(block, Verdict):
        return f"**Verdict: {block.verdict}.** {block.text}\n"
    return f"{block}\n"


def _md_section(section: Section, level: int, out_dir: Path) -> str:
    parts = [f"{'#' * level} {section.title}\n"] + [_md_block(b, level, out_dir) for b in section.blocks]
    return "\n".join(parts)


def markdown(title: str, sections: list[Section], out_dir: Path) -> str:
    return f"# {title}\n\n" + "\n".join(_md_section(s, 2, out_dir) for s in sections)


# ---- HTML -----------------------------------------------------------------------------------
def _html_table(t: Table) -> str:
    df, note = _cut(t)
    if df.empty:
        return f"<p class='empty'>{html.escape(t.caption or 'table')}: no rows.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row)
                   + "</tr>" for row in df.itertuples(index=False))
    caption = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    table = f"<div class='scroll'><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    table += f"<p class='note'>{html.escape(note)}</p>" if note else ""
    if t.collapsed:
        return f"<details><summary>{html.escape(t.caption or 'table')} ({len(t.df)} rows)</summary>{table}</details>"
    return table


def _html_figure(plot: Plot) -> str:
    data = base64.b64encode(plot.png.read_bytes()).decode("ascii")
    return (f"<figure><img alt='{html.escape(plot.title, quote=True)}' src='data:image/png;base64,{data}'>"
            f"<figcaption><b>{html.escape(plot.title)}.</b> {html.escape(plot.caption)}</figcaption></figure>")


def _html_block(block, level: int) -> str:
    if isinstance(block, Section):
        return _html_section(block, min(level + 1, 6))
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Plot):
        return _html_figure(block)
    if isinstance(block, list):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block) + "</ul>"
    if isinstance(block, Verdict):
        badge = f"<span class='badge {slug(block.verdict)}'>{html.escape(block.verdict)}</span>"
        return f"<p class='verdict'>{badge} {_inline(block.text)}</p>"
    return f"<p>{_inline(block)}</p>"


def _inline(text: str) -> str:
    """Escape, then the two Markdown marks the sections use: `code` and **bold** (not across tags or spaces)."""
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", html.escape(str(text)))
    return re.sub(r"\*\*([^\s*<](?:[^*<]*?[^\s*<])?)\*\*", r"<b>\1</b>", out)


def _html_section(section: Section, level: int) -> str:
    inner = "".join(_html_block(b, level) for b in section.blocks)
    return f"<section id='{slug(section.title)}'><h{level}>{html.escape(section.title)}</h{level}>{inner}</section>"


def html_page(title: str, sections: list[Section]) -> str:
    toc = "".join(f"<li><a href='#{slug(s.title)}'>{html.escape(s.title)}</a></li>" for s in sections)
    body = "".join(_html_section(s, 2) for s in sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head>"
            f"<body><main><h1>{html.escape(title)}</h1><nav><ul>{toc}</ul></nav>{body}</main>"
            f"<script>{SCRIPT}</script></body></html>")
