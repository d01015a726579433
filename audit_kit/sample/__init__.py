"""Deterministic synthetic demo clinic with planted problems (DESIGN §2, `audit-kit sample`).

`generate(out_dir)` writes the raw exports of one fictional private clinic the way Russian
clinics really send them (amoCRM, a Calltouch API export, the MIS, 1C, Яндекс.Метрика; csv in
cp1251 or utf-8 and xlsx with Excel dates; Russian headers) plus an `audit.yaml` around them.

The clinic is simulated, not sampled row by row: new contacts arrive by channel and hour,
are answered fast or slowly and book or not; every patient follows a chain of treatment
episodes (one-off, regular, chronic every ~90 days, best, former best); demands are matched
to free slots of a doctor's schedule; completed bookings become visits, visits become
payments. Problems the audit must find are planted with fixed sizes (see PLANTS and
sample_data/README.md), and `measure()` recomputes their sizes from the raw files.

The same seed always gives the same bytes: numpy `default_rng(seed)` drives every random
draw, and xlsx files get fixed document timestamps and fixed zip entry times.

Modules, by idea: `facts` (calendar, plants, doctors, channels, prices, names), `clock` (helpers on
the simulation's minute clock), `clinic` (the simulation), `frames` (the raw export frames),
`exports` (writing them and audit.yaml), `measure` (the plants measured back from the files), `network`
(a network of the demo's copies as branches, for benchmarks: `audit-kit sample --branches N`).
"""
from .exports import generate, write_export
from .facts import (BASE, CHANNEL_MAP, CURRENT, OVERBOOKED, OVERRUNS, PLANTS, SEED, UNDERLOADED)
from .frames import BOOKING_DOCTOR_HEADER, CALLBACK_HEADER, INVOICE_TITLE, XLSX_SHEETS, build
from .measure import measure, read_raw
from .network import generate_network

__all__ = ["generate", "generate_network", "write_export", "build", "measure", "read_raw", "BASE", "CURRENT", "CHANNEL_MAP", "OVERBOOKED",
           "OVERRUNS", "UNDERLOADED", "PLANTS", "SEED", "BOOKING_DOCTOR_HEADER", "CALLBACK_HEADER", "INVOICE_TITLE",
           "XLSX_SHEETS"]
