"""One look for every allockit figure, and offline rendering.

``use()`` registers and enables the ``allockit`` altair theme (sizes, fonts, a colour-blind
safe palette in which every strategy keeps its colour across figures) and makes notebooks
render charts as inline SVG through vl-convert, so nothing is fetched from the network.
"""

from __future__ import annotations

from typing import Any

from ..strategies import STRATEGIES

# Okabe-Ito, then greys: readable in print and by colour-blind readers
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
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


def use(notebook: bool = False) -> None:
    """Enable the theme (idempotent); with ``notebook``, render charts as inline SVG."""
    import altair as alt

    global _ENABLED
    if not _ENABLED:
        alt.theme.register("allockit", enable=True)(_config)
        _ENABLED = True
    if notebook:
        alt.renderers.enable("svg")
