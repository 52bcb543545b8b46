"""The report's document model and its renderers: the one Markdown (and HTML) writer.

A document is a list of blocks (:class:`Heading`, :class:`Para`, :class:`Table`,
:class:`Image`, :class:`Bullets`, :class:`Gallery`) whose text is inline content: plain strings
and :class:`Span` s (bold, code, link). :func:`render_markdown` writes GitHub-flavoured
Markdown, escaping plain text; :func:`render_html` one self-contained page. Every Markdown table
of hasbench -- the report's, the comparison view's (:mod:`benchmark.reporting.table`), the
perf scripts' -- is written by :func:`render_markdown` (:func:`markdown_table` for one table).
Standard library only, so scripts can use it without pandas.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Span:
    """Inline text: plain, bold, code or a link."""

    text: str
    bold: bool = False
    code: bool = False
    href: str | None = None


Inline = str | Span | Sequence["str | Span"]


@dataclass(frozen=True)
class Heading:
    """A section heading."""

    level: int
    text: str

    @property
    def anchor(self) -> str:
        """The heading's id, as GitHub derives it from the text."""
        return anchor(self.text)


@dataclass(frozen=True)
class Para:
    """A paragraph."""

    content: Inline


@dataclass(frozen=True)
class Table:
    """A table; cells are inline content.

    Attributes:
        header: Column names (plain text).
        rows: One tuple of cells per row.
        align: One letter per column, ``l`` (left) or ``r`` (right); empty = all left.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[Inline, ...], ...]
    align: str = ""

    def __post_init__(self) -> None:
        if self.align and (len(self.align) != len(self.header) or set(self.align) - {"l", "r"}):
            raise ValueError(f"align must give l or r for each of the {len(self.header)} "
                             f"columns, got {self.align!r}")

    def right(self, column: int) -> bool:
        """Whether ``column`` is right-aligned."""
        return bool(self.align) and self.align[column] == "r"


@dataclass(frozen=True)
class Image:
    """A figure: PNG shown, SVG linked (paths relative to the report)."""

    png: str
    svg: str
    alt: str
    width_px: int


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[Inline, ...]


@dataclass(frozen=True)
class Gallery:
    """Image artifacts as thumbnails (HTML only; Markdown lists them as links already)."""

    items: tuple[tuple[str, str], ...]  # (caption, relative path)


Block = Heading | Para | Table | Image | Bullets | Gallery


def _spans(content: Inline) -> list[Span]:
    if isinstance(content, str):
        return [Span(content)]
    if isinstance(content, Span):
        return [content]
    return [s for part in content for s in _spans(part)]


def _href(path: str) -> str:
    return quote(path, safe="/#:.-_~")


_MD_SPECIAL = re.compile(r"([\\*|\[\]<>`])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text: str) -> str:
    """Escape Markdown syntax in plain text (intraword underscores are left alone)."""
    return _MD_UNDERSCORE.sub(r"\\_", _MD_SPECIAL.sub(r"\\\1", text))


def _md_inline(content: Inline) -> str:
    out = []
    for span in _spans(content):
        text = f"`{span.text}`" if span.code else md_escape(span.text)
        if span.href is not None:
            text = f"[{text}]({_href(span.href)})"
        out.append(f"**{text}**" if span.bold else text)
    return "".join(out)


def _html_inline(content: Inline) -> str:
    out = []
    for span in _spans(content):
        text = html.escape(span.text)
        if span.code:
            text = f"<code>{text}</code>"
        if span.href is not None:
            text = f'<a href="{html.escape(_href(span.href))}">{text}</a>'
        out.append(f"<strong>{text}</strong>" if span.bold else text)
    return "".join(out)


def _md_table(table: Table) -> str:
    rule = ["---:" if table.right(i) else "---" for i in range(len(table.header))]
    lines = ["| " + " | ".join(md_escape(h) for h in table.header) + " |",
             "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(_md_inline(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Inline]], align: str = "") -> str:
    """One Markdown table (cells: text or :class:`Span`), as :func:`render_markdown` writes it."""
    return render_markdown([Table(tuple(header), tuple(tuple(r) for r in rows), align)])


def render_markdown(blocks: Iterable[Block]) -> str:
    """The report as GitHub-flavoured Markdown."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {md_escape(block.text)}\n")
        elif isinstance(block, Para):
            out.append(_md_inline(block.content) + "\n")
        elif isinstance(block, Table):
            out.append(_md_table(block))
        elif isinstance(block, Image):
            out.append(f"![{md_escape(block.alt)}]({_href(block.png)}) "
                       f"([SVG]({_href(block.svg)}))\n")
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {_md_inline(item)}" for item in block.items) + "\n")
    return "\n".join(out)


HTML_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .2em; margin-top: 2em; }
nav { background: #f6f8fa; padding: .5em 1em; border-radius: 6px; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfbfb; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #555; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; }
.gallery figure { width: 260px; margin: 0; }
.gallery img { max-width: 100%; max-height: 260px; }
""".strip()


def _html_cell(table: Table, column: int, content: Inline) -> str:
    style = ' style="text-align: right"' if table.right(column) else ""
    return f"<td{style}>{_html_inline(content)}</td>"


def render_html(blocks: Sequence[Block], title: str) -> str:
    """The report as one self-contained HTML page (inline CSS, no scripts)."""
    nav = [b for b in blocks if isinstance(b, Heading) and b.level == 2]
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f'<h{block.level} id="{html.escape(block.anchor)}">'
                        f"{html.escape(block.text)}</h{block.level}>")
            if block.level == 1 and nav:
                links = " ".join(f'<a href="#{html.escape(h.anchor)}">{html.escape(h.text)}</a>'
                                 for h in nav)
                body.append(f"<nav>{links}</nav>")
        elif isinstance(block, Para):
            body.append(f"<p>{_html_inline(block.content)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            rows = "\n".join("<tr>" + "".join(_html_cell(block, i, c) for i, c in enumerate(row))
                             + "</tr>" for row in block.rows)
            body.append(f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n'
                        f"<tbody>\n{rows}\n</tbody></table></div>")
        elif isinstance(block, Image):
            body.append(f'<figure><img src="{html.escape(_href(block.png))}" '
                        f'alt="{html.escape(block.alt)}" width="{block.width_px}">'
                        f"<figcaption>{html.escape(block.alt)} "
                        f'(<a href="{html.escape(_href(block.svg))}">SVG</a>)</figcaption>'
                        "</figure>")
        elif isinstance(block, Bullets):
            items = "\n".join(f"<li>{_html_inline(i)}</li>" for i in block.items)
            body.append(f"<ul>\n{items}\n</ul>")
        elif isinstance(block, Gallery):
            items = "\n".join(
                f'<figure><a href="{html.escape(_href(p))}"><img src="{html.escape(_href(p))}" '
                f'alt="{html.escape(c)}"></a><figcaption>{html.escape(c)}</figcaption></figure>'
                for c, p in block.items)
            body.append(f'<div class="gallery">\n{items}\n</div>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{HTML_STYLE}\n</style>\n</head>\n"
            "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")



def anchor(text: str) -> str:
    """GitHub's heading anchor of ``text`` (so Markdown and HTML links agree)."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


