"""Schedule utilisation (DESIGN §4, module 03): doctors' time offered, booked and used; idle time and
imbalance; no-shows, cancellations and their cost; waits and overruns.

Pure, vectorised functions over the canonical tables; no I/O. One file per idea:

- `intervals` — shifts and slots as intervals, the timeline sweep, utilisation by doctor and hour;
- `idle` — idle patients, over- and underloaded doctors, imbalance within a specialty, peak overload;
- `no_shows` — no-show and cancellation rates by group and lead time, what no-shows cost;
- `waits` — waits after check-in and overruns of the slot;
- `summary` — one period's frames and headlines, the money at stake, the per-period summaries.

Everything is importable from `audit_kit.metrics.schedule` itself (the names below).
"""
from __future__ import annotations

from .intervals import (SLOT_KEEPING, STATUSES, SLOT_COLUMNS, NS_PER_MIN, NS_PER_SEC, SEC_PER_HOUR,
                        EPOCH_WEEKDAY, HOURS_PER_WEEK, HOUR_CHUNK, SHIFT_START, BOOK_START, SHIFT_END,
                        BOOK_END, EVENT_DELTA, plain_strings, shared_codes, take_codes, as_categorical,
                        epoch_seconds, slot_minutes, shifts, slots, timeline, utilisation, sum_by,
                        with_doctors, hour_pieces, week_hour, hour_bins, hour_minutes, by_hour, clinic_hours,
                        weekday_hour_matrix, hour_profile)  # noqa: F401
from .idle import (OVERLOADED, UNDERLOADED, DOUBLE_BOOKED_SHARE, typical_slot, idle_patients,
                   specialty_balance, overbooked, fill_gaps, main_hours, PeakOverload, peak_overload)  # noqa: F401
from .no_shows import (MIN_KEPT, LATE_CANCEL_HOURS, LEAD_TIME_BUCKETS, FAR_AHEAD_BUCKETS, NO_GROUP,
                       lead_time_bucket, with_dimensions, booking_rates, paid_per_booking, visit_value,
                       value_for, no_show_cost, excess_over, worse_groups, no_show_value)  # noqa: F401
from .waits import (waits, wait_summary)  # noqa: F401
from .summary import (PeriodFrames, period_frames, underload_gap, headlines, rate_counts, booking_rate_counts,
                      wait_counts, Prepared, prepare, per_doctor,
                      by_specialty, Money, finite_total, money, FINDINGS, WAIT_SHARE_LIMIT, OVERRUN_MINUTES,
                      OUTSIDE_SHARE, MIN_VISITS, PeriodSummary, summarise, HEADLINE_UNITS, headline_metrics,
                      comparison, in_hours)  # noqa: F401
