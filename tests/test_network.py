"""`audit-kit sample --branches N`: a network of the demo clinic's copies (audit_kit/sample/network.py).

A 3-branch network is written once and read back with plain pandas (Russian headers, cp1251 with ';') and
through `audit-kit validate`; `audit-kit sample` without --branches still writes the committed demo.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from audit_kit.cli import main
from audit_kit.config import load_config
from audit_kit.ingest import ingest
from audit_kit.sample import BOOKING_DOCTOR_HEADER, build
from audit_kit.sample.network import BRANCH_HEADER, SHARED_SHARE, branch_name

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "sample_data" / "demo_clinic"
BRANCHES = 3
BRANCH_VALUES = [branch_name(b, BRANCHES) for b in range(1, BRANCHES + 1)]
# table -> (file, encoding, delimiter, lines above the header)
FILES = {
    "leads": ("crm_leads.csv", "utf-8", ",", 0),
    "calls": ("calltouch_calls.csv", "utf-8", ",", 0),
    "bookings": ("mis_bookings.csv", "cp1251", ";", 0),
    "visits": ("mis_visits.csv", "cp1251", ";", 0),
    "schedule": ("schedule.csv", "cp1251", ";", 0),
    "doctors": ("doctors.csv", "utf-8", ",", 0),
    "marketing_spend": ("marketing_spend.csv", "utf-8", ",", 0),
    "site_traffic": ("metrika_traffic.csv", "utf-8-sig", ",", 0),
    "patients": ("mis_patients.csv", "cp1251", ";", 0),
    "surveys": ("surveys.csv", "utf-8", ",", 0),
}
KEYS = {"leads": "ID сделки", "calls": "callId", "bookings": "Номер записи", "visits": "Номер визита",
        "invoices": "Номер документа", "doctors": "Код врача", "patients": "Код пациента"}


@pytest.fixture(scope="module")
def demo():
    return {name: frame for name, (_, frame, _) in build().items()}


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("network") / "net"
    assert main(["sample", str(folder), "--branches", str(BRANCHES)]) == 0
    return folder


def _read(path: Path, encoding: str, sep: str, skip: int = 0) -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False, skiprows=skip)


@pytest.fixture(scope="module")
def raw(network) -> dict[str, pd.DataFrame]:
    d = network / "data"
    out = {name: _read(d / f, enc, sep, skip) for name, (f, enc, sep, skip) in FILES.items()}
    out["invoices"] = pd.concat([_read(p, "cp1251", ";", 2).assign(file=p.name)
                                 for p in sorted((d / "payments").glob("*.csv"))], ignore_index=True)
    return out


def _branch(ids: pd.Series) -> pd.Series:
    """The branch number an ID carries (`10001_3` -> 3)."""
    return ids.str.rsplit("_", n=1).str[1].astype(int)


def _shared(demo) -> int:
    """Patients of one branch borrowed by the next (one half of the shared patients)."""
    return int(round(SHARED_SHARE * len(demo["patients"])))


def test_files_and_config(network):
    d = network / "data"
    assert sorted(p.name for p in (d / "payments").glob("*.csv")) == [f"1c_payments_00{b}.csv" for b in (1, 2, 3)]
    assert not list(d.glob("*.xlsx"))
    text = (network / "audit.yaml").read_text(encoding="utf-8")
    assert "  invoices: data/payments/*.csv\n" in text and f'"{BOOKING_DOCTOR_HEADER}": doctor_id' in text
    config = load_config(network / "audit.yaml")
    assert config.client == "Сеть клиник «Здоровье» (демо, 3 филиала)"
    assert len(config.sources["invoices"].paths) == BRANCHES
    demo = load_config(COMMITTED / "audit.yaml")
    assert config.channels == demo.channels and config.periods == demo.periods and config.options == demo.options


def test_row_counts(raw, demo):
    for name, frame in raw.items():
        if name in ("marketing_spend", "site_traffic"):        # one network-wide file per channel and month
            assert len(frame) == len(demo[name]), name
        elif name == "patients":                               # a borrowed patient is listed once
            assert len(frame) == BRANCHES * len(demo[name]) - (BRANCHES - 1) * _shared(demo)
        else:
            assert len(frame) == BRANCHES * len(demo[name]), name
    assert raw["invoices"].groupby("file").size().tolist() == [len(demo["invoices"])] * BRANCHES


def test_spend_and_traffic_scale_with_the_branches(raw, demo):
    spend = raw["marketing_spend"]["Расход"].astype(float)
    assert spend.sum() == pytest.approx(BRANCHES * demo["marketing_spend"]["Расход"].sum(), rel=1e-9)
    assert (raw["site_traffic"]["Визиты"].astype(int) == BRANCHES * demo["site_traffic"]["Визиты"]).all()
    assert (raw["site_traffic"]["Источник"] == demo["site_traffic"]["Источник"]).all()


def test_ids_distinct_per_branch(raw, demo):
    for name, key in KEYS.items():
        ids = raw[name][key]
        base = demo[name][key if name != "calls" else "call_id"].astype(str)
        assert ids.nunique() == BRANCHES * base.nunique() - (name == "patients") * (BRANCHES - 1) * _shared(demo), name
        # every ID is a demo ID with its branch as a suffix, each branch's a disjoint set
        assert set(ids.str.rsplit("_", n=1).str[0]) == set(base), name
        by_branch = [set(ids[_branch(ids) == b]) for b in range(1, BRANCHES + 1)]
        assert sum(len(s) for s in by_branch) == len(set().union(*by_branch)), name


def test_branch_column(raw, demo, network):
    for name in ("leads", "bookings", "schedule"):
        counts = raw[name][BRANCH_HEADER].value_counts().sort_index()
        assert counts.index.tolist() == BRANCH_VALUES and (counts == len(demo[name])).all(), name
    assert BRANCH_HEADER not in raw["invoices"] and BRANCH_HEADER not in raw["visits"]
    # bookings of a branch are that branch's (their booking number carries it)
    b = raw["bookings"]
    assert (b[BRANCH_HEADER].map(BRANCH_VALUES.index) + 1 == _branch(b["Номер записи"])).all()
    tables = ingest(load_config(network / "audit.yaml")).tables       # «Филиал» is branch_id by its alias
    for name in ("leads", "bookings", "schedule"):
        assert sorted(tables[name]["branch_id"].dropna().unique()) == BRANCH_VALUES, name


def test_doctors_distinct_across_branches(raw, demo):
    doctors = raw["doctors"]
    assert doctors["Код врача"].is_unique and doctors["ФИО врача"].is_unique
    assert len(doctors) == BRANCHES * len(demo["doctors"])
    branch1 = doctors[_branch(doctors["Код врача"]) == 1]
    assert branch1["ФИО врача"].tolist() == demo["doctors"]["ФИО врача"].tolist()    # branch 1 keeps the demo's
    assert (doctors.groupby(_branch(doctors["Код врача"]))["Специальность"].apply(list)
            .map(lambda s: s == demo["doctors"]["Специальность"].tolist())).all()
    # the schedule names the same doctor the same way; no doctor bears a patient's name
    s = raw["schedule"][["Код врача", "Врач"]].drop_duplicates()
    assert dict(zip(s["Код врача"], s["Врач"])) == dict(zip(doctors["Код врача"], doctors["ФИО врача"]))
    assert not set(doctors["ФИО врача"]) & set(raw["patients"]["ФИО"])
    # every doctor reference points at a doctor of the row's own branch
    for name, col, id_col in (("bookings", BOOKING_DOCTOR_HEADER, "Номер записи"), ("visits", "Код врача", "Номер визита")):
        rows = raw[name]
        assert rows[col].isin(doctors["Код врача"]).all() and (_branch(rows[col]) == _branch(rows[id_col])).all()


def test_phones_and_emails_distinct_per_branch(raw):
    patients = raw["patients"]
    assert patients["Телефон"].is_unique
    emails = patients["E-mail"][patients["E-mail"] != ""]
    assert emails.str.match(r"^[^@]+_\d+@").all()
    # a call from a patient's number is a call to the patient's branch (or, for a shared patient, the next)
    phone_branch = pd.Series(_branch(patients["Код пациента"]).to_numpy(),
                             index=patients["Телефон"].str.replace(r"\D", "", regex=True))
    calls = raw["calls"]
    known = calls["callerNumber"].isin(phone_branch.index)
    assert known.mean() > 0.5
    lag = _branch(calls.loc[known, "callId"]).to_numpy() - phone_branch.reindex(calls.loc[known, "callerNumber"]).to_numpy()
    assert set(lag) <= {0, 1} and (lag == 0).mean() > 0.9


def test_shared_patients(raw, demo):
    k = _shared(demo)
    visits = raw["visits"]
    visit_branch, patient_branch = _branch(visits["Номер визита"]), _branch(visits["Код пациента"])
    assert set(visit_branch - patient_branch) == {0, 1}
    for b in range(2, BRANCHES + 1):
        borrowed = set(visits.loc[(visit_branch == b) & (patient_branch == b - 1), "Код пациента"])
        assert borrowed and len(borrowed) <= k
        own = set(visits.loc[visit_branch == b - 1, "Код пациента"])
        assert borrowed <= own                 # they visit both branches, under one patient ID
    # each patient is listed once, and every patient in the other tables is listed
    patients = set(raw["patients"]["Код пациента"])
    for name, col in (("bookings", "Код пациента"), ("visits", "Код пациента"), ("invoices", "Код пациента"),
                      ("surveys", "Код пациента")):
        assert set(raw[name][col]) <= patients, name
    # the same patient ID in bookings, visits and payments of the borrowing branch
    inv = raw["invoices"]
    inv_branch = inv["file"].str.extract(r"(\d+)\.csv$")[0].astype(int)
    assert ((inv_branch - _branch(inv["Код пациента"])).isin([0, 1])).all()
    assert ((inv_branch == 2) & (_branch(inv["Код пациента"]) == 1)).any()


def test_validate_reads_the_payments_glob(network, capsys, demo):
    assert main(["validate", str(network / "audit.yaml"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    files = summary["tables"]["invoices"]["files"]
    assert sorted(files) == [f"1c_payments_00{b}.csv" for b in (1, 2, 3)]
    assert [f["read"] for f in files.values()] == [len(demo["invoices"])] * BRANCHES
    assert summary["tables"]["invoices"]["read"] == BRANCHES * len(demo["invoices"])
    assert summary["tables"]["calls"]["preset"] == "calltouch_api"
    # the only rejected rows are the demo's planted duplicates, once per branch
    for name, t in summary["tables"].items():
        assert set(t["reasons"]) <= {"duplicate_row"}, name


def test_branches_argument(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sample", str(tmp_path / "x"), "--branches", "0"])
    assert exc.value.code == 2 and "--branches" in capsys.readouterr().err


def test_sample_without_branches_is_the_committed_demo(tmp_path):
    if not (COMMITTED / "audit.yaml").is_file():
        pytest.skip("sample_data/demo_clinic is not in this checkout")
    assert main(["sample", str(tmp_path / "demo")]) == 0
    fresh = {p.relative_to(tmp_path / "demo").as_posix(): p for p in (tmp_path / "demo").rglob("*") if p.is_file()}
    assert len(fresh) == 12
    for name, path in fresh.items():
        kept = COMMITTED / name
        if path.suffix == ".xlsx":            # compared by content, as tests/test_sample.py does
            with zipfile.ZipFile(path) as new, zipfile.ZipFile(kept) as old:
                assert sorted(new.namelist()) == sorted(old.namelist()), name
                assert all(new.read(e) == old.read(e) for e in new.namelist()), name
        else:
            assert path.read_bytes() == kept.read_bytes(), name


def test_doctor_names_stay_distinct_up_to_the_largest_network(demo):
    from audit_kit.sample.facts import SURNAMES
    from audit_kit.sample.network import MAX_BRANCHES, _doctor_names

    doctors = demo["doctors"].astype(str)
    names = _doctor_names(doctors, MAX_BRANCHES)
    assert names.shape == (MAX_BRANCHES, len(doctors)) and len(set(names.ravel())) == names.size
    surnames = {n.split()[0].removesuffix("а") for n in names[1:].ravel()}
    assert not surnames & set(SURNAMES)       # patients' surnames come from SURNAMES: no doctor is a patient's namesake
