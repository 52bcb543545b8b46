"""The one Markdown renderer: tables with escaped text, bold spans and right-aligned columns."""

import pytest

from benchmark.reporting.document import Span, Table, markdown_table, render_html, render_markdown


def test_markdown_table_escapes_text_and_aligns_columns():
    text = markdown_table(("case", "µs"), [("a|b *c* __init__", Span("1.5", bold=True)),
                                            ("top1_loc", "2")], align="lr")
    assert text == ("| case | µs |\n"
                    "|---|---:|\n"
                    "| a\\|b \\*c\\* \\_\\_init\\_\\_ | **1.5** |\n"
                    "| top1_loc | 2 |\n")
    assert text == render_markdown([Table(("case", "µs"), (("a|b *c* __init__",
                                                             Span("1.5", bold=True)),
                                                            ("top1_loc", "2")), "lr")])


def test_html_table_right_aligns_the_same_columns():
    page = render_html([Table(("case", "µs"), (("a", "1"),), "lr")], "t")
    assert "<td>a</td><td style=\"text-align: right\">1</td>" in page


@pytest.mark.parametrize("align", ["l", "lx", "lrr"])
def test_align_needs_one_l_or_r_per_column(align):
    with pytest.raises(ValueError, match="align must give l or r for each of the 2 columns"):
        Table(("a", "b"), (), align)
