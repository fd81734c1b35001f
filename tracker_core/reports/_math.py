"""TeX formulas as MathML for exported reports: latex2mathml (imported on first use) converts, then the element
tree is rebuilt from an allow-list (MathML presentation elements and their layout attributes with plain values),
so nothing a formula holds can become a script, a link, a style or an event handler: all text is escaped.

A formula latex2mathml cannot convert comes back as its escaped TeX text; without latex2mathml every formula
does, with one TrackerWarning.
"""

from __future__ import annotations

import html
import re
import warnings
from typing import Any

from tracker_core._errors import TrackerWarning

__all__ = ["MATHML_ATTRIBUTES", "MATHML_ELEMENTS", "tex_html"]

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
MATHML_ELEMENTS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "munder", "mover",
    "munderover", "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom", "menclose", "mtable", "mtr", "mtd",
    "mlabeledtr", "merror", "mmultiscripts", "mprescripts", "none"})
MATHML_ATTRIBUTES = frozenset({
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "minsize", "maxsize",
    "movablelimits", "accent", "accentunder", "linethickness", "columnalign", "rowalign", "columnlines", "rowlines",
    "columnspacing", "rowspacing", "frame", "framespacing", "equalrows", "equalcolumns", "displaystyle",
    "scriptlevel", "mathsize", "mathcolor", "mathbackground", "width", "height", "depth", "voffset", "notation",
    "symmetric", "largeop", "form", "columnspan", "rowspan", "align", "side", "open", "close", "separators",
    "bevelled", "numalign", "denomalign"})
_VALUE = re.compile(r"^[A-Za-z0-9#.,%+\- ]{0,64}$")  # no colon, parenthesis or quote: no url(), no javascript:
_CHARREF = re.compile(r"&#(x[0-9A-Fa-f]+|[0-9]+);")  # latex2mathml writes symbols as character references
_warned = False


def _text(raw: str | None) -> str:
    if not raw:
        return ""
    decoded = _CHARREF.sub(lambda m: html.unescape(m.group(0)), raw)
    return html.escape(decoded, quote=False)


def _clean(element: Any) -> str:
    """``element`` and its subtree as MathML text: elements off the list are dropped (their content kept),
    attributes off the list or with other than plain values are dropped, text escaped."""
    tag = str(element.tag).rsplit("}", 1)[-1]
    inner = _text(element.text) + "".join(_clean(child) + _text(child.tail) for child in element)
    if tag not in MATHML_ELEMENTS:
        return inner
    attrs = "".join(f' {name}="{html.escape(str(value))}"' for name, value in sorted(element.attrib.items())
                    if name in MATHML_ATTRIBUTES and _VALUE.match(str(value)))
    if tag == "math":
        attrs = f' xmlns="{MATHML_NS}"' + attrs
    return f"<{tag}{attrs}>{inner}</{tag}>"


def _fallback(source: str, display: bool) -> str:
    return f'<span class="math{" display" if display else ""}">{html.escape(source)}</span>'


def tex_html(source: str, display: bool) -> str:
    """The TeX ``source`` as sanitised MathML (``display`` for a block formula), or as its escaped TeX in a
    ``span.math`` when latex2mathml cannot convert it or is not installed (warns once, TrackerWarning)."""
    global _warned
    try:
        from latex2mathml.converter import convert_to_element
    except ImportError:
        if not _warned:
            _warned = True
            warnings.warn("math in the report is kept as its TeX source: typesetting it needs latex2mathml\n"
                          "Hint: pip install \"tracker[reports]\"", TrackerWarning, stacklevel=2)
        return _fallback(source, display)
    try:
        return _clean(convert_to_element(source, display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 - latex2mathml raises many kinds (and RecursionError) for TeX it cannot read
        return _fallback(source, display)
