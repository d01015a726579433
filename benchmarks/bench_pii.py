"""Ingest with personal data: N CRM leads carrying the contact's name and phone (a lost reason with a
phone or a name in a quarter of them) and N/5 patients with names and phones, all cp1251 csv.

Prints rows and seconds for read + hashing + masking phones and names in free text + linking leads
to patients by phone, then the masking alone on the leads' lost reasons (N cells) and on one cell of
100,000 characters. Usage: python benchmarks/bench_pii.py [N]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from audit_kit.config import load_config
from audit_kit.ingest import ingest


def write_exports(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(1)
    m = max(n // 5, 1)
    first = np.array(["Иван", "Мария", "Пётр", "Анна", "Олег", "Ольга", "Денис", "Елена"])
    last = np.char.add("Фамилия", np.arange(5000).astype(str))
    phones = np.char.add("+7 912 ", rng.integers(1_000_000, 9_999_999, m).astype(str))
    pd.DataFrame({"ID пациента": np.char.add("P", np.arange(m).astype(str)),
                  "ФИО": np.char.add(np.char.add(rng.choice(last, m), " "), rng.choice(first, m)),
                  "Телефон": phones}).to_csv(folder / "patients.csv", sep=";", index=False, encoding="cp1251")
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90 * 1440, n), unit="min")
    pd.DataFrame({"ID заявки": np.arange(n).astype(str), "Дата создания": created.strftime("%d.%m.%Y %H:%M"),
                  "Источник": rng.choice(["yandex / cpc", "SEO", "vk / social"], n),
                  "Телефон": phones[rng.integers(0, m, n)],
                  "Причина отказа": rng.choice(["Дорого", "Передумал", "Иван передумал", "звонить +7 999 111-22-33"], n),
                  }).to_csv(folder / "leads.csv", sep=";", index=False, encoding="cp1251")
    (folder / "audit.yaml").write_text(yaml.safe_dump({
        "client": "bench", "periods": {"current": ["2025-01-01", "2025-03-31"]},
        "data": {"leads": "leads.csv", "patients": "patients.csv"}}, allow_unicode=True), encoding="utf-8")
    return folder / "audit.yaml"


def main(n: int = 300_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = write_exports(Path(tmp), n)
        started = time.perf_counter()
        result = ingest(load_config(config))
        seconds = time.perf_counter() - started
        rows = sum(t.read for t in result.ledger.tables.values())
        fixes = result.ledger.tables["leads"].fixes
        print(f"ingest with personal data: {rows:,} rows (leads + patients) in {seconds:.1f} s ({rows / seconds:,.0f} rows/s); "
              f"leads linked by phone {fixes.get('linked_by_phone:patient_id', 0):,}, "
              f"contacts masked {fixes.get('contact_in_text:lost_reason (masked)', 0):,}, "
              f"names masked {fixes.get('name_in_text:lost_reason (masked)', 0):,}")
        reasons = pd.read_csv(Path(tmp) / "leads.csv", sep=";", encoding="cp1251", dtype=str)["Причина отказа"]
        names = pd.read_csv(Path(tmp) / "patients.csv", sep=";", encoding="cp1251", dtype=str)["ФИО"]
        print(masking_line(reasons.astype("string"), names))


def masking_line(reasons: pd.Series, names: pd.Series) -> str:
    """Seconds for masking contacts and names in the lost reasons (as ingest does) and in one cell of
    100,000 characters of a note repeated."""
    from audit_kit.ingest.pii import mask_contacts, mask_names, name_tokens

    started = time.perf_counter()
    tokens = name_tokens(names)
    masked, _ = mask_contacts(reasons)
    _, hit = mask_names(masked, tokens)
    column = time.perf_counter() - started
    note = "Иванова просила перезвонить Петрову Петру +7 912 345-67-89, дорого; Фамилия12 Ивану передать. "
    rng = np.random.default_rng(7)     # the worst case: 100,000 characters of words that are all different
    syllables = np.char.add(rng.choice(list("бвгдзклмнпрстхч"), (20_000, 4)), rng.choice(list("аеиоуя"), (20_000, 4)))
    words = ["".join(w[: 2 + i % 3]) for i, w in enumerate(syllables)]
    cells = {"a note repeated": (note * (100_000 // len(note) + 1))[:100_000],
             "distinct words": " ".join(w.capitalize() if i % 3 == 0 else w for i, w in enumerate(words))[:100_000]}
    seconds = {}
    for label, text in cells.items():
        started = time.perf_counter()
        masked, _ = mask_contacts(pd.Series([text], dtype="string"))
        mask_names(masked, tokens)
        seconds[label] = time.perf_counter() - started
    return (f"masking contacts and names: {len(reasons):,} lost reasons in {column:.2f} s ({int(hit.sum()):,} with a name); "
            f"one 100,000-character cell: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000)
