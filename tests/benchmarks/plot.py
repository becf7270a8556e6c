"""The curves of a benchmark run as one PNG: a panel per `Plot`, per-item cost against
the number of items (both axes logarithmic, so a flat line is a constant cost per item).

matplotlib comes with the `bench` extra (`pip install -e '.[bench]'`); without it the
figures are still printed and the plot is skipped with a message saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .harness import Plot


def draw(plots: Sequence[Plot], path: Path, caption: str) -> str | None:
    """Write the PNG; None when done, or why it could not be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        from matplotlib import pyplot
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    figure, axes = pyplot.subplots(1, len(plots), figsize=(6 * len(plots), 4.5), squeeze=False)
    for panel, plot in zip(axes[0], plots, strict=True):
        for label, points in plot.lines.items():
            sizes = [n for n, _ in points]
            panel.plot(sizes, [value for _, value in points], marker="o", label=label)
        panel.set_xscale("log")
        panel.set_yscale("log")
        panel.set_xlabel("items")
        panel.set_ylabel(plot.unit)
        panel.set_title(plot.title, fontsize=10)
        panel.grid(True, which="both", alpha=0.3)
        panel.legend()
    figure.suptitle(caption, fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return None
