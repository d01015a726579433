"""Data quality & reconciliation (module 01): the checks of `audit_kit.metrics.quality` for every
period, the module's headline metrics and its findings (data-quality findings are ranked by the share
of rows affected, `findings.SHARE_SEVERITY`, and carry no money at stake: amounts stay in the evidence).

The module shape of `audit_kit.modules`; ``summarise`` also takes the run's row ledger.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from ..findings import Finding, capped, from_catalog, severity_by_share
from ..ingest import Ledger
from ..metrics import quality as q
from ..metrics.periods import Window, in_window, period_months

NAME = "quality"
CHAIN_METRICS = {"bookings_lead_missing": "bookings_without_lead"}   # check -> metrics.json key, where they differ
LINK_METRICS = (("id", "leads_linked_by_id"), ("phone", "leads_linked_by_phone"), ("none", "leads_unlinked"))


@dataclass
class QualitySummary:
    """Every table of the data-quality section (the current period's bounds and length for money)."""

    periods: dict[str, Window]
    ledger: pd.DataFrame             # `ledger_overview`
    totals: dict[str, float]         # `ledger_totals`
    reasons: pd.DataFrame            # the ledger's reasons frame
    rejections: pd.DataFrame         # `ledger_rejections`
    chain: pd.DataFrame              # `id_chain` per period (column period)
    links: pd.DataFrame | None       # `lead_links` per period, when leads are given
    reconciled: pd.DataFrame | None  # `reconcile_months`, when two of bookings / visits / invoices are given
    duplicates: pd.DataFrame         # `duplicates`
    near_duplicate_amount: float | None   # current period, when invoices are given
    refunds: pd.DataFrame | None     # `refunds` per period, when invoices are given
    coverage: pd.DataFrame           # `date_coverage`
    gaps: pd.DataFrame               # `coverage_gaps`
    average_check: float             # current period, NaN without invoices
    sources: pd.DataFrame            # `sources_read`: every file and the preset it was read by
    losses: pd.DataFrame             # `loss_warnings`: tables that rejected most of their rows
    stages: pd.DataFrame             # `lead_stages`: the CRM stages with their meaning (empty without them)
    event_order: pd.DataFrame        # `event_order`: times in an impossible order

    @property
    def current(self) -> Window:
        return self.periods["current"]

    @property
    def months(self) -> float:
        return period_months(*self.current)

    def unpaid_completed(self) -> float:
        """Completed bookings without a paid visit in the current period (`metrics.quality.unpaid_completed`)."""
        return q.unpaid_completed(self.reconciled, *self.current) if self.reconciled is not None else float("nan")

    def completed_in_current(self) -> float:
        inside = in_window(self.reconciled["month"], *self.current)
        return self.reconciled.loc[inside, "completed_bookings"].sum()


# -- ledger reasons in words (the catalog sentences of `metrics.quality.parse_reasons`) ----------------
def reason_phrases(t: Callable[[str], str]) -> dict[str, str]:
    """The catalog templates describe_reasons needs, read through a translator `t(key)`."""
    phrases = {code: t(f"quality.reasons.{code}") for code in q.REASON_CODES}
    phrases |= {f"action.{a}": t(f"quality.actions.{a}") for a in q.ACTION_CODES}
    phrases["with_action"] = t("quality.reasons.with_action")
    return phrases


def describe_reasons(reasons: pd.Series, phrases: Mapping[str, str]) -> pd.Series:
    """Ledger reasons in plain words: the code is translated, column names are kept as they are.

    phrases maps each code of q.REASON_CODES to a template with {column} / {other}, `action.<a>` to
    a template with {value}, and `with_action` to '{reason} ... {action}'. A reason whose code is
    unknown is shown as it is. The ledger has one row per distinct reason (tens of rows, not
    growing with the clinic), so the per-row formatting below is cheap.
    """
    parts = q.parse_reasons(reasons)
    out = []
    for raw, code, column, other, action, value in zip(reasons, parts["code"], parts["column"], parts["other"],
                                                      parts["action"], parts["action_value"]):
        if pd.isna(code) or code not in phrases or (pd.notna(action) and f"action.{action}" not in phrases):
            out.append(str(raw))
            continue
        text = phrases[code].format(column="" if pd.isna(column) else column, other="" if pd.isna(other) else other)
        if pd.notna(action):
            done = phrases[f"action.{action}"].format(value="" if pd.isna(value) else value)
            text = phrases["with_action"].format(reason=text, action=done)
        out.append(text)
    return pd.Series(out, index=reasons.index, dtype="string")


FILES_SHOWN = 3     # files named per table in the report's ledger tables (a network sends one payments file per branch)


def files_shown(files: pd.Series, fmt, t, n: int = FILES_SHOWN) -> pd.Series:
    """The ledger's ``file`` cells (`Ledger.frame`: a table's files joined by ", ") as the report shows them: the
    first ``n`` files, then «и ещё 342 — полный список в таблицах» (`findings.capped`). One row per table, so a
    loop over the cells is a loop over the tables; the workbook keeps every file."""
    return pd.Series([capped(str(cell).split(", "), fmt, t, n) for cell in files], index=files.index, dtype="string")


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window], options: Mapping[str, Any], *,
              ledger: Ledger, stages: Mapping[str, str] | None = None) -> QualitySummary:
    """Every check of the module over the canonical tables and the row ledger; `stages` is the config's
    CRM stage meanings (`stages:` in audit.yaml)."""
    from ..ingest.presets import known_stages
    periods = dict(periods)
    start, end = periods["current"]
    reasons = ledger.reasons_frame()
    overview = q.ledger_overview(ledger.frame(), reasons)
    chain = q.id_chains(tables, periods)
    links = None
    if "leads" in tables:
        links = pd.concat([q.lead_links(tables["leads"], a, b).assign(period=p) for p, (a, b) in periods.items()],
                          ignore_index=True)
    reconciled = None
    if sum(t in tables for t in ("bookings", "visits", "invoices")) >= 2:
        reconciled = q.reconcile_months(q.monthly_counts(tables.get("bookings"), tables.get("visits"),
                                                         tables.get("invoices")))
    invoices = tables.get("invoices")
    refunds = None
    if invoices is not None:
        refunds = pd.DataFrame([{"period": p, **q.refunds(invoices, a, b)} for p, (a, b) in periods.items()])
    coverage = q.date_coverage(tables, periods)
    sources = q.sources_read(ledger)
    lead_presets = sources.loc[sources["table"].eq("leads"), "preset"].dropna()
    lead_stages = (q.lead_stages(tables["leads"], known_stages(lead_presets, dict(stages or {})))
                   if "leads" in tables else q.lead_stages(pd.DataFrame(), {}))
    samples = {name: table.samples for name, table in ledger.tables.items()}
    near = q.near_duplicate_rows(tables)                  # once: the duplicates table and the money share it
    return QualitySummary(
        periods=periods, ledger=overview, totals=q.ledger_totals(overview), reasons=reasons,
        rejections=q.ledger_rejections(reasons), chain=chain, links=links, reconciled=reconciled,
        duplicates=q.duplicates(tables, reasons, near_rows=near),
        near_duplicate_amount=(q.near_duplicate_amount(invoices, start, end, near=near["invoices"])
                               if invoices is not None else None),
        refunds=refunds, coverage=coverage, gaps=q.coverage_gaps(coverage, list(periods)),
        average_check=q.average_check(invoices, start, end) if invoices is not None else float("nan"),
        sources=sources, losses=q.loss_warnings(overview, reasons, samples), stages=lead_stages,
        event_order=q.event_order(tables, ledger))


