"""The report's charts: palette PNGs (plots.png_bytes) and charts cut to fit a page (plots.ends)."""
from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from audit_kit import plots


def test_png_is_a_palette_image_at_the_report_resolution():
    fig, ax = plt.subplots(figsize=(4.0, 2.0))
    ax.plot([0, 1, 2], [0, 2, 1], color=plots.PALETTE[0])
    ax.imshow(np.linspace(0, 1, 400).reshape(20, 20), extent=(0, 2, 0, 2), cmap="viridis")   # > 256 colours in
    png = plots.png_bytes(fig)
    old = io.BytesIO()
    fig.savefig(old, format="png", dpi=plots.PNG_DPI, bbox_inches="tight")
    plt.close(fig)
    with Image.open(io.BytesIO(png)) as image, Image.open(io.BytesIO(old.getvalue())) as before:
        assert image.mode == "P" and len(image.getcolors(1024)) <= plots.PNG_COLOURS == 256
        assert all(abs(a - b) <= 2 for a, b in zip(image.size, before.size))   # savefig's tight box, to a pixel ...
        assert min(image.convert("RGB").getpixel((2, 2))) >= 250           # ... on (near) white
    assert len(png) < len(old.getvalue()) / 2                             # ... in less than half the bytes


def test_png_is_the_figure_cut_to_its_tight_box():
    fig, ax = plt.subplots(figsize=(4.0, 2.0))
    ax.plot([0, 1], [0, 1])
    plt.close(fig)
    png = plots.png_bytes(fig)
    box = fig.get_tightbbox().padded(0.1)           # inches; savefig.pad_inches = 0.1
    with Image.open(io.BytesIO(png)) as image:
        assert abs(image.size[0] - box.width * plots.PNG_DPI) <= 2 and abs(image.size[1] - box.height * plots.PNG_DPI) <= 2
        assert image.size[0] < 4.0 * plots.PNG_DPI                       # cut: the figure is 520 px wide
    assert fig.get_dpi() == 100.0                                         # the figure is left as it was


def test_png_keeps_an_artist_outside_the_canvas():
    fig, ax = plt.subplots(figsize=(4.0, 2.0))
    ax.plot([0, 1], [0, 1], label="a long legend entry outside the axes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))            # past the right edge: no tight_layout
    plt.close(fig)
    with Image.open(io.BytesIO(plots.png_bytes(fig))) as image:
        assert image.size[0] > 4.0 * plots.PNG_DPI                       # widened to keep the legend, as savefig does


def test_png_of_the_same_figure_is_the_same():
    fig = plots.bar(pd.DataFrame({"x": ["a", "b"], "y": [1, 2]}), x="x", y="y")
    assert plots.png_bytes(fig) == plots.png_bytes(fig)
    plt.close(fig)


def test_ends_keeps_the_first_and_last_rows_of_a_long_table():
    doctors = pd.DataFrame({"doctor": [f"d{i}" for i in range(100)], "load": np.linspace(1.2, 0.1, 100)})
    cut = plots.ends(doctors, 40)
    assert list(cut["doctor"]) == [f"d{i}" for i in range(20)] + [f"d{i}" for i in range(80, 100)]
    assert plots.ends(doctors.head(40), 40).equals(doctors.head(40))
    assert len(plots.ends(doctors)) == plots.BARS_MAX == 40
