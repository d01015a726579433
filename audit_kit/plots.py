"""One chart style for the whole report; every function returns the figure it made.

Colours are colour-blind safe; axes are always labelled with units (labels come from the caller,
who takes them from the language catalog). `png_bytes` turns a figure into the image the report
embeds: a 256-colour PNG. Measured per chart type (benchmarks/bench_charts.py), it is 3.0–4.0×
smaller than the RGBA PNG the report embedded before, and smaller than an SVG of the same chart
for every type the kit draws: the SVG with text drawn as paths (so that it looks alike without the
report's fonts) is 1.4–5.7× larger; only with text left as text, relying on the reader's fonts, is
a line chart's SVG smaller (0.7–0.9×).
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

PALETTE = ["#1f5f8b", "#e07b39", "#3a9d5d", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
FIGSIZE = (8.0, 3.6)
PNG_DPI = 130              # pixels per inch of a chart
BARS_MAX = 40              # bars of a one-bar-per-item chart (doctors): about one A4 page
PNG_COLOURS = 256          # a chart has few colours: a palette PNG is 3–4× smaller than RGBA, alike to the eye


def apply_theme() -> None:
    """Seaborn whitegrid, DejaVu Sans (has Cyrillic), the kit's palette."""
    sns.set_theme(style="whitegrid", palette=PALETTE, font="DejaVu Sans",
                  rc={"axes.titlesize": 11, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
                      "legend.fontsize": 8, "figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False})


apply_theme()


def png_bytes(fig) -> bytes:
    """The figure as a palette PNG at `PNG_DPI`: drawn once in RGBA on white, cut to its tight
    bounding box plus matplotlib's `savefig.pad_inches` (what `savefig(bbox_inches="tight")` keeps),
    reduced to `PNG_COLOURS` colours (Pillow's fast octree), written with zlib's best compression.

    One draw instead of `savefig`'s two (a tight box is measured by drawing, then drawn again) and no
    RGBA PNG encoded and decoded on the way: on the demo's charts 15–35 % less time a chart, the same
    picture to within a pixel of edge. A figure with an artist outside its canvas (the box reaches past
    the edge) goes through `savefig`, which widens the canvas to keep it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    dpi, face = fig.get_dpi(), fig.get_facecolor()
    fig.set_dpi(PNG_DPI)
    fig.set_facecolor("white")
    try:
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        canvas.draw()
        box = fig.get_tightbbox(canvas.get_renderer()).padded(matplotlib.rcParams["savefig.pad_inches"])
        width, height = fig.get_size_inches()
        if box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height:
            rgba = np.asarray(canvas.buffer_rgba())
            top = rgba.shape[0] - int(np.ceil(box.y1 * PNG_DPI))
            bottom = rgba.shape[0] - int(np.floor(box.y0 * PNG_DPI))
            rgb = Image.fromarray(rgba[max(top, 0):bottom, int(np.floor(box.x0 * PNG_DPI)):int(np.ceil(box.x1 * PNG_DPI)), :3])
        else:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches="tight", facecolor="white")
            buf.seek(0)
            with Image.open(buf) as image:
                rgb = Image.new("RGB", image.size, "white")
                rgb.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    finally:
        fig.set_dpi(dpi)
        fig.set_facecolor(face)
    out = io.BytesIO()
    rgb.quantize(colors=PNG_COLOURS, method=Image.Quantize.FASTOCTREE).save(out, format="PNG", optimize=True)
    return out.getvalue()


def ends(data: pd.DataFrame, limit: int = BARS_MAX) -> pd.DataFrame:
    """A sorted table cut to fit a chart: all its rows when there are at most `limit`, else the
    first and the last `limit // 2` (e.g. the most and the least loaded doctors)."""
    if len(data) <= limit:
        return data
    half = limit // 2
    return pd.concat([data.iloc[:half], data.iloc[-half:]])


def _ax(ax=None, figsize=FIGSIZE):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def bar(data: pd.DataFrame, *, x: str, y: str, hue: str | None = None, xlabel: str = "", ylabel: str = "",
        title: str = "", horizontal: bool = False, ax=None, value_fmt=None, **bar_kws):
    """Bars of y by x (optionally by hue); value_fmt(v) -> label printed on each bar."""
    fig, ax = _ax(ax)
    if horizontal:
        sns.barplot(data=data, y=x, x=y, hue=hue, ax=ax, orient="h", errorbar=None, **bar_kws)
    else:
        sns.barplot(data=data, x=x, y=y, hue=hue, ax=ax, errorbar=None, **bar_kws)
    if value_fmt is not None:
        for container in ax.containers:
            ax.bar_label(container, labels=[value_fmt(v) for v in container.datavalues], fontsize=7, padding=2)
    ax.set(xlabel=ylabel if horizontal else xlabel, ylabel=xlabel if horizontal else ylabel, title=title)
    fig.tight_layout()
    return fig


def line(data: pd.DataFrame, *, x: str, y: str, hue: str | None = None, xlabel: str = "", ylabel: str = "",
         title: str = "", ax=None, **line_kws):
    fig, ax = _ax(ax)
    sns.lineplot(data=data, x=x, y=y, hue=hue, marker="o", ax=ax, **line_kws)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.tight_layout()
    return fig


def heatmap(matrix: pd.DataFrame, *, xlabel: str = "", ylabel: str = "", title: str = "", fmt: str = ".0f",
            cmap: str = "Reds", ax=None, figsize=(8.0, 3.2), hatched: pd.DataFrame | None = None, **heatmap_kws):
    """A matrix (e.g. weekday × hour) with values annotated; NaN cells stay blank (not drawn).
    ``hatched``: a boolean matrix of the same shape whose True cells get a diagonal hatch
    (e.g. a partial month)."""
    fig, ax = _ax(ax, figsize)
    annot = heatmap_kws.pop("annot", True)     # True, or a matrix of ready labels (with fmt="")
    sns.heatmap(matrix, annot=annot, fmt=fmt, cmap=cmap, cbar=False, linewidths=0.5, ax=ax,
                annot_kws={"fontsize": 7}, **heatmap_kws)
    if hatched is not None:
        from matplotlib.patches import Rectangle

        for row, col in np.argwhere(hatched.reindex_like(matrix).fillna(False).to_numpy(bool)):
            ax.add_patch(Rectangle((col, row), 1, 1, fill=False, hatch="///", edgecolor="#555555", lw=0))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.tight_layout()
    return fig


def curves(data: pd.DataFrame, *, x: str, y: str, hue: str, xlabel: str = "", ylabel: str = "", title: str = "",
           levels: dict | None = None, legend_title: str = "", ax=None, figsize=FIGSIZE):
    """One line per ``hue`` value of y over x in the order they first appear; NaN leaves a gap
    (an unobserved month is not drawn). More lines than the palette: a sequential colour map
    (oldest light, newest dark). ``levels``: hue value -> y of a dashed line in that colour (e.g. CAC)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _ax(ax, figsize)
    groups = list(dict.fromkeys(data[hue]))
    colours = PALETTE if len(groups) <= len(PALETTE) else sns.color_palette("viridis_r", len(groups))
    wide = data.pivot_table(index=x, columns=hue, values=y, aggfunc="first", dropna=False)
    for colour, group in zip(colours, groups):
        ax.plot(wide.index, wide[group], marker="o", markersize=3, linewidth=1.4, color=colour, label=str(group))
        level = (levels or {}).get(group)
        if level is not None and np.isfinite(level):
            ax.axhline(level, color=colour, linestyle="--", linewidth=1)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title=legend_title or None, title_fontsize=8, fontsize=7, ncol=1 + len(groups) // 10,
              loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def funnel(stages: pd.Series, *, title: str = "", xlabel: str = "", value_fmt=str, ax=None):
    """Horizontal funnel: one bar per stage (index = stage label), widest first."""
    fig, ax = _ax(ax, (8.0, 0.45 * len(stages) + 1.0))
    ax.barh(list(stages.index)[::-1], list(stages.values)[::-1], color=PALETTE[0])
    for i, v in enumerate(list(stages.values)[::-1]):
        ax.text(v, i, f" {value_fmt(v)}", va="center", fontsize=8)
    ax.set(title=title, xlabel=xlabel)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def monthly_lines(data: pd.DataFrame, *, month: str, series: list[str], labels: dict[str, str],
                  month_label, flagged: pd.Series | None = None, xlabel: str = "", ylabel: str = "",
                  legend_title: str = "", ax=None):
    """One line per column of `series` over `month` (first day of month), starting at zero;
    months where `flagged` is True are shaded red. `labels` maps a column to its legend text and
    `month_label(ts)` formats the ticks."""
    long = (data.melt(id_vars=month, value_vars=series, var_name="source", value_name="value")
            .dropna(subset=["value"]).assign(source=lambda d: d["source"].map(labels)))
    fig = line(long, x=month, y="value", hue="source", xlabel=xlabel, ylabel=ylabel, ax=ax)
    ax = fig.axes[0]
    if flagged is not None:
        for m in data.loc[flagged.to_numpy(dtype=bool), month]:
            ax.axvspan(m - pd.Timedelta(days=14), m + pd.Timedelta(days=14), color=PALETTE[3], alpha=0.15, lw=0)
    ax.legend(title=legend_title, title_fontsize=8)
    many = len(data) > 8
    ax.set_xticks(data[month], [month_label(x) for x in data[month]], rotation=45 if many else 0,
                  ha="right" if many else "center")
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    return fig


def panels_by_month(data: pd.DataFrame, *, month: str, hue: str, values: dict[str, str], month_label,
                    title: str = "", legend_title: str = ""):
    """One panel per column of ``values`` (column -> y-axis label, units included) stacked over a
    shared month axis, one line per ``hue`` value; ``month_label(ts)`` formats the ticks."""
    fig, axes = plt.subplots(len(values), 1, figsize=(8.0, 2.3 * len(values) + 0.6), sharex=True)
    axes = [axes] if len(values) == 1 else list(axes)
    months = sorted(data[month].unique())
    for i, (ax, (col, label)) in enumerate(zip(axes, values.items())):
        sns.lineplot(data=data, x=month, y=col, hue=hue, marker="o", markersize=4, ax=ax, legend=i == 0,
                     palette=PALETTE[:data[hue].nunique()])
        ax.set(xlabel="", ylabel=label)
        ax.set_ylim(bottom=0)
    if axes[0].get_legend() is not None:
        axes[0].legend(title=legend_title, title_fontsize=8, ncol=min(4, data[hue].nunique()), loc="upper left",
                       bbox_to_anchor=(0, 1.02 + 0.1), frameon=False)
    many = len(months) > 8
    axes[-1].set_xticks(months, [month_label(x) for x in months], rotation=45 if many else 0,
                        ha="right" if many else "center")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def score_grid(counts: pd.DataFrame, colour: pd.DataFrame, *, xlabel: str = "", ylabel: str = "", title: str = "",
               vmin: float = 1, vmax: float = 3, cmap: str = "RdYlGn", ax=None, figsize=(6.0, 3.4)):
    """A small grid (e.g. R × F scores): cells coloured by `colour`, annotated with the integers of `counts`
    (same index and columns; empty cells stay blank)."""
    fig, ax = _ax(ax, figsize)
    labels = counts.map(lambda v: "" if pd.isna(v) else f"{int(v)}")
    sns.heatmap(colour.astype(float), annot=labels, fmt="", cmap=cmap, vmin=vmin, vmax=vmax, cbar=True,
                linewidths=1, linecolor="white", ax=ax, annot_kws={"fontsize": 10})
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(False)
    fig.tight_layout()
    return fig


def step_curve(x, y, *, xlabel: str = "", ylabel: str = "", title: str = "", marks=(), span=None,
               xmax: float | None = None, ax=None):
    """A step function (e.g. a Kaplan–Meier curve) with vertical `marks` [(x, label)] and a shaded
    `span` (x0, x1, label)."""
    fig, ax = _ax(ax)
    ax.step(x, y, where="post", color=PALETTE[0], linewidth=1.6)
    if span is not None:
        ax.axvspan(span[0], span[1], color=PALETTE[1], alpha=0.25, lw=0, label=span[2])
    for i, (value, label) in enumerate(marks):
        ax.axvline(value, color=PALETTE[3 + i % 3], linestyle="--", linewidth=1.2, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_ylim(0, 100 if max(y, default=0) > 1 else 1.0)
    ax.set_xlim(0, xmax)
    if marks or span is not None:
        ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