def headline_metrics(summary: QualitySummary,
                     targets: Mapping[str, Any] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """metrics.json entries: the ledger's totals (current), the ID-chain break rates, how leads are tied
    to patients, and the months whose systems disagree (``targets``: unused, the module shape's)."""
    totals = summary.totals
    out = {"quality.rows_read": ("count", {"current": totals["read"]}),
           "quality.rows_rejected": ("count", {"current": totals["rejected"]}),
           "quality.reject_rate": ("rate", {"current": totals["reject_rate"]})}
    if len(summary.chain):
        rates = summary.chain.set_index(["check", "period"])["share"].unstack()
        for check in q.CHECKS:
            if check in rates.index:
                out[f"quality.{CHAIN_METRICS.get(check, check)}_rate"] = ("rate", rates.loc[check].to_dict())
    if summary.links is not None:
        shares = summary.links.set_index(["link", "period"])["share"].unstack()
        for link, key in LINK_METRICS:
            out[f"quality.{key}"] = ("rate", shares.loc[link].to_dict())
    if summary.reconciled is not None and len(summary.reconciled):
        out["quality.months_mismatched"] = ("count", {p: q.months_mismatched(summary.reconciled, a, b)
                                                      for p, (a, b) in summary.periods.items()})
    return out


def build_findings(summary: QualitySummary, fmt, t, targets: Mapping[str, Any]) -> list[Finding]:
    """`finding_drafts` as Findings."""
    return [from_catalog(NAME, t, **draft) for draft in finding_drafts(summary, fmt, t)]


def finding_drafts(summary: QualitySummary, fmt, t) -> list[dict[str, Any]]:
    """The module's findings as dicts ``{id, severity, money, key, values}``:

    - ``rejected_rows``: the ledger rejected rows for invalid values (not priced);
    - one per broken ID-chain check in the current period (``invoices_without_visit`` states their amount
      per month, money that no visit explains);
    - ``systems_disagree``: months where bookings, visits and payments differ by more than 10 %;
    - ``completed_not_paid``: completed bookings without a paid visit (states them × the average check);
    - ``duplicates``: duplicate rows (states the near-duplicate invoices' amount);
    - ``refunds``: refunds in the current period (states their amount);
    - ``coverage_gaps``: tables that do not cover a period;
    - one per event-order check with rows in an impossible order (``booked_after_slot``,
      ``checkin_before_booking``, ``visit_ends_before_start``; the rows are kept).
    Data findings are facts about records, not revenue the clinic loses: none carries money at stake
    (DESIGN §4); their amounts stay in the evidence and they rank by the share of rows affected.
    """
    found: list[dict[str, Any]] = []
    months = summary.months
    read = summary.totals["read"]

    def table_name(name: str) -> str:
        return t(f"quality.tables.{name}")

    def add(id_: str, severity: str, money_per_month: float | None, /, **values: Any) -> None:
        found.append({"id": id_, "severity": severity, "money": money_per_month, "key": f"quality.finding.{id_}",
                      "values": values})

    invalid = summary.rejections
    if len(invalid):
        rows = int(invalid["rows"].sum())
        top = invalid.iloc[0]
        reason = describe_reasons(invalid["reason"].head(1), reason_phrases(t)).iloc[0]
        add("rejected_rows", severity_by_share(rows / read, "rejected_rows"), None, rows=fmt.num(rows),
            read=fmt.num(read), rate=fmt.pct(rows / read, 2), top=f'{table_name(top["table"])}: {reason} ({fmt.num(top["rows"])})')
    chain = summary.chain
    for row in chain.loc[chain["period"].eq("current") & chain["broken"].gt(0)].itertuples() if len(chain) else ():
        money = row.amount / months if row.check == "invoices_without_visit" else None   # in the evidence, not at stake
        add(row.check, severity_by_share(row.share, row.check), None, n=fmt.num(row.broken),
            checked=fmt.num(row.checked), share=fmt.pct(row.share), amount=fmt.money(row.amount),
            money=fmt.money(money), examples=row.examples)
    reconciled = summary.reconciled
    if reconciled is not None and len(reconciled):
        flagged = reconciled.loc[reconciled["mismatch"]]
        if len(flagged):
            details = "; ".join(f"{fmt.month(r.month)}: " + " / ".join(fmt.num(v) for v in (r.completed_bookings, r.visits,
                                                                                           r.paid_visits))
                                + f" ({fmt.pct(r.gap)})" for r in flagged.itertuples())
            in_current = in_window(flagged["month"], *summary.current).any()
            add("systems_disagree", "high" if in_current else "medium", None, count=fmt.num(len(flagged)),
                details=details)
    unpaid = summary.unpaid_completed()
    if unpaid > 0:
        completed, check = summary.completed_in_current(), summary.average_check
        money = unpaid * check / months
        add("completed_not_paid", severity_by_share(unpaid / completed, "completed_not_paid"), None,
            n=fmt.num(unpaid), completed=fmt.num(completed), share=fmt.pct(unpaid / completed),
            check=fmt.money(check), total=fmt.money(unpaid * check), money=fmt.money(money))
    dups = summary.duplicates
    if dups["rows"].sum():
        near = dups.loc[dups["kind"].eq("near_duplicate")].set_index("table")
        money = summary.near_duplicate_amount / months if summary.near_duplicate_amount is not None else None
        add("duplicates", severity_by_share(dups["rows"].sum() / read, "duplicates"), None,
            rows=fmt.num(dups["rows"].sum()), ledger=fmt.num(dups.loc[dups["kind"].ne("near_duplicate"), "rows"].sum()),
            bookings=fmt.num(int(near["rows"].get("bookings", 0))), invoices=fmt.num(int(near["rows"].get("invoices", 0))),
            amount=fmt.money(near["amount"].get("invoices", 0.0)),
            examples=", ".join(x for x in near["example_ids"] if x) or "—")
    if summary.refunds is not None:
        cur = summary.refunds.set_index("period").loc["current"]
        if cur["refunds"]:
            add("refunds", severity_by_share(cur["refund_share"], "refunds"), None,
                refunds=fmt.num(cur["refunds"]), money=fmt.money(cur["refund_amount"]),
                share=fmt.pct(cur["refund_share"]), orphans=fmt.num(cur["orphan_refunds"]))
    gaps = summary.gaps
    if not gaps.empty:
        details = "; ".join(t("quality.coverage.detail", table=table_name(r.table), coverage=fmt.pct(r.current_coverage, 0),
                              months=r.missing_months or "—") for r in gaps.itertuples())
        add("coverage_gaps", "high" if gaps["current_coverage"].lt(1).any() else "medium", None,
            tables=", ".join(gaps["table"].map(table_name)), details=details)
    for row in summary.event_order.loc[summary.event_order["rows"].gt(0)].itertuples():
        add(row.check, severity_by_share(row.share, row.check), None, rows=fmt.num(row.rows),
            checked=fmt.num(row.checked), share=fmt.pct(row.share), examples=row.example_rows or "—")
    return found
