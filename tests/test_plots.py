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
        assert image.size == before.size                                  # the same pixels as the RGBA PNG ...
        assert min(image.convert("RGB").getpixel((2, 2))) >= 250           # ... on (near) white
    assert len(png) < len(old.getvalue()) / 2                             # ... in less than half the bytes


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
