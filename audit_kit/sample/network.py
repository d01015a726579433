"""A clinic network for benchmarks (`generate_network`, `audit-kit sample --branches N`).

The demo clinic's raw export frames (`frames.build`) replicated per branch, vectorised: every frame is
first turned into the text cells its export carries (once, for one clinic), then a block of branches is
the same cells tiled with `np.tile`, the ID columns suffixed with the branch number (`10001_3`), the
doctors renamed, the phones and e-mails made the branch's own, and a «Филиал» column added where the
contract has `branch_id` (leads, bookings, schedule). Blocks of about a million rows are appended to one
csv per table with pandas, so a 345-branch network (~19 M rows) is written in a few minutes.

The network has one CRM export (leads of every branch), one call-tracking export (the Calltouch API csv as
the demo writes it), spend and site traffic per channel for the whole network (the demo's times the number
of branches), and one payments file per branch under data/payments/ (audit.yaml reads them with a glob).
Everything is csv: xlsx cannot hold millions of rows.

Shared patients: a few patients of a branch (3 % of the demo's patients with a visit) also come to the
next branch, where their rows carry the first branch's patient ID, and their calls its phone. The demo's
patients are split into two disjoint halves A and B that alternate (pairs 1-2, 3-4 … share A; pairs 2-3,
4-5 … share B), so a patient copy is never both borrowed and lent. The patient list of the network names
each patient once: the borrowed copies' rows are not in mis_patients.csv (the one table with fewer rows
than branches × the demo's).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .exports import config_text
from .facts import FEMALE_NAMES, MALE_NAMES, SEED, SURNAMES
from .frames import BOOKING_DOCTOR_HEADER, CALLTOUCH, INVOICE_TITLE, build

BRANCH_HEADER = "Филиал"               # a built-in alias of branch_id (leads, bookings, schedule)
SHARED_SHARE = 0.03                    # of a branch's patients (with a visit) also seen at the next branch
BLOCK_ROWS = 1_000_000                 # rows of one table generated and written at a time

# file name and csv format (encoding, delimiter) of each table of the network; invoices: one file per branch
FILES = {
    "leads": ("crm_leads.csv", ("utf-8", ",")),
    "calls": ("calltouch_calls.csv", CALLTOUCH),
    "bookings": ("mis_bookings.csv", ("cp1251", ";")),
    "visits": ("mis_visits.csv", ("cp1251", ";")),
    "invoices": ("payments", ("cp1251", ";")),
    "schedule": ("schedule.csv", ("cp1251", ";")),
    "doctors": ("doctors.csv", ("utf-8", ",")),
    "marketing_spend": ("marketing_spend.csv", ("utf-8", ",")),
    "site_traffic": ("metrika_traffic.csv", ("utf-8-sig", ",")),
    "patients": ("mis_patients.csv", ("cp1251", ";")),
    "surveys": ("surveys.csv", ("utf-8", ",")),
}
# ID columns of each export and the family they belong to (a family is suffixed the same way everywhere)
IDS = {
    "leads": {"ID сделки": "lead", "ID пациента": "patient", "ID звонка": "call"},
    "calls": {"callId": "call"},
    "bookings": {"Номер записи": "booking", "Код пациента": "patient", BOOKING_DOCTOR_HEADER: "doctor",
                 "ID заявки": "lead"},
    "visits": {"Номер визита": "visit", "Код пациента": "patient", "Номер записи": "booking", "Код врача": "doctor"},
    "invoices": {"Номер документа": "invoice", "Код пациента": "patient", "ID визита": "visit"},
    "schedule": {"Код врача": "doctor"},
    "doctors": {"Код врача": "doctor"},
    "patients": {"Код пациента": "patient"},
    "surveys": {"Код пациента": "patient", "ID визита": "visit", "ID врача": "doctor"},
}
DOCTOR_NAMES = {"schedule": ("Код врача", "Врач"), "doctors": ("Код врача", "ФИО врача")}
PHONES = {"patients": "Телефон", "calls": "callerNumber"}
BRANCH_TABLES = ("leads", "bookings", "schedule")
DT = "%d.%m.%Y %H:%M"
# doctors' surnames of branches 2.. (none is a patient's surname, so a doctor never shares a patient's name)
DOCTOR_SURNAMES = """Аверин Агапов Барсуков Белкин Бобров Бондарев Буров Вавилов Ветров Вишняков Гладков Голованов
Горелов Дроздов Дятлов Евдокимов Ершов Жаров Зимин Зуев Игнатов Казанцев Карасев Кочетов Лапин Латышев Лосев Лыков
Мамонтов Минин Муравьев Некрасов Озеров Орехов Пестов Рябов Сазонов Селезнев Снегирев Стрельцов Суворов Тетерин
Третьяков Уваров Ушаков Фадеев Хромов Чайкин Шарапов Шубин Щукин Ягодин Яшин Астахов Блинов Веселов Глебов
Докучаев Жилин Калугин Ларионов Мухин Панфилов Рогов Садовников Тюрин Устинов Фокин Цыганов Шестаков""".split()
MAX_BRANCHES = len(DOCTOR_SURNAMES) * min(len(FEMALE_NAMES), len(MALE_NAMES)) // 2   # doctor names stay distinct
PHONE_MULT = 387_420_489               # 3**18: coprime with 10**9, scrambles (branch, phone) into 9xxxxxxxxx


def branch_name(b: int, branches: int) -> str:
    """The «Филиал» value of branch b (1-based): «Филиал 007»."""
    return f"Филиал {b:0{max(3, len(str(branches)))}d}"


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as the text cells a csv export carries (datetimes dd.mm.yyyy hh:mm, missing as '')."""
    out = {}
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            col = col.dt.strftime(DT)
        out[c] = col.astype(object).where(col.notna(), "").astype(str).to_numpy(object)
    return pd.DataFrame(out)


