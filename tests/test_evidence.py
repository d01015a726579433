"""Values decided by the column's own evidence (day/month order, thousands vs decimal separators) and the
value domains of the canonical contract (ingest/coerce.py, ingest/schema.py DOMAINS)."""
from __future__ import annotations

import pandas as pd
import pytest

from audit_kit.ingest.coerce import (EvidenceConflict, outside_domain, parse_datetime, parse_number,
                                     separator_roles, slash_order)
from audit_kit.ingest.schema import TABLES, Domain



def S(*values) -> pd.Series:
    return pd.Series(list(values), dtype="string")


@pytest.mark.parametrize("values, roles, assumed", [
    (("3 900,50", "12.5"), {",": "decimal", ".": "decimal"}, 0),          # both marks proven decimal
    (("1.234,56", "12.500"), {",": "decimal", ".": "thousands"}, 0),      # 1.234,56 proves the dot groups
    (("1,234.56", "12,500"), {",": "thousands", ".": "decimal"}, 0),
    (("1.234.567",), {",": "decimal", ".": "thousands"}, 0),              # two dots: thousands
    (("12.500",), {",": "decimal", ".": "decimal"}, 1),                   # no evidence: read 12.5, noted
    (("9 800,00", "-1 200"), {",": "decimal", ".": "thousands"}, 0),
])
def test_separator_roles(values, roles, assumed):
    assert separator_roles(S(*values)) == (roles, assumed)


def test_numbers_read_by_the_roles():
    parsed, bad = parse_number(S("12.500", "1.234,56", "3 900,50 ₽", None))
    assert parsed.tolist()[:3] == [12500.0, 1234.56, 3900.5] and bad.tolist() == [False] * 4


def test_contradicting_separators_name_both_values():
    with pytest.raises(EvidenceConflict) as err:
        separator_roles(S("1,234.56", "12,5"))
    assert err.value.examples == ("1,234.56", "12,5")


@pytest.mark.parametrize("values, order, assumed", [
    (("10/11/2024", "25/10/2024"), "day", 0),
    (("10/11/2024", "10/25/2024 10:00"), "month", 0),
    (("10/11/2024", "03/04/2024"), "day", 2),
    (("05.01.2025",), None, 0),
])
def test_slash_order(values, order, assumed):
    assert slash_order(S(*values)) == (order, assumed)


def test_month_first_dates_are_read_month_first():
    parsed, bad = parse_datetime(S("10/11/2024", "10/25/2024 10:00:00"))
    assert parsed.tolist() == [pd.Timestamp("2024-10-11"), pd.Timestamp("2024-10-25 10:00")] and not bad.any()


def test_contradicting_dates_raise():
    with pytest.raises(EvidenceConflict) as err:
        slash_order(S("25/10/2024", "10/25/2024"))
    assert err.value.examples == ("25/10/2024", "10/25/2024")


def test_domains_in_the_contract():
    col = {c.name: c for c in TABLES["surveys"].columns}
    assert (col["nps"].domain.low, col["nps"].domain.high) == (0, 10)
    assert col["csat"].domain.label() == "1–5"
    assert TABLES["invoices"].column("amount").domain.label() == "|x| ≤ 10,000,000"
    assert TABLES["bookings"].column("slot_start").domain.days_ahead == 731


def test_outside_numbers():
    values = pd.Series([-1.0, 0.0, 10.0, 11.0, float("inf"), float("nan")])
    assert outside_domain(values, Domain(0, 10)).tolist() == [True, False, False, True, True, False]
    money = pd.Series([-2e7, 5e6, 2e7])
    assert outside_domain(money, Domain(-1e7, 1e7)).tolist() == [True, False, True]
    assert outside_domain(money, Domain(-1e7, 1e7), high=3e7).tolist() == [False, False, False]


def test_outside_dates():
    today = pd.Timestamp("2026-12-06 15:00")
    dates = pd.Series(pd.to_datetime(["1999-12-31", "2026-12-06 23:59", "2026-12-07", "2027-06-01", None], format="ISO8601"))
    assert outside_domain(dates, Domain(days_ahead=0), today=today).tolist() == [True, False, True, True, False]
    assert outside_domain(dates, Domain(days_ahead=731), today=today).tolist() == [True, False, False, False, False]
