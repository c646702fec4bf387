"""``nas-attn report``: one self-contained HTML file about a study.

:mod:`nas_attn.report.html` lays the page out (trials table, template); :mod:`nas_attn.report.plots`
draws its figures as inline SVG. The page's public names are re-exported here, so
``from nas_attn.report import write_report`` works.
"""

from __future__ import annotations

from nas_attn.report.html import (
    heatmap_svg,
    hv_svg,
    hypervolume_history,
    module_frequencies,
    render_report,
    scatter_svg,
    trials_html,
    write_report,
)

__all__ = [
    "heatmap_svg",
    "hv_svg",
    "hypervolume_history",
    "module_frequencies",
    "render_report",
    "scatter_svg",
    "trials_html",
    "write_report",
]