def _calltouch_cells(frame: pd.DataFrame, tmp: Path) -> pd.DataFrame:
    """The demo's calls as the cells of its Calltouch API csv (written once by the demo's writer, read back)."""
    from .exports import write_export

    write_export("calls", frame, tmp, CALLTOUCH)
    try:
        return pd.read_csv(tmp, dtype=str, keep_default_na=False, encoding="utf-8")
    finally:
        tmp.unlink()


def _doctor_names(doctors: pd.DataFrame, branches: int) -> np.ndarray:
    """[branch - 1, doctor] -> name: branch 1 keeps the demo's names; later branches take surnames of their own,
    then first names in turn (a doctor's patronymic is unique among the demo's, so names never collide)."""
    names = np.empty((branches, len(doctors)), object)
    s = len(DOCTOR_SURNAMES)
    for i, full in enumerate(doctors["ФИО врача"]):          # 14 doctors: O(doctors) work
        _, first, patronymic = full.split()
        female = patronymic.endswith("на")
        firsts = FEMALE_NAMES if female else MALE_NAMES
        j = np.arange(branches - 1) + 5 * i                 # doctors of one branch get different surnames
        sur = np.array(DOCTOR_SURNAMES, object)[j % s] + ("а" if female else "")
        fn = np.array(firsts, object)[(firsts.index(first) + j // s) % len(firsts)]
        names[0, i] = full
        names[1:, i] = sur + " " + fn + " " + patronymic
    return names


class _Network:
    """The demo's export cells and what replicating them needs (shared patients, phone ranks, doctor names)."""

    def __init__(self, branches: int, seed: int, tmp: Path):
        if not 1 <= branches <= MAX_BRANCHES:
            raise ValueError(f"branches must be between 1 and {MAX_BRANCHES}")
        self.branches = branches
        tables = build(seed)
        self.demo = {name: frame for name, (_, frame, _) in tables.items()}
        self.cells = {name: (_calltouch_cells(frame, tmp) if name == "calls" else _text(frame))
                      for name, frame in self.demo.items() if name not in ("marketing_spend", "site_traffic")}
        self.suffix = np.array([""] + [f"_{b}" for b in range(1, branches + 1)], object)
        self.labels = np.array([""] + [branch_name(b, branches) for b in range(1, branches + 1)], object)
        doctors = self.cells["doctors"]
        self.doctor_index = pd.Series(np.arange(len(doctors)), index=doctors["Код врача"].to_numpy())
        self.doctor_names = _doctor_names(doctors, branches)
        # shared patients: two disjoint halves of 3 % each, drawn among patients with a visit
        rng = np.random.default_rng(seed + 21)
        visited = np.unique(self.cells["visits"]["Код пациента"].to_numpy(str))
        k = int(round(SHARED_SHARE * len(self.cells["patients"])))
        pick = rng.choice(visited, 2 * k, replace=False)
        self.group = pd.Series(np.repeat([1, 2], k), index=pick)       # patient ID -> 1 (half A) or 2 (half B)
        # phones as 10 digits; every demo phone gets a rank, and a group when it is a shared patient's
        pat = self.cells["patients"]
        pat_phone = pat["Телефон"].str.replace(r"\D", "", regex=True).str[1:].astype(np.int64).to_numpy()
        call_phone = self.cells["calls"]["callerNumber"].str[1:].astype(np.int64).to_numpy()
        self.phones = np.unique(np.concatenate([pat_phone, call_phone]))
        self.phone_group = np.zeros(len(self.phones), np.int8)
        grp = self.group.reindex(pat["Код пациента"].to_numpy()).fillna(0).to_numpy(np.int8)
        self.phone_group[np.searchsorted(self.phones, pat_phone)] = grp

    # -- one block of branches [b0, b1) of a table
    def block(self, name: str, b0: int, b1: int) -> pd.DataFrame:
        base = self.cells[name]
        n, k = len(base), b1 - b0
        branch = np.repeat(np.arange(b0, b1), n)
        out = {}
        for col in base.columns:
            v = base[col].to_numpy(object)
            family = IDS.get(name, {}).get(col)
            if family is None:
                out[col] = np.tile(v, k)
                continue
            owner = branch
            if family == "patient":
                owner = branch - self._borrowed(self.group.reindex(v).fillna(0).to_numpy(np.int8), branch, k)
            out[col] = self._suffixed(v, owner, k)
        if name in DOCTOR_NAMES:
            code, label = DOCTOR_NAMES[name]
            i = self.doctor_index.reindex(base[code].to_numpy()).to_numpy()
            out[label] = self.doctor_names[branch - 1, np.tile(i, k)]
        if name in PHONES:
            out[PHONES[name]] = self._phones(name, base[PHONES[name]], branch, k)
        if name == "patients":
            local, _, domain = (base["E-mail"].str.partition("@")[c].to_numpy(object) for c in (0, 1, 2))
            e = np.tile(local, k) + self.suffix[branch] + "@" + np.tile(domain, k)
            out["E-mail"] = np.where(np.tile(local == "", k), "", e)
        if name in BRANCH_TABLES:
            out[BRANCH_HEADER] = self.labels[branch]
        frame = pd.DataFrame(out)
        if name == "patients":       # a borrowed patient is listed once, under the branch that lent it
            grp = self.group.reindex(base["Код пациента"].to_numpy()).fillna(0).to_numpy(np.int8)
            frame = frame[~self._borrowed(grp, branch, k)]
        return frame

    @staticmethod
    def _borrowed(group: np.ndarray, branch: np.ndarray, k: int) -> np.ndarray:
        """Rows whose patient belongs to the previous branch: half A at even branches, half B at odd ones > 1."""
        g = np.tile(group, k)
        return ((g == 1) & (branch % 2 == 0)) | ((g == 2) & (branch % 2 == 1) & (branch > 1))

    def _suffixed(self, v: np.ndarray, owner: np.ndarray, k: int) -> np.ndarray:
        tiled = np.tile(v, k)
        return np.where(tiled == "", "", tiled + self.suffix[owner])

    def _phones(self, name: str, col: pd.Series, branch: np.ndarray, k: int) -> np.ndarray:
        digits = col.str.replace(r"\D", "", regex=True)
        blank = (digits == "").to_numpy()
        ten = digits.str[1:].where(~blank, "0").astype(np.int64).to_numpy()
        rank = np.minimum(np.searchsorted(self.phones, ten), len(self.phones) - 1)
        rank_t = np.tile(rank, k)
        owner = branch - self._borrowed(self.phone_group[rank], branch, k)
        number = 9_000_000_000 + ((owner.astype(np.int64) * len(self.phones) + rank_t) * PHONE_MULT) % 1_000_000_000
        s = pd.Series(number).astype(str)
        text = ("7" + s) if name == "calls" else ("+7 (" + s.str[:3] + ") " + s.str[3:6] + "-" + s.str[6:8] + "-" + s.str[8:])
        return np.where(np.tile(blank, k), "", text.to_numpy(object))

    def blocks(self, name: str):
        """(first branch, branch after the last, frame): blocks of about BLOCK_ROWS rows covering every branch."""
        per = max(1, BLOCK_ROWS // max(1, len(self.cells[name])))
        for b0 in range(1, self.branches + 1, per):
            b1 = min(b0 + per, self.branches + 1)
            yield b0, b1, self.block(name, b0, b1)

    # -- network-level tables
    def spend(self) -> pd.DataFrame:
        s = self.demo["marketing_spend"]
        return pd.DataFrame({"Месяц": s["Месяц"].dt.strftime("%Y-%m-%d"), "Канал": s["Канал"],
                             "Расход": (s["Расход"] * self.branches).round(2).map("{:.2f}".format)})

    def traffic(self) -> pd.DataFrame:
        t = self.demo["site_traffic"].copy()
        t["Визиты"] = t["Визиты"] * self.branches
        return t


def _branches_ru(n: int) -> str:
    """«1 филиал», «3 филиала», «35 филиалов»."""
    word = "филиалов" if n % 100 in range(11, 15) else {1: "филиал", 2: "филиала", 3: "филиала", 4: "филиала"}.get(
        n % 10, "филиалов")
    return f"{n} {word}"


def _write(frames, path: Path, fmt, title: str | None = None) -> None:
    """Frames appended to one csv: a header once, CRLF for Windows (cp1251) exports, a title line above."""
    encoding, sep = fmt
    eol = "\r\n" if encoding == "cp1251" else "\n"
    with open(path, "w", encoding=encoding, newline="") as f:
        if title:
            f.write(title + eol + eol)
        for i, frame in enumerate(frames):
            frame.to_csv(f, sep=sep, index=False, header=i == 0, lineterminator=eol)


def generate_network(out_dir, branches: int, seed: int = SEED) -> Path:
    """Write a network of `branches` copies of the demo clinic (raw exports, all csv) and its audit.yaml into
    out_dir; return the audit.yaml path."""
    out_dir = Path(out_dir)
    data = out_dir / "data"
    payments = data / FILES["invoices"][0]
    payments.mkdir(parents=True, exist_ok=True)
    for old in payments.glob("*.csv"):       # a smaller network written here before must not be read with it
        old.unlink()
    net = _Network(branches, seed, data / ".calls_template.csv")
    paths = {}
    for name in net.demo:
        fname, fmt = FILES[name]
        if name == "invoices":
            n = len(net.cells[name])
            width = max(3, len(str(branches)))
            for b0, b1, frame in net.blocks(name):
                for b in range(b0, b1):                  # one file per branch: slices of the block
                    _write([frame.iloc[(b - b0) * n:(b - b0 + 1) * n]], payments / f"1c_payments_{b:0{width}d}.csv",
                           fmt, title=INVOICE_TITLE)
            paths[name] = f"data/{fname}/*.csv"
            continue
        if name == "marketing_spend":
            frames = [net.spend()]
        elif name == "site_traffic":
            frames = [net.traffic()]
        else:
            frames = (frame for _, _, frame in net.blocks(name))
        _write(frames, data / fname, ("utf-8", ",") if fmt == CALLTOUCH else fmt)
        paths[name] = f"data/{fname}"
    config = out_dir / "audit.yaml"
    config.write_text(config_text(paths, client=f"Сеть клиник «Здоровье» (демо, {_branches_ru(branches)})",
                                   origin=f"`audit-kit sample --branches {branches}` (audit_kit/sample/network.py)"),
                      encoding="utf-8")
    return config
