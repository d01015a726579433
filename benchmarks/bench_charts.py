"""Benchmark: the size of each kind of chart the report embeds, in the formats it could take.

For one chart of every function in `audit_kit/plots.py` (synthetic data of a clinic's shape:
12 months, 8 channels, a weekday × hour heatmap, 40 doctors, an 18 × 12 cohort triangle) prints the
bytes of: the RGBA PNG the report embedded before issue 21 (`savefig`, 130 dpi), the palette PNG it
embeds now (`plots.png_bytes`), an SVG with text drawn as paths (looks alike anywhere) and an SVG
with text left as text (needs the reader's fonts), and the seconds each took. The report takes
the smallest that looks the same everywhere: the palette PNG, for every kind measured.

    .venv/bin/python benchmarks/bench_charts.py
"""
from __future__ import annotations

import io
import time

import matplotlib
import numpy as np
import pandas as pd

from audit_kit import plots


def charts() -> dict[str, object]:
    rng = np.random.default_rng(21)
    months = pd.date_range("2024-04-01", periods=12, freq="MS")
    channels = ["Контекст", "SEO", "SMM", "Агрегаторы", "Рекомендации", "Повторные", "Прямые заходы", "Другое"]
    lines = pd.DataFrame({"month": np.tile(months, 3), "value": rng.integers(50, 400, 36).astype(float),
                          "source": np.repeat(["Записи", "Визиты", "Оплаты"], 12)})
    by_channel = pd.DataFrame({"month": np.tile(np.arange(12), 8), "ltv": rng.random(96).cumsum(),
                               "channel": np.repeat(channels, 12)})
    doctors = pd.DataFrame({"doctor": [f"Врач {i:03d}" for i in range(40)], "load": np.sort(rng.random(40) * 120)[::-1]})
    heat = pd.DataFrame(rng.random((7, 13)) * 100, index=["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"],
                        columns=range(8, 21))
    cohort = pd.DataFrame(np.triu(rng.random((18, 12)).cumsum(axis=1) * 10)[:, ::-1], index=range(18))
    cohort = cohort.where(cohort > 0)
    counts = pd.DataFrame(rng.integers(0, 500, (3, 3)), index=[1, 2, 3], columns=[1, 2, 3])
    month_label = lambda ts: ts.strftime("%m.%Y")   # noqa: E731
    return {
        "bar (40 doctors)": _sized(plots.bar(doctors, x="doctor", y="load", horizontal=True, value_fmt=lambda v: f"{v:.0f}",
                                             title="Загрузка врачей"), 0.32 * 40 + 1.2),
        "line": plots.line(lines, x="month", y="value", hue="source", title="Записи, визиты, оплаты"),
        "heatmap (weekday × hour)": plots.heatmap(heat, title="Загрузка по часам, %"),
        "heatmap (cohorts 18 × 12)": plots.heatmap(cohort, title="Накопленная выручка", figsize=(8.0, 5.8)),
        "curves (8 channels)": plots.curves(by_channel, x="month", y="ltv", hue="channel", title="Выручка на пациента"),
        "funnel": plots.funnel(pd.Series([5000, 2400, 1700, 1300], index=["Обращения", "Записи", "Визиты", "Оплаты"]),
                               title="Воронка"),
        "monthly_lines": plots.monthly_lines(pd.DataFrame({"month": months, "a": rng.random(12) * 900,
                                                           "b": rng.random(12) * 800}),
                                             month="month", series=["a", "b"], labels={"a": "Записи", "b": "Визиты"},
                                             month_label=month_label),
        "panels_by_month": plots.panels_by_month(by_channel.assign(month=np.tile(months, 8), cac=rng.random(96) * 5000),
                                                 month="month", hue="channel", values={"ltv": "LTV", "cac": "CAC, ₽"},
                                                 month_label=month_label),
        "score_grid (R × F)": plots.score_grid(counts, counts / 200 + 1, title="R × F"),
        "step_curve": plots.step_curve(np.arange(0, 400, 10), np.linspace(100, 5, 40), title="Доля не вернувшихся",
                                       marks=[(120, "порог")]),
    }


def _sized(fig, height: float):
    fig.set_size_inches(8.0, height)
    return fig


def timed(fn) -> tuple[int, float]:
    started = time.perf_counter()
    size = len(fn())
    return size, time.perf_counter() - started


def rgba_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plots.PNG_DPI, bbox_inches="tight")
    return buf.getvalue()


def svg(fig, fonttype: str) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": fonttype}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def main() -> None:
    print(f"{'chart':28s} {'RGBA PNG':>10s} {'palette PNG':>12s} {'SVG paths':>10s} {'SVG text':>10s}   "
          f"{'old/new':>7s}  seconds (RGBA, palette, SVG paths)")
    totals = np.zeros(4)
    for name, fig in charts().items():
        sizes, secs = zip(*(timed(lambda f=f: f(fig)) for f in
                            (rgba_png, plots.png_bytes, lambda f: svg(f, "path"), lambda f: svg(f, "none"))))
        totals += sizes
        print(f"{name:28s} {sizes[0]:10,d} {sizes[1]:12,d} {sizes[2]:10,d} {sizes[3]:10,d}   "
              f"{sizes[0] / sizes[1]:6.2f}×  {secs[0]:.2f} {secs[1]:.2f} {secs[2]:.2f}")
    print(f"{'total':28s} {int(totals[0]):10,d} {int(totals[1]):12,d} {int(totals[2]):10,d} {int(totals[3]):10,d}   "
          f"{totals[0] / totals[1]:6.2f}×")


if __name__ == "__main__":
    main()
