"""The data-request workbook a consultant sends to a clinic, and the starter audit.yaml (`audit-kit init`)."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from .ingest.schema import PII, TABLES

EXAMPLES = {
    "leads": ["L-1001", "15.01.2025 10:24", "yandex / cpc", "P-501", "C-9001", "yandex", "cpc", "brand", "Консультация гинеколога", "Записан", "", "15.01.2025 10:31", "1"],
    "calls": ["C-9001", "15.01.2025 10:20", "да", "12", "184", "yandex / cpc", "+7 900 000-00-00", ""],
    "bookings": ["B-3001", "P-501", "D-01", "17.01.2025 18:00", "пришёл", "L-1001", "15.01.2025 10:31", "30", "17.01.2025 18:30", "Консультация", "1", ""],
    "visits": ["V-7001", "P-501", "17.01.2025 17:52", "B-3001", "D-01", "17.01.2025 18:04", "17.01.2025 18:41"],
    "invoices": ["INV-5001", "P-501", "17.01.2025 18:45", "3 900,00", "V-7001", "Консультация гинеколога", "Консультация"],
    "schedule": ["D-01", "17.01.2025 14:00", "17.01.2025 20:00", "1", "204"],
    "doctors": ["D-01", "гинеколог", "Иванова А. П."],
    "marketing_spend": ["01.2025", "Контекст", "150 000"],
    "site_traffic": ["01.2025", "Контекст", "5400"],
    "patients": ["P-501", "Контекст", "15.01.2025", "1986", "ж", "Центральный", "Петрова Мария", "+7 900 000-00-00", "maria@example.ru"],
    "surveys": ["P-501", "18.01.2025", "9", "5", "V-7001", "D-01"],
}

# Contact columns any table may carry (ingest/schema.py PII_ALIASES); hashed at ingest.
CONTACT_EXAMPLES = {"full_name": "Петрова Мария", "phone": "+7 900 000-00-00", "email": "maria@example.ru"}

INSTRUCTIONS_RU = [
    "Запрос данных для аудита клиники",
    "",
    "Каждый лист — одна выгрузка. Подойдёт выгрузка из вашей системы (CRM, МИС, 1С, коллтрекинг) в csv или xlsx",
    "с любыми заголовками: мы сопоставим их сами. Листы этой книги показывают, какие поля нужны.",
    "Обязательные поля отмечены «да»; без них таблица не может быть использована.",
    "Период: минимум 12 месяцев, лучше 18, включая текущий и предыдущий квартал.",
    "Даты — в формате дд.мм.гггг чч:мм или ISO; суммы — числом (можно «3 900,50»).",
    "Идентификаторы (пациента, записи, визита) должны совпадать между системами: так мы проследим путь пациента",
    "от обращения до оплаты.",
    "ФИО, телефоны и e-mail при загрузке заменяются обезличенными кодами и не попадают в отчёт.",
    "",
    "Если вы работаете в amoCRM, Битрикс24, Calltouch, CoMagic/UIS, Mango Office, Roistat, Яндекс Директ или",
    "Яндекс Метрике — пришлите стандартную выгрузку системы без правок: мы читаем её как есть (лист «Выгрузки систем»).",
    "Можно прислать несколько файлов на одну таблицу: по месяцам, по филиалам, по рекламным кабинетам.",
]
FORMAT_NAMES = {"xlsx": "xlsx", "csv": "csv", "tsv": "tsv (текст с табуляцией)", "html-xls": "xls из Битрикс24 (как есть)"}


def _exports_by_table() -> dict[str, list]:
    """Table -> the presets (known systems' exports) that feed it, in the order of the tables."""
    from .ingest.presets import all_presets

    out: dict[str, list] = {name: [] for name in TABLES}
    for preset in all_presets().values():
        out[preset.table].append(preset)
    return {name: presets for name, presets in out.items() if presets}


def write_request_workbook(path: Path) -> Path:
    """One sheet per table: canonical name, Russian name, required, example; plus instructions."""
    wb = Workbook()
    info = wb.active
    info.title = "Инструкция"
    for i, line in enumerate(INSTRUCTIONS_RU, start=1):
        info.cell(row=i, column=1, value=line).font = Font(bold=(i == 1), size=14 if i == 1 else 11)
    info.column_dimensions["A"].width = 110
    head_fill = PatternFill("solid", fgColor="DDE7F0")
    by_table = _exports_by_table()
    known = wb.create_sheet("Выгрузки систем")
    known.append(["Выгрузки, которые мы читаем как есть (без сопоставления столбцов)"])
    known["A1"].font = Font(bold=True, size=13)
    known.append(["Таблица", "Система и выгрузка", "Тип файла"])
    for cell in known[2]:
        cell.font, cell.fill = Font(bold=True), head_fill
    for name, presets in by_table.items():
        for preset in presets:
            known.append([f"{TABLES[name].title_ru} ({name})", preset.label("ru"),
                          ", ".join(FORMAT_NAMES.get(f, f) for f in preset.formats)])
    for letter, width in zip("ABC", (30, 48, 36)):
        known.column_dimensions[letter].width = width
    for name, table in TABLES.items():
        ws = wb.create_sheet(name[:31])
        ws.append([f"{table.title_ru} ({name})"])
        ws["A1"].font = Font(bold=True, size=13)
        if by_table.get(name):
            ws.append(["Сначала — выгрузка системы как есть: " + "; ".join(p.label("ru") for p in by_table[name])
                       + ". Иначе — любая выгрузка с полями ниже."])
            ws["A2"].font = Font(italic=True)
        ws.append(["Поле (canonical)", "Как может называться у вас", "Обязательное", "Пример", "Примечание"])
        header_row = ws.max_row
        for cell in ws[header_row]:
            cell.font, cell.fill = Font(bold=True), head_fill
        examples = CONTACT_EXAMPLES | dict(zip((c.name for c in table.columns), EXAMPLES[name]))
        for col in table.columns:
            example = examples.get(col.name, "")
            note = "персональные данные: будут обезличены" if col.kind == PII else ""
            if col.name in table.alternatives:
                note = f"или поле «{table.alternatives[col.name]}» (дата)"
            ws.append([col.name, ", ".join(a for a in col.aliases[:3]), "да" if col.required else "нет", example, note])
        for letter, width in zip("ABCDE", (22, 42, 14, 28, 40)):
            ws.column_dimensions[letter].width = width
        for row in ws.iter_rows(min_row=header_row + 1):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = f"A{header_row + 1}"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


CONFIG_TEMPLATE = """\
# Audit config for one clinic (DESIGN §6). Paths are relative to this file.
client: "{client}"
language: ru            # ru | en
currency: RUB
periods:                # inclusive dates
  current: [2025-01-01, 2025-03-31]
  base: [2024-10-01, 2024-12-31]
data:                   # uncomment the exports you received; any table may be absent
  # leads: data/leads.xlsx
  # calls:
  #   path: data/calls.csv
  #   columns:            # raw header -> canonical name, when the built-in aliases do not match
  #     "Дата звонка": started_at
  # bookings: data/bookings.xlsx
  # visits: data/visits.xlsx
  # invoices: data/payments.csv
  # schedule: data/schedule.xlsx
  # doctors: data/doctors.xlsx
  # marketing_spend: data/spend.xlsx
  # site_traffic: data/traffic.xlsx
  # patients: data/patients.xlsx
  # surveys: data/surveys.xlsx
channels: {{}}            # raw channel / utm value -> canonical channel, e.g. "yandex / cpc": Контекст
targets: {{}}             # KPI target overrides, e.g. no_show_rate: 0.05
"""


def init_client(folder: Path, client: str | None = None) -> list[Path]:
    """A client folder with audit.yaml, data/, the data-request workbook and a .gitignore."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    written = []
    config = folder / "audit.yaml"
    if not config.exists():
        config.write_text(CONFIG_TEMPLATE.format(client=(client or folder.name).replace('"', "'")), encoding="utf-8")
        written.append(config)
    written.append(write_request_workbook(folder / "data_request.xlsx"))
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# client data and the pseudonymisation salt never go to version control\ndata/\nreports/\n.audit_salt\n",
                          encoding="utf-8")
        written.append(ignore)
    return written
