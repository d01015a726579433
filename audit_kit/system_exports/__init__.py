"""Canonical-shaped frames written the way real systems export them (../shared/EXPORTS.md).

What it is for:
- the demo's exports (issue 17: `audit-kit sample` writes its calls, and may write its leads and spend, as
  Calltouch, amoCRM and Yandex Direct write them instead of through the kit's own headers);
- the preset fixtures in tests/fixtures/exports/ (made by make_fixtures.py next to them; EXPECTED.md there
  says what ingest must read from each);
- the equivalence test of issue 17: the same synthetic clinic written once through canonical headers and
  once through these writers must give the same metrics.

Modules: `headers` (system headers, verbatim), `cells` (cells and file writers), `crm`, `calls`, `ads`.
Every writer is `(frame, path, **options) -> Path`, takes a canonical-shaped frame (columns listed per
family below), writes one file and returns its path. System headers are verbatim from EXPORTS.md and
nothing else; where a writer needs a column EXPORTS.md does not list, it says so in its docstring. Output
is byte-stable: the same frame and options give the same bytes (xlsx with fixed document and zip times).

Input frames:
- leads: lead_id, created_at, source (raw: 'yandex / cpc', 'prodoctorov'), outcome ('won'|'lost'|'open'),
  lost_reason, patient_id (may be NA), utm_source, utm_medium, utm_campaign, service, full_name, phone,
  email, closed_at (NaT when open); optional budget (number) and products (a list per row, Bitrix24 deals).
- calls: call_id, started_at (clinic local time), answered (bool), wait_seconds, duration_seconds (talk
  time, 0 for a missed call), source, medium (may be empty), utm_source, utm_medium, utm_campaign,
  caller_phone ('79251234567'), city; optional called_back_at.
- spend: date (daily), campaign, cost (one channel: a Direct file carries campaigns, not the channel).
- traffic: month, source_label (a Metrika source label), sessions.
- visits (Metrika Logs API): date_time, source_label, utm_source, utm_medium, utm_campaign; optional
  visit_id, client_id, start_url, page_views, visit_duration, bounce, is_new_user.

Times in the frames are the clinic's local wall-clock time (naive Timestamps). Writers whose systems use
absolute time (Mango Unix timestamps, Roistat ISO with offset) convert from `timezone` (default
Europe/Moscow).
"""
from .ads import direct_api_tsv, direct_master, metrika_logs, metrika_ui, metrika_ui_months
from .calls import calltouch_api, calltouch_journal, comagic_calls, mango_calls, roistat_calls
from .crm import amocrm_deals, bitrix24_leads, bitrix24_deals
from .headers import *  # noqa: F401,F403 (the system headers, for tests and fixtures)

__all__ = ["amocrm_deals", "bitrix24_leads", "bitrix24_deals", "calltouch_api", "calltouch_journal", "comagic_calls",
           "mango_calls", "roistat_calls", "direct_master", "direct_api_tsv", "metrika_ui", "metrika_ui_months",
           "metrika_logs"]
