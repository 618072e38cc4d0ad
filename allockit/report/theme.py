"""One look for every allockit figure, and offline rendering.

``use()`` registers and enables the ``allockit`` altair theme (sizes, fonts, a colour-blind
safe palette in which every strategy keeps its colour across figures) and makes notebooks
render charts as inline SVG through vl-convert, so nothing is fetched from the network.
"""

from __future__ import annotations

from typing import Any

from ..strategies import STRATEGIES

# Okabe-Ito (its yellow, unreadable on white, replaced by a dark ochre), then greys
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#A6761D", "#000000",
    "#999999", "#7F3C8D", "#11A579", "#3969AC",
)
FONT = "DejaVu Sans"  # present wherever vl-convert runs; no web fonts


def _config() -> dict[str, Any]:
    return {
        "config": {
            "font": FONT,
            "view": {"continuousWidth": 480, "continuousHeight": 260, "stroke": None},
            "range": {"category": list(PALETTE)},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": True,
                     "gridOpacity": 0.4},
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 240,
                       "symbolOpacity": 1},
            "title": {"fontSize": 13, "anchor": "start", "subtitleFontSize": 10,
                      "subtitleColor": "#555"},
        }
    }


def _canonical_labels() -> list[str]:
    """Strategy names, then the seed spec's labels: the order that assigns colours."""
    import yaml

    from ..paths import PARAMS_DIR

    labels = list(STRATEGIES)
    seed = yaml.safe_load((PARAMS_DIR / "seed.yaml").read_text())
    labels += [x for x in seed.get("strategies", {}) if x not in labels]
    return labels


def strategy_scale(labels: list[str]):
    """A colour scale over ``labels`` in which a strategy has the same colour in every figure."""
    import altair as alt

    canon = _canonical_labels()
    domain = sorted(set(labels), key=lambda x: (canon.index(x) if x in canon else len(canon), x))
    colours = []
    for x in domain:
        i = canon.index(x) if x in canon else len(canon) + sum(map(ord, x))
        colours.append(PALETTE[i % len(PALETTE)])
    return alt.Scale(domain=domain, range=colours)


_ENABLED = False


def notebook_bundle(spec: dict, **_: Any) -> dict[str, Any]:
    """A chart for a notebook: the Vega-Lite spec (JupyterLab draws it, with tooltips) and a
    PNG of it (what shows where Vega-Lite is not rendered: an untrusted notebook, GitHub, an
    exported file), both made offline by vl-convert."""
    import base64

    import altair as alt
    import vl_convert as vlc

    version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0].replace(".", "_")
    png = vlc.vegalite_to_png(spec, vl_version=version, scale=1)
    return {
        f"application/vnd.vegalite.v{alt.SCHEMA_VERSION.lstrip('v').split('.')[0]}+json": spec,
        "image/png": base64.b64encode(png).decode(),
        "text/plain": "<a chart: Vega-Lite, with a PNG copy>",
    }


def use(notebook: bool = False) -> None:
    """Enable the theme (idempotent); with ``notebook``, show charts as Vega-Lite plus PNG."""
    import altair as alt

    global _ENABLED
    if not _ENABLED:
        alt.theme.register("allockit", enable=True)(_config)
        alt.renderers.register("allockit", notebook_bundle)
        _ENABLED = True
    if notebook:
        alt.renderers.enable("allockit")
