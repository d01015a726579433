"""Deterministic synthetic demo clinic with planted problems (DESIGN §2, `audit-kit sample`).

`generate(out_dir)` writes the raw exports of one fictional private clinic the way Russian
clinics really send them (amoCRM, Calltouch, the MIS, 1C, Яндекс.Метрика; csv in cp1251 or
utf-8 and xlsx with Excel dates; Russian headers) plus an `audit.yaml` around them.

The clinic is simulated, not sampled row by row: new contacts arrive by channel and hour,
are answered fast or slowly and book or not; every patient follows a chain of treatment
episodes (one-off, regular, chronic every ~90 days, best, former best); demands are matched
to free slots of a doctor's schedule; completed bookings become visits, visits become
payments. Problems the audit must find are planted with fixed sizes (see PLANTS and
sample_data/README.md), and `measure()` recomputes their sizes from the raw files.

The same seed always gives the same bytes: numpy `default_rng(seed)` drives every random
draw, and xlsx files get fixed document timestamps and fixed zip entry times.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import stable_files, system_exports

SEED = 20250331
DAY = 1440                                           # minutes; all internal times are minutes since START
START = pd.Timestamp("2023-10-01")
END = pd.Timestamp("2025-04-01")                     # exclusive: data runs to 2025-03-31 23:59
N_DAYS = (END - START).days
T_END = N_DAYS * DAY
BASE = ("2024-10-01", "2024-12-31")
CURRENT = ("2025-01-01", "2025-03-31")
MONTH_STARTS = pd.date_range(START, END, freq="MS")  # 19 edges -> 18 months
MONTH_EDGES = ((MONTH_STARTS - START) // pd.Timedelta(minutes=1)).to_numpy().astype(np.int64)
N_MONTHS = len(MONTH_EDGES) - 1

# Russian public holidays in the window (the clinic is closed, like on Sundays).
HOLIDAYS = pd.to_datetime([
    "2023-11-06", "2023-12-31", *pd.date_range("2024-01-01", "2024-01-07"), "2024-02-23", "2024-03-08",
    "2024-05-01", "2024-05-09", "2024-06-12", "2024-11-04", "2024-12-31",
    *pd.date_range("2025-01-01", "2025-01-07"),
])
_CAL = pd.date_range(START, periods=N_DAYS + 60)     # a little past END for response/callback look-ups
WEEKDAY = _CAL.day_of_week.to_numpy()
CLOSED = (WEEKDAY == 6) | _CAL.isin(HOLIDAYS)

# ---------------------------------------------------------------- planted sizes (documented in README)
PLANTS = {
    "leads_per_month": [200, 210, 195, 170, 205, 215, 210, 200, 185, 170, 175, 230,   # 2023-10 .. 2024-09
                        262, 275, 263,                                                  # base: 800
                        330, 365, 385],                                                 # current: 1080 = +35%
    "repeat_lead_share": 0.20,           # leads from existing patients (channel Повторные)
    "current_booking_lift": 1.16,        # new contacts book a bit more often in the current quarter
    "lost_reason_empty": 0.5,            # unbooked leads without a lost reason
    "missed_peak": 0.45, "missed_offpeak": 0.10, "missed_weekend": 0.16,   # P(missed call)
    "peak_hours": (9, 13, 18),           # weekday hours with few administrators at the phone
    "callback_new": 0.38,                # share of missed new-contact calls that are ever called back
    "form_response_median_min": 150,     # web forms: office-hours delay (lognormal median)
    "form_never_answered": 0.07,
    "no_show_base": 0.075, "no_show_long_lead": 0.13, "no_show_aggregator": 0.16,
    "cancelled": 0.07, "rescheduled": 0.05,
    "evening_extra_per_shift": 3.0,      # overbooked doctors: squeezed-in bookings after 17:00 per evening shift
    "lead_links_deleted": 0.03,          # booked leads deleted from amoCRM -> bookings point to missing leads
    "invoice_orphans": 0.02,             # invoices whose visit_id is not in visits
    "visits_lost_month": "2024-07", "visits_lost_share": 0.15,   # MIS lost check-ins that month
    "refund_share": 0.012, "duplicate_invoices": 10, "duplicate_leads": 6,
    "slot_minutes_missing": 0.10,        # bookings with no duration but with an end time
    "former_best": 150, "chronic": 150,  # pre-existing patients of these types
}

SPECS = ("терапевт", "гинеколог", "стоматолог", "невролог", "кардиолог", "эндокринолог")
SPEC_P = {"Ж": (0.25, 0.30, 0.20, 0.10, 0.08, 0.07), "М": (0.35, 0.0, 0.28, 0.14, 0.14, 0.09)}
SPEC_SERVICE = ("Приём терапевта", "Приём гинеколога", "Лечение зубов", "Приём невролога",
                "Приём кардиолога", "Приём эндокринолога")

# id, name, specialty, slot minutes, target utilisation, demand share in specialty, overrun min, weekly template
# Templates: (weekday, shift) in order of preference; M 08-14, E 14-20, L 09-21.
DOCTORS = [
    ("D01", "Орлова Мария Андреевна", "терапевт", 30, 0.95, 0.42, 14, "0M 2M 4M 1E 3E 5M"),
    ("D02", "Белов Сергей Николаевич", "терапевт", 30, 0.93, 0.42, -2, "1M 3M 0E 2E 4E 5L"),
    ("D03", "Смирнов Павел Игоревич", "терапевт", 30, 0.42, 0.16, -3, "0E 2E 4M 1M 3M"),
    ("D04", "Соколова Анна Викторовна", "гинеколог", 40, 0.88, 0.38, 0, "0E 2E 4E 1E 3E 5L"),
    ("D05", "Васильева Елена Петровна", "гинеколог", 40, 0.92, 0.32, -2, "1M 3M 0M 2M 4M"),
    ("D06", "Морозова Ирина Олеговна", "гинеколог", 40, 0.90, 0.30, -3, "0L 3L 5L 2M"),
    ("D07", "Петров Игорь Сергеевич", "стоматолог", 60, 0.88, 0.38, 0, "1E 3E 0E 2E 4E"),
    ("D08", "Ким Виктория Александровна", "стоматолог", 60, 0.94, 0.34, -2, "0M 2M 4M 1L 3M"),
    ("D09", "Захаров Олег Валерьевич", "стоматолог", 60, 0.92, 0.28, -4, "1M 3M 5L 0E 2E"),
    ("D10", "Кузнецов Дмитрий Олегович", "невролог", 40, 0.93, 0.70, 18, "0M 2M 4M 1E 3E"),
    ("D11", "Новикова Татьяна Юрьевна", "невролог", 40, 0.45, 0.30, -3, "1E 3E 4E 0E"),
    ("D12", "Лебедев Андрей Михайлович", "кардиолог", 40, 0.93, 0.68, -1, "1M 3M 0E 2E 4M"),
    ("D13", "Фролова Наталья Сергеевна", "кардиолог", 40, 0.44, 0.32, -3, "0M 2E 4E 5M"),
    ("D14", "Гусева Ольга Владимировна", "эндокринолог", 40, 0.92, 1.00, -2, "2L 4M 0M 1M"),
]
OVERBOOKED = ("D04", "D07")
UNDERLOADED = ("D03", "D11", "D13")
OVERRUNS = ("D01", "D10")
SHIFTS = {"M": (8 * 60, 14 * 60), "E": (14 * 60, 20 * 60), "L": (9 * 60, 21 * 60)}

# New-contact channels: share of new leads, raw sources, phone share, booking factor, patient types.
CHANNELS = ("Контекст", "SEO", "SMM", "Агрегаторы", "Рекомендации")
CHANNEL_SHARE = (0.36, 0.22, 0.11, 0.18, 0.13)
RAW_SOURCES = {
    "Контекст": (("yandex / cpc",), (1.0,)),
    "SEO": (("yandex / organic", "google / organic"), (0.7, 0.3)),
    "SMM": (("vk / social", "telegram / social"), (0.8, 0.2)),
    "Агрегаторы": (("prodoctorov", "napopravku"), (0.6, 0.4)),
    "Рекомендации": (("рекомендация",), (1.0,)),
}
REPEAT_SOURCE = "повторный"
DIRECT = "(direct) / (none)"
PHONE_SHARE = (0.50, 0.55, 0.25, 0.20, 0.85)
BOOK_FACTOR = (1.0, 1.0, 0.75, 1.45, 1.35)
# patient types: 0 one-off, 1 regular, 2 chronic, 3 best, 4 former best, 5 dormant (no visit in the window)
TYPE_P = ((0.40, 0.45, 0.10, 0.05), (0.40, 0.45, 0.10, 0.05), (0.55, 0.38, 0.05, 0.02),
          (0.86, 0.12, 0.015, 0.005), (0.12, 0.45, 0.23, 0.20))
CHANNEL_MAP = {
    "yandex / cpc": "Контекст", "Яндекс Директ": "Контекст",
    "yandex / organic": "SEO", "google / organic": "SEO", "SEO-продвижение (подрядчик)": "SEO",
    "vk / social": "SMM", "telegram / social": "SMM", "ВКонтакте таргет": "SMM",
    "prodoctorov": "Агрегаторы", "napopravku": "Агрегаторы", "ПроДокторов": "Агрегаторы", "НаПоправку": "Агрегаторы",
    "рекомендация": "Рекомендации", "повторный": "Повторные", DIRECT: "Прямые заходы",
}

# Price list: specialty, service, category, price, kind (first/repeat consultation, diag, lab, treat, program).
CATALOG = [
    ("терапевт", "Приём терапевта первичный", "Консультация", 2990, "first"),
    ("терапевт", "Приём терапевта повторный", "Консультация", 2490, "repeat"),
    ("терапевт", "ЭКГ с расшифровкой", "Диагностика", 1590, "diag"),
    ("терапевт", "УЗИ органов брюшной полости", "Диагностика", 3290, "diag"),
    ("терапевт", "Общий анализ крови", "Анализы", 790, "lab"),
    ("терапевт", "Биохимический анализ крови (10 показателей)", "Анализы", 3450, "lab"),
    ("терапевт", "Капельница (1 процедура)", "Лечение", 3850, "treat"),
    ("терапевт", "Программа «Check-up базовый»", "Лечение", 14900, "program"),
    ("гинеколог", "Приём гинеколога первичный", "Консультация", 3490, "first"),
    ("гинеколог", "Приём гинеколога повторный", "Консультация", 2890, "repeat"),
    ("гинеколог", "УЗИ органов малого таза", "Диагностика", 3190, "diag"),
    ("гинеколог", "Кольпоскопия", "Диагностика", 3650, "diag"),
    ("гинеколог", "Мазок на флору", "Анализы", 890, "lab"),
    ("гинеколог", "ПЦР-диагностика инфекций (12 показателей)", "Анализы", 4290, "lab"),
    ("гинеколог", "Лечебная процедура", "Лечение", 6450, "treat"),
    ("гинеколог", "Радиоволновое лечение шейки матки", "Лечение", 12900, "treat"),
    ("гинеколог", "Программа «Ведение беременности» (этап)", "Лечение", 24900, "program"),
    ("стоматолог", "Консультация стоматолога", "Консультация", 1500, "first"),
    ("стоматолог", "Повторный осмотр стоматолога", "Консультация", 990, "repeat"),
    ("стоматолог", "Прицельный рентген-снимок", "Диагностика", 790, "diag"),
    ("стоматолог", "Компьютерная томография челюсти", "Диагностика", 4990, "diag"),
    ("стоматолог", "Профессиональная гигиена", "Лечение", 7290, "treat"),
    ("стоматолог", "Лечение кариеса", "Лечение", 7850, "treat"),
    ("стоматолог", "Лечение пульпита (1 канал)", "Лечение", 14500, "treat"),
    ("стоматолог", "Коронка металлокерамическая", "Лечение", 26900, "treat"),
    ("стоматолог", "Имплантация (этап)", "Лечение", 45000, "program"),
    ("невролог", "Приём невролога первичный", "Консультация", 3590, "first"),
    ("невролог", "Приём невролога повторный", "Консультация", 2990, "repeat"),
    ("невролог", "ЭЭГ", "Диагностика", 3890, "diag"),
    ("невролог", "УЗДГ сосудов шеи", "Диагностика", 3490, "diag"),
    ("невролог", "Анализ крови на витамин B12", "Анализы", 1150, "lab"),
    ("невролог", "Блокада лечебная", "Лечение", 4750, "treat"),
    ("невролог", "Рефлексотерапия (сеанс)", "Лечение", 3150, "treat"),
    ("невролог", "Программа «Здоровая спина» (курс)", "Лечение", 21500, "program"),
    ("кардиолог", "Приём кардиолога первичный", "Консультация", 3790, "first"),
    ("кардиолог", "Приём кардиолога повторный", "Консультация", 3190, "repeat"),
    ("кардиолог", "ЭКГ с расшифровкой", "Диагностика", 1590, "diag"),
    ("кардиолог", "ЭхоКГ (УЗИ сердца)", "Диагностика", 4590, "diag"),
    ("кардиолог", "Холтеровское мониторирование", "Диагностика", 4290, "diag"),
    ("кардиолог", "Липидный профиль", "Анализы", 1890, "lab"),
    ("кардиолог", "Подбор терапии (пакет)", "Лечение", 5900, "treat"),
    ("кардиолог", "Программа «Здоровое сердце»", "Лечение", 18500, "program"),
    ("эндокринолог", "Приём эндокринолога первичный", "Консультация", 3590, "first"),
    ("эндокринолог", "Приём эндокринолога повторный", "Консультация", 2990, "repeat"),
    ("эндокринолог", "УЗИ щитовидной железы", "Диагностика", 2490, "diag"),
    ("эндокринолог", "Гормоны щитовидной железы (ТТГ, Т4)", "Анализы", 1650, "lab"),
    ("эндокринолог", "Гликированный гемоглобин", "Анализы", 890, "lab"),
    ("эндокринолог", "Коррекция терапии (пакет)", "Лечение", 5450, "treat"),
    ("эндокринолог", "Программа «Диабет под контролем»", "Лечение", 16900, "program"),
]
# per specialty: P(diag), P(lab) at an episode's first visit; P(treat) at the first visit and at follow-ups
SPEC_LINES = {
    "терапевт": (0.30, 0.55, 0.05, 0.25), "гинеколог": (0.55, 0.60, 0.10, 0.80),
    "стоматолог": (0.45, 0.0, 0.30, 0.95), "невролог": (0.40, 0.15, 0.10, 0.85),
    "кардиолог": (0.60, 0.40, 0.05, 0.40), "эндокринолог": (0.40, 0.75, 0.05, 0.35),
}

SURNAMES = """Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Федоров Морозов Волков
Алексеев Лебедев Семенов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев
Соловьев Борисов Яковлев Григорьев Романов Воробьев Сергеев Кузьмин Фролов Александров Дмитриев Королев Гусев
Киселев Ильин Максимов Поляков Сорокин Виноградов Ковалев Белов Медведев Антонов Тарасов Жуков Баранов Филиппов
Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов
Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов
Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышев Быков Маслов Родионов Коновалов Лазарев Воронин
Климов Филатов Пономарев Голубев Кудрявцев Прохоров Наумов Потапов Журавлев Овчинников Трофимов Леонов Соболев
Ермаков Колесников Гончаров Емельянов Никифоров Грачев Котов Гришин Ефремов Архипов Громов Кириллов Малышев Панов
Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов Еремин Тихомиров Галкин Лукьянов Михеев Скворцов
Юдин Белоусов Нестеров Симонов Прокофьев Харитонов Князев Цветков Левин Митрофанов Воронов Аксенов Мальцев
Логинов Горшков Савин Краснов Майоров Демидов Елисеев Рыбаков Сафонов Плотников Демин Хохлов Жданов Носов""".split()
MALE_NAMES = """Александр Дмитрий Максим Сергей Андрей Алексей Артём Илья Кирилл Михаил Никита Матвей Роман Егор
Арсений Иван Денис Евгений Даниил Тимофей Владислав Игорь Владимир Павел Руслан Марк Константин Тимур Олег Ярослав
Антон Николай Глеб Виктор Юрий Вадим Григорий Степан Василий Георгий Анатолий Леонид Валерий Борис""".split()
FEMALE_NAMES = """Анна Мария Елена Ольга Наталья Татьяна Ирина Екатерина Светлана Юлия Анастасия Дарья Марина
Людмила Галина Виктория Ксения Полина Алина Валентина Надежда Елизавета Вера Любовь Кристина Софья Алёна Евгения
Лариса Оксана Вероника Маргарита""".split()
PATRONYMIC_ROOTS = """Александров Дмитриев Сергеев Андреев Алексеев Михайлов Иванов Владимиров Николаев Викторов
Юрьев Олегов Игорев Евгеньев Павлов Петров Анатольев Васильев Геннадьев Валерьев Борисов Константинов Романов
Максимов""".split()
DISTRICTS = ("Академический", "Верх-Исетский", "Железнодорожный", "Кировский", "Ленинский", "Октябрьский",
             "Орджоникидзевский", "Чкаловский")
ADMINS = ("Ковалёва Екатерина", "Мухаметова Алина", "Сидоренко Ольга", "Шарипова Динара")
LOST_REASONS = ("Дорого", "Выбрал другую клинику", "Нет удобного времени", "Консультация по телефону",
                "Нет нужной услуги", "Передумал", "Спам / ошибка")
TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
})

# hour-of-day weights of inbound phone calls and of web forms / messages; weekday weights Mon..Sun
CALL_HOURS = np.array([0] * 8 + [3, 12, 11, 9, 8, 9, 7, 7, 7, 8, 9, 5, 2] + [0] * 3, float)
FORM_HOURS = np.array([1, .5, .3, .2, .2, .3, .8, 2, 4, 6, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 5, 4, 2], float)
WEEKDAY_W = np.array([1.25, 1.1, 1.05, 1.0, 0.95, 0.6, 0.4])


# ---------------------------------------------------------------- small vectorised helpers
def _ts(t) -> pd.Series:
    """Minutes since START -> timestamps (NaN/NaT stays missing)."""
    t = pd.Series(np.asarray(t, dtype=float))
    return START + pd.to_timedelta(t, unit="min")


def _month_of(t: np.ndarray) -> np.ndarray:
    return np.searchsorted(MONTH_EDGES, t, side="right") - 1


def _pick(rng, choices, p, size) -> np.ndarray:
    p = np.asarray(p, float)
    return np.asarray(choices)[rng.choice(len(p), size=size, p=p / p.sum())]


def _sample_times(rng, month: np.ndarray, hour_w: np.ndarray) -> np.ndarray:
    """Moments within the given months, weighted by weekday (holidays quieter) and hour of day."""
    dayw = WEEKDAY_W[WEEKDAY[:N_DAYS]] * np.where(CLOSED[:N_DAYS] & (WEEKDAY[:N_DAYS] != 6), 0.3, 1.0)
    out = np.zeros(len(month), np.int64)
    for m in range(N_MONTHS):
        sel = np.flatnonzero(month == m)
        d0, d1 = MONTH_EDGES[m] // DAY, MONTH_EDGES[m + 1] // DAY
        p = dayw[d0:d1] / dayw[d0:d1].sum()
        out[sel] = (d0 + rng.choice(d1 - d0, size=len(sel), p=p)) * DAY
    return out + rng.choice(24, size=len(month), p=hour_w / hour_w.sum()) * 60 + rng.integers(0, 60, len(month))


def _stratified(rng, group: np.ndarray) -> np.ndarray:
    """Uniforms spread evenly over [0, 1) within each group, so planted rates hold per month/channel
    instead of drifting with sampling noise (each value is still uniform)."""
    group = np.asarray(group)
    n = len(group)
    order = np.lexsort((rng.random(n), group))
    g = group[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    u = np.empty(n)
    u[order] = (rank + rng.random(n)) / np.repeat(sizes, sizes)
    return u


def _office(rng, t: np.ndarray) -> np.ndarray:
    """Move moments outside office hours (Mon-Sat 08:00-20:00, not holidays) to the next morning."""
    t = np.asarray(t, np.int64).copy()
    for _ in range(12):
        day = np.minimum(t // DAY, len(CLOSED) - 1)
        mod = t % DAY
        closed = CLOSED[day] | (mod >= 20 * 60)
        early = ~closed & (mod < 8 * 60)
        if not (closed | early).any():
            break
        t = np.where(closed, (day + 1) * DAY + 9 * 60, np.where(early, day * DAY + 9 * 60, t))
        t = t + np.where(closed | early, rng.integers(0, 90, len(t)), 0)
    return t


def _miss_prob(t: np.ndarray) -> np.ndarray:
    """P(an inbound call is missed): high at the weekday peak hours, low otherwise."""
    day = np.minimum(t // DAY, len(WEEKDAY) - 1)
    hour = (t % DAY) // 60
    wd = WEEKDAY[day]
    peak = np.isin(hour, PLANTS["peak_hours"]) & (wd < 5)
    return np.where(wd >= 5, PLANTS["missed_weekend"], np.where(peak, PLANTS["missed_peak"], PLANTS["missed_offpeak"]))


def _callback(rng, t: np.ndarray) -> np.ndarray:
    """When a missed call is called back (office hours, median ~2 h later); -1 if after the export."""
    back = _office(rng, t + np.round(rng.lognormal(np.log(110), 1.0, len(t))).astype(np.int64) + 5)
    return np.where(back < T_END, back, -1)


# ---------------------------------------------------------------- the simulation
class _Clinic:
    """Builds every table of the demo clinic in memory (internal ids are row positions)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.doctors = pd.DataFrame(DOCTORS, columns=["doctor_id", "doctor_name", "specialty", "slot", "util",
                                                      "share", "overrun", "template"])
        self.doctors["spec"] = self.doctors.specialty.map({s: i for i, s in enumerate(SPECS)})

    # -- people
    def old_patients(self) -> pd.DataFrame:
        """Patients registered before the window: regular, chronic, best, former best, dormant."""
        rng = self.rng
        n_fb, n_ch, n_best, n_reg, n_dorm = PLANTS["former_best"], PLANTS["chronic"], 75, 830, 295
        ptype = np.repeat([4, 2, 3, 1, 5], [n_fb, n_ch, n_best, n_reg, n_dorm])
        n = len(ptype)
        sex = np.where(rng.random(n) < 0.62, "Ж", "М")
        spec = np.where(sex == "Ж", _pick(rng, range(6), SPEC_P["Ж"], n), _pick(rng, range(6), SPEC_P["М"], n))
        chronic_spec = _pick(rng, [0, 3, 4, 5], [0.25, 0.2, 0.3, 0.25], n)
        spec = np.where(ptype == 2, chronic_spec, spec)
        first = np.array([0, 240, 90, 35, 30, 0])[ptype] * DAY * rng.random(n)
        churn_lo, churn_hi = ((pd.Timestamp(d) - START).days for d in ("2024-01-15", "2024-07-31"))
        churn = np.where(ptype == 4, rng.uniform(churn_lo, churn_hi, n) * DAY, np.inf)
        reg_days = rng.uniform((pd.Timestamp("2017-03-01") - START).days, -3, n)
        return pd.DataFrame({"ptype": ptype, "sex": sex, "spec": spec, "t0": first.astype(np.int64),
                             "churn": churn, "registered": reg_days * DAY, "channel": -1,
                             "source": None, "contact": -1})

    def new_contacts(self) -> pd.DataFrame:
        """Inbound requests of new people: channel, time, how fast they were answered, booked or not."""
        rng = self.rng
        leads = np.array(PLANTS["leads_per_month"])
        n_new = leads - np.round(leads * PLANTS["repeat_lead_share"]).astype(int)
        month = np.repeat(np.arange(N_MONTHS), n_new)
        n = len(month)
        ch = np.searchsorted(np.cumsum(CHANNEL_SHARE), _stratified(rng, month) * sum(CHANNEL_SHARE), side="right")
        source = np.empty(n, object)
        for c, name in enumerate(CHANNELS):
            sel = ch == c
            source[sel] = _pick(rng, RAW_SOURCES[name][0], RAW_SOURCES[name][1], sel.sum())
        phone = _stratified(rng, month * 5 + ch) < np.array(PHONE_SHARE)[ch]
        kind = np.where(phone, "phone", np.where(ch == 3, "aggregator", "form"))
        t = np.where(phone, _sample_times(rng, month, CALL_HOURS), _sample_times(rng, month, FORM_HOURS))
        # phone: answered at once or missed (then maybe called back); forms: office-hours delay
        missed = phone & (_stratified(rng, month) < _miss_prob(t))
        wait_s = np.where(missed, rng.integers(20, 95, n), np.round(rng.gamma(2.0, 9.0, n)) + 3).astype(int)
        called_back = missed & (rng.random(n) < PLANTS["callback_new"])
        back_t = np.where(called_back, _callback(rng, t), -1)
        form_delay = np.round(rng.lognormal(np.log(PLANTS["form_response_median_min"]), 1.1, n)).astype(np.int64)
        agg_delay = np.round(rng.lognormal(np.log(25), 0.9, n)).astype(np.int64)
        office_resp = _office(rng, t + np.where(kind == "aggregator", agg_delay, form_delay))
        never = (kind != "phone") & (rng.random(n) < PLANTS["form_never_answered"])
        resp = np.where(phone & ~missed, t + (wait_s + 59) // 60, np.where(phone, back_t, office_resp))
        resp = np.where(never | (resp >= T_END), -1, resp)
        # booking probability falls with the response delay
        delay = np.where(resp >= 0, resp - t, -1)
        edges = np.array([5, 30, 120, 480, 1440])
        p_book = np.array([0.56, 0.47, 0.36, 0.27, 0.20, 0.13])[np.searchsorted(edges, delay, side="right")]
        p_book = np.where(resp < 0, 0.03, p_book) * np.array(BOOK_FACTOR)[ch]
        p_book *= np.where(month >= 15, PLANTS["current_booking_lift"], 1.0)
        booked = _stratified(rng, month) < np.minimum(p_book, 0.95)
        sex = np.where(rng.random(n) < 0.62, "Ж", "М")
        spec = np.where(sex == "Ж", _pick(rng, range(6), SPEC_P["Ж"], n), _pick(rng, range(6), SPEC_P["М"], n))
        # the booking is made while answering (or when the patient calls again after no answer)
        again = _office(rng, t + rng.integers(1, 4, n) * DAY)
        booking_created = np.where(resp >= 0, resp + rng.integers(1, 7, n), again)
        days_ahead = _pick(rng, np.arange(22), [12, 22, 16, 12, 8, 6, 5] + [1.4] * 15, n)
        left = (T_END - booking_created) // DAY - 1          # the export ends: late leads book sooner
        days_ahead = np.where(days_ahead > left, np.floor(np.maximum(left, 0) * rng.uniform(0.2, 0.9, n)), days_ahead)
        want = (booking_created // DAY + days_ahead) * DAY + rng.integers(8 * 60, 20 * 60, n)
        want = np.where(want < booking_created + 90, booking_created + 90 + rng.integers(0, 120, n), want)
        want = np.minimum(want, T_END - 60 - rng.integers(0, 300, n))
        booked &= booking_created < want
        frame = pd.DataFrame({"t": t, "month": month, "channel": ch, "source": source, "kind": kind,
                              "missed": missed, "wait_s": wait_s, "back_t": back_t, "resp": resp,
                              "booked": booked, "sex": sex, "spec": spec,
                              "booking_created": booking_created, "want": want})
        return frame.sort_values("t", kind="stable").reset_index(drop=True)

    def new_patients(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """One patient per booked new contact; the type depends on the acquisition channel."""
        rng = self.rng
        b = contacts[contacts.booked]
        n = len(b)
        u = _stratified(rng, b.channel.to_numpy())
        cum = np.cumsum(np.array(TYPE_P)[b.channel.to_numpy()], axis=1)
        ptype = (u[:, None] > cum).sum(axis=1)          # 0..3
        return pd.DataFrame({"ptype": ptype, "sex": b.sex.to_numpy(), "spec": b.spec.to_numpy(),
                             "t0": b.want.to_numpy(), "churn": np.inf,
                             "registered": b.booking_created.to_numpy().astype(float),
                             "channel": b.channel.to_numpy(), "source": b.source.to_numpy(),
                             "contact": b.index.to_numpy()})

    # -- demand: episodes and follow-ups per patient
    def demands(self, pat: pd.DataFrame) -> pd.DataFrame:
        """Desired visit moments of every patient (vectorised over a patients x episodes grid)."""
        rng = self.rng
        n, e_max = len(pat), 24
        ptype = pat.ptype.to_numpy()
        shape = np.array([2.0, 2.5, 50.0, 5.0, 5.0, 2.0])[ptype]
        mean = np.array([150, 150, 90, 34, 30, 150])[ptype]
        gaps = rng.gamma(shape[:, None], (mean / shape)[:, None], (n, e_max - 1))
        cont = np.array([0.0, 0.72, 0.985, 0.985, 1.0, 0.0])[ptype]
        alive = np.cumprod(rng.random((n, e_max - 1)) < cont[:, None], axis=1).astype(bool)
        t0 = pat.t0.to_numpy()
        ep_t = t0[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(gaps, axis=1) * DAY], axis=1)
        redraw = (ep_t // DAY) * DAY + rng.integers(8 * 60, 20 * 60, (n, e_max))
        ep_t[:, 1:] = redraw[:, 1:]
        valid = np.concatenate([np.ones((n, 1), bool), alive], axis=1)
        valid &= (ep_t < T_END) & (ep_t < pat.churn.to_numpy()[:, None]) & (ptype != 5)[:, None]
        pi, ei = np.nonzero(valid)
        t = ep_t[pi, ei].astype(np.int64)
        sex = pat.sex.to_numpy()[pi]
        spec = pat.spec.to_numpy()[pi].copy()
        switch = (ei > 0) & (rng.random(len(pi)) < 0.2)
        other = np.where(sex == "Ж", _pick(rng, range(6), SPEC_P["Ж"], len(pi)), _pick(rng, range(6), SPEC_P["М"], len(pi)))
        spec = np.where(switch, other, spec)
        # follow-up visits of an episode (treatment courses), 7-21 days apart
        k = np.where(spec == 2, np.minimum(rng.poisson(1.3, len(pi)), 4),
                     rng.binomial(np.array([1, 1, 0, 3, 1, 1])[spec], np.array([.3, .45, 0, .3, .35, .4])[spec]))
        k = np.where(ptype[pi] == 0, rng.binomial(k, 0.3), k)
        rep = 1 + k
        d_p, d_e, d_t, d_s = (np.repeat(a, rep) for a in (pi, ei, t, spec))
        start = np.repeat(np.cumsum(rep) - rep, rep)
        j = np.arange(len(d_p)) - start
        step = np.where(j > 0, rng.integers(7, 22, len(d_p)) * DAY, 0)
        cs = np.cumsum(step)
        offset = cs - cs[start]
        d_t = np.where(j > 0, ((d_t + offset) // DAY) * DAY + rng.integers(8 * 60, 20 * 60, len(d_p)), d_t)
        keep = (d_t < T_END) & (d_t < pat.churn.to_numpy()[d_p] + 20 * DAY)
        dem = pd.DataFrame({"patient": d_p, "episode": d_e, "j": j, "spec": d_s, "want": d_t,
                            "step": step})[keep].reset_index(drop=True)
        dem["ptype"] = ptype[dem.patient]
        dem["new_first"] = (pat.contact.to_numpy()[dem.patient] >= 0) & (dem.episode == 0) & (dem.j == 0)
        # which doctor: each patient sticks to one doctor per specialty
        u_p = rng.random(n)
        u = (u_p[dem.patient] + 0.618 * dem.spec) % 1.0
        doc = np.empty(len(dem), int)
        for s in range(6):
            idx = np.flatnonzero(self.doctors.spec == s)
            cum = np.cumsum(self.doctors.share.to_numpy()[idx])
            sel = dem.spec.to_numpy() == s
            doc[sel] = idx[np.minimum(np.searchsorted(cum / cum[-1], u[sel]), len(idx) - 1)]
        dem["doctor"] = doc
        # when the booking was made: at the previous visit (long lead) or by phone shortly before
        m = len(dem)
        desk = np.where(dem.j > 0, rng.random(m) < 0.7, rng.random(m) < 0.35)
        ahead = np.where(dem.j > 0, dem.step, rng.integers(14, 61, m) * DAY)
        short = np.round(rng.uniform(0.2, 6.5, m) * DAY).astype(np.int64)
        created = dem.want.to_numpy() - np.where(desk, ahead, short)
        created = (created // DAY) * DAY + rng.integers(int(8.5 * 60), int(19.5 * 60), m)
        created = np.minimum(created, dem.want.to_numpy() - 120)
        new_first = dem.new_first.to_numpy()
        contact = pat.contact.to_numpy()[dem.patient]
        dem["created"] = np.where(new_first, -1, created)
        dem["contact"] = np.where(new_first, contact, -1)
        dem["phone_booked"] = ~desk
        return dem

    # -- schedule sized to the demand, then slot matching
    def schedule(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Shifts per doctor: weekly templates filled until offered minutes ~ demand / target utilisation."""
        rng = self.rng
        out = []
        first_monday = int(np.argmax(WEEKDAY[:7] == 0))
        for d, doc in self.doctors.iterrows():
            mine = rows[rows.doctor == d]
            per_day = np.bincount(np.minimum(mine.want.to_numpy() // DAY, N_DAYS - 1), minlength=N_DAYS)
            need = pd.Series(per_day * doc.slot / doc.util).rolling(28, center=True, min_periods=1).mean().to_numpy()
            template = [(int(x[0]), x[1]) for x in doc.template.split()]
            vac0 = int(rng.integers((pd.Timestamp("2024-06-03") - START).days, (pd.Timestamp("2024-08-19") - START).days))
            vac0 -= (vac0 - first_monday) % 7
            carry = 0.0
            for w0 in range(first_monday, N_DAYS, 7):
                target = need[w0:w0 + 7].sum() + carry
                got = 0.0
                for wd, code in template:
                    day = w0 + wd
                    length = SHIFTS[code][1] - SHIFTS[code][0]
                    if got + length / 2 > target:
                        break
                    if day >= N_DAYS or CLOSED[day] or vac0 <= day < vac0 + 14 or rng.random() < 0.015:
                        continue                     # closed, on vacation or sick: the next template day covers it
                    got += length
                    out.append((d, day * DAY + SHIFTS[code][0], day * DAY + SHIFTS[code][1], code))
                carry = target - got
        return pd.DataFrame(out, columns=["doctor", "start", "end", "code"]).sort_values(
            ["doctor", "start"], kind="stable").reset_index(drop=True)

    def match(self, rows: pd.DataFrame, shifts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """First come, first served: each booking takes the next free slot after the wish, with the
        patient's doctor or, failing that, a colleague of the same specialty. Returns (slot, doctor)."""
        slots, parent = [], []
        for d, doc in self.doctors.iterrows():
            sh = shifts[shifts.doctor == d]
            n_slots = ((sh.end - sh.start) // doc.slot).to_numpy()
            slots.append(np.repeat(sh.start.to_numpy(), n_slots) + doc.slot * (
                np.arange(n_slots.sum()) - np.repeat(np.cumsum(n_slots) - n_slots, n_slots)))
            parent.append(list(range(len(slots[-1]) + 1)))
        colleagues = {d: [d] + [o for o in self.doctors.index[self.doctors.spec == spec] if o != d]
                      for d, spec in self.doctors.spec.items()}
        order = np.lexsort((rows.want.to_numpy(), rows.created.to_numpy()))
        want, doctor = rows.want.to_numpy(), rows.doctor.to_numpy()
        slot_of = np.full(len(rows), -1, np.int64)
        doc_of = doctor.copy()
        for row in order:
            for d in colleagues[doctor[row]]:
                par, sl = parent[d], slots[d]
                i = root = int(np.searchsorted(sl, want[row]))
                while par[root] != root:
                    root = par[root]
                while par[i] != root:
                    par[i], i = root, par[i]
                if root < len(sl) and sl[root] <= want[row] + 40 * DAY:
                    slot_of[row], doc_of[row] = sl[root], d
                    par[root] = root + 1
                    break
        return slot_of, doc_of

    # -- bookings: rescheduled pairs, cancellations, squeezed-in evening patients, statuses
    def bookings(self, dem: pd.DataFrame, pat: pd.DataFrame, contacts: pd.DataFrame):
        """Booking rows with slots and statuses, and the doctors' shifts they were matched to."""
        rng = self.rng
        m = len(dem)
        dem = dem.assign(demand=np.arange(m))
        u = _stratified(rng, _month_of(dem.want.to_numpy()))
        moved = u < PLANTS["rescheduled"]
        cancel = (u >= PLANTS["rescheduled"]) & (u < PLANTS["rescheduled"] + PLANTS["cancelled"])
        main = dem.assign(role="main", cancel=cancel)
        main.loc[moved, "want"] += rng.integers(2, 11, moved.sum()) * DAY
        rows = pd.concat([dem[moved].assign(role="moved", cancel=False), main], ignore_index=True)
        shifts = self.schedule(rows)
        rows["slot"], rows["doctor"] = self.match(rows, shifts)
        rows = rows[rows.slot >= 0].reset_index(drop=True)
        rows["cancelled_at"] = -1
        # a rescheduled booking is cancelled at the moment the new one is made
        mv = rows.index[rows.role == "moved"]
        mate = rows[rows.role == "main"].reset_index().set_index("demand")["index"]
        partner = rows.loc[mv, "demand"].map(mate)
        has = partner.notna().to_numpy()
        first_slot = np.where(has, np.minimum(rows.loc[mv, "slot"].to_numpy(),
                                              rows.slot.reindex(partner.fillna(-1).astype(int)).fillna(np.inf).to_numpy()),
                              rows.loc[mv, "slot"].to_numpy())
        c0 = rows.loc[mv, "created"].to_numpy()
        moment = (c0 + rng.uniform(0.2, 0.95, len(mv)) * np.maximum(first_slot - 60 - c0, 1)).astype(np.int64)
        rows.loc[mv, "cancelled_at"] = moment
        rows.loc[partner[has].astype(int).to_numpy(), "created"] = moment[has]
        # cancellations: 40% late (within a day of the slot)
        cx = rows.index[rows.cancel]
        slot, created = rows.loc[cx, "slot"].to_numpy(), rows.loc[cx, "created"].to_numpy()
        late = (rng.random(len(cx)) < 0.4) | (slot - created < 2 * DAY)
        early_t = created + rng.uniform(0.1, 0.9, len(cx)) * (slot - DAY - created)
        late_t = np.maximum(slot - rng.integers(60, DAY, len(cx)), created + 5)
        rows.loc[cx, "cancelled_at"] = np.where(late, late_t, early_t).astype(np.int64)
        rows = pd.concat([rows, self._evening_extras(rows, shifts)], ignore_index=True)
        # statuses: no-shows depend on how far ahead the booking was made, on the channel and the patient
        lead_days = (rows.slot - rows.created) / DAY
        ch = np.where(rows.contact.to_numpy() >= 0, contacts.channel.to_numpy()[np.maximum(rows.contact.to_numpy(), 0)], -1)
        p_ns = (PLANTS["no_show_base"] + PLANTS["no_show_long_lead"] * (lead_days > 7)
                + PLANTS["no_show_aggregator"] * (ch == 3) + 0.02 * (ch == 2) + 0.03 * rows.new_first
                - 0.03 * rows.ptype.isin([2, 3, 4])).to_numpy()
        p_ns = np.where(rows.role == "extra", 0.08, p_ns)
        status = np.where(rows.role == "moved", "перенесена", np.where(
            rows.cancel, "отменена", np.where(_stratified(rng, _month_of(rows.slot.to_numpy())) < p_ns,
                                               "не пришёл", "пришёл")))
        rows["status"] = status
        # a new patient who never came to the first booking is lost: drop the rest of their chain
        came = rows.loc[rows.new_first & (rows.status == "пришёл"), "patient"].unique()
        is_new = (pat.contact.to_numpy() >= 0)[rows.patient]
        rows = rows[~(is_new & ~rows.new_first & ~rows.patient.isin(came))]
        rows = rows.sort_values(["created", "slot"], kind="stable").reset_index(drop=True)
        rows["booking_id"] = (100000 + np.cumsum(rng.integers(1, 4, len(rows)))).astype(str)
        return rows, shifts

    def _evening_extras(self, rows: pd.DataFrame, shifts: pd.DataFrame) -> pd.DataFrame:
        """Overbooked doctors: patients squeezed in after 17:00, on taken slots or after the shift."""
        rng = self.rng
        idx = self.doctors.index[self.doctors.doctor_id.isin(OVERBOOKED)]
        ev = shifts[shifts.doctor.isin(idx) & (shifts.code == "E")]
        cnt = rng.poisson(PLANTS["evening_extra_per_shift"], len(ev))
        sh = ev.loc[np.repeat(ev.index, cnt)].reset_index(drop=True)
        slot_len = self.doctors.slot.to_numpy()[sh.doctor]
        lo = -(-(17 * 60 - 14 * 60) // slot_len)
        hi = (360 + 59) // slot_len
        k = rng.integers(lo, hi + 1)
        slot = sh.start.to_numpy() + k * slot_len
        donors = np.concatenate([rng.choice(rows.index[(rows.doctor == d) & (rows.role == "main")],
                                            (sh.doctor == d).sum()) for d in idx])
        order = np.argsort(sh.doctor.to_numpy(), kind="stable")
        donor = np.empty(len(sh), int)
        donor[order] = donors
        base = rows.loc[donor, ["patient", "spec", "ptype", "doctor"]].reset_index(drop=True)
        return base.assign(episode=0, j=0, want=slot, step=0, new_first=False, contact=-1, phone_booked=True,
                           created=slot - rng.integers(120, 1800, len(sh)), demand=-1, role="extra",
                           cancel=False, slot=slot, cancelled_at=-1)

    # -- visits and payments
    def visits(self, rows: pd.DataFrame, shifts: pd.DataFrame) -> pd.DataFrame:
        """Check-in, start and end of every completed booking (waits and overruns)."""
        rng = self.rng
        v = rows[rows.status == "пришёл"].copy()
        n = len(v)
        slot_len = self.doctors.slot.to_numpy()[v.doctor]
        shift_start = np.empty(n, np.int64)
        for d in range(len(self.doctors)):
            sel = (v.doctor == d).to_numpy()
            st = shifts.loc[shifts.doctor == d, "start"].to_numpy()
            shift_start[sel] = st[np.maximum(np.searchsorted(st, v.slot.to_numpy()[sel], side="right") - 1, 0)]
        into_h = (v.slot.to_numpy() - shift_start) / 60
        early = np.clip(np.round(rng.normal(7, 5, n)), -10, 30)
        delay = rng.lognormal(np.log(2.5), 0.9, n)
        slow = self.doctors.doctor_id.isin(OVERRUNS).to_numpy()[v.doctor]
        delay += np.where(slow, np.minimum(into_h * rng.uniform(5, 11, n), 70), 0)
        squeezed = (v.role == "extra").to_numpy()
        delay += np.where(squeezed, slot_len * rng.uniform(0.3, 0.9, n), 0)
        checked = v.slot.to_numpy() - early
        started = np.maximum(v.slot.to_numpy() + np.round(delay), checked + 1)
        overrun = rng.normal(self.doctors.overrun.to_numpy()[v.doctor], np.where(slow, 7, 4))
        ended = started + np.maximum(np.round(slot_len + overrun), 8)
        v["checked_in"] = checked.astype(np.int64)
        v["started"] = started.astype(np.int64)
        v["ended"] = ended.astype(np.int64)
        return v.sort_values("checked_in", kind="stable").reset_index(drop=True)

    def invoices(self, v: pd.DataFrame, pat: pd.DataFrame) -> pd.DataFrame:
        """Payment lines per visit: consultation, diagnostics, tests, treatment, programmes."""
        rng = self.rng
        n = len(v)
        spec, j, ptype = v.spec.to_numpy(), v.j.to_numpy(), v.ptype.to_numpy()
        p = np.array([SPEC_LINES[s] for s in SPECS])[spec]
        first_with_spec = v.groupby(["patient", "spec"]).cumcount().to_numpy() == 0
        treat_follow = (j > 0) & (rng.random(n) < p[:, 3])
        loyal = np.isin(ptype, [3, 4])
        parts = [
            (np.flatnonzero(~treat_follow), np.where(first_with_spec[~treat_follow], "first", "repeat")),
            (np.flatnonzero(treat_follow), "treat"),
            (np.flatnonzero((j == 0) & (rng.random(n) < p[:, 0])), "diag"),
            (np.flatnonzero(rng.random(n) < np.where(j == 0, p[:, 1], p[:, 1] * 0.4)), "lab"),
            (np.flatnonzero((j == 0) & (rng.random(n) < p[:, 2])), "treat"),
            (np.flatnonzero((j == 0) & loyal & (rng.random(n) < 0.45)), "program"),
            (np.flatnonzero(loyal & (rng.random(n) < 0.35)), "treat"),
        ]
        vi = np.concatenate([x for x, _ in parts])
        kind = np.concatenate([np.broadcast_to(k, len(x)) for x, k in parts])
        order = np.lexsort((kind, vi))
        vi, kind = vi[order], kind[order]
        cat = pd.DataFrame(CATALOG, columns=["spec", "service", "category", "price", "kind"])
        cat["spec"] = cat.spec.map({s: i for i, s in enumerate(SPECS)})
        line_spec = spec[vi]
        rich = loyal[vi]
        service = np.empty(len(vi), object)
        category = np.empty(len(vi), object)
        price = np.zeros(len(vi))
        for (s, k, r), grp in pd.DataFrame({"s": line_spec, "k": kind, "r": rich}).groupby(["s", "k", "r"]).groups.items():
            opts = cat[(cat.spec == s) & (cat.kind == k)]
            if opts.empty:
                opts = cat[(cat.spec == s) & (cat.kind == "repeat")]
            w = opts.price.to_numpy(float) ** (1.0 if r else -0.3)
            pick = opts.iloc[rng.choice(len(opts), size=len(grp), p=w / w.sum())]
            service[grp], category[grp], price[grp] = pick.service, pick.category, pick.price
        discount = _pick(rng, [0, 0.05, 0.10, 0.15], [78, 12, 7, 3], len(vi))
        ch = np.where(pat.contact.to_numpy() >= 0, pat.channel.to_numpy(), -1)[v.patient.to_numpy()[vi]]
        promo = (ch == 2) & (v.episode.to_numpy()[vi] == 0)          # SMM promo: 40% off the first episode
        amount = np.round(price * (1 - np.where(promo, 0.4, discount)), 2)
        paid = v.ended.to_numpy()[vi] + rng.integers(1, 20, len(vi)) + rng.integers(0, 3, len(vi))
        return pd.DataFrame({"visit": vi, "patient": v.patient.to_numpy()[vi], "paid": paid, "amount": amount,
                             "service": service, "category": category})


def _names(rng, sex: np.ndarray, avoid: set[str]) -> np.ndarray:
    """Russian full names (surname, first name, patronymic) that never equal a doctor's name."""
    n = len(sex)
    fem = sex == "Ж"
    sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    sur = np.where(fem, np.char.add(sur.astype(str), "а"), sur)
    first = np.where(fem, np.array(FEMALE_NAMES)[rng.integers(0, len(FEMALE_NAMES), n)],
                     np.array(MALE_NAMES)[rng.integers(0, len(MALE_NAMES), n)])
    root = np.array(PATRONYMIC_ROOTS)[rng.integers(0, len(PATRONYMIC_ROOTS), n)]
    pat = np.where(fem, np.char.add(root, "на"), np.char.add(root, "ич"))
    full = np.char.add(np.char.add(np.char.add(np.char.add(sur, " "), first), " "), pat).astype(object)
    clash = np.isin(full, list(avoid))
    full[clash] = np.char.add(np.char.add(np.char.add(sur[clash], " "), first[clash]),
                              np.where(fem[clash], " Ильинична", " Ильич"))
    return full


def _phones(rng, n: int) -> np.ndarray:
    """Unique Russian mobile numbers as 10 digits (9xxxxxxxxx)."""
    nums = np.unique(rng.integers(9_000_000_000, 9_999_999_999, int(n * 1.2)))
    return rng.permutation(nums)[:n]


def build(seed: int = SEED) -> dict[str, tuple[str, pd.DataFrame, object]]:
    """Simulate the clinic and return {table: (file name, raw export frame, format)}."""
    c = _Clinic(seed)
    rng = c.rng
    doctors = c.doctors
    contacts = c.new_contacts()
    pat = pd.concat([c.old_patients(), c.new_patients(contacts)], ignore_index=True)
    dem = c.demands(pat)
    nf = dem.new_first.to_numpy()
    dem.loc[nf, "created"] = contacts.booking_created.to_numpy()[dem.contact.to_numpy()[nf]]
    rows, shifts = c.bookings(dem, pat, contacts)
    visits = c.visits(rows, shifts)
    lines = c.invoices(visits, pat)

    # ids: patients by registration, bookings by creation, visits by check-in, payments by time
    n_pat = len(pat)
    pat_order = np.argsort(pat.registered.to_numpy(), kind="stable")
    pid = np.empty(n_pat, object)
    pid[pat_order] = (10001 + np.arange(n_pat)).astype(str)
    visits["visit_id"] = (300000 + np.cumsum(rng.integers(1, 3, len(visits)))).astype(str)

    # people
    fio = _names(rng, pat.sex.to_numpy(), set(doctors.doctor_name))
    phone10 = _phones(rng, n_pat + 4000)
    pat_phone, spare_phone = phone10[:n_pat], phone10[n_pat:]
    leads, calls = _leads_and_calls(rng, contacts, rows, pat, pid, pat_phone, spare_phone)
    spend, traffic = _spend(rng, leads), _traffic(rng, leads)

    # ---- faults planted in the exports
    # booked leads deleted in amoCRM: their bookings keep a lead_id that no longer exists
    booked_leads = leads.index[leads.booked & leads.lead_id.isin(rows.lead_id.dropna())]
    gone = rng.choice(booked_leads, int(round(PLANTS["lead_links_deleted"] * len(booked_leads))), replace=False)
    leads = leads.drop(index=gone)
    dup = rng.choice(leads.index, PLANTS["duplicate_leads"], replace=False)
    leads = pd.concat([leads, leads.loc[dup]]).sort_values(["created", "lead_id"], kind="stable")

    # the MIS lost check-ins for one month: visits missing, their payments without visit_id
    lost_month = pd.Period(PLANTS["visits_lost_month"])
    in_month = (_ts(visits.checked_in).dt.to_period("M") == lost_month).to_numpy()
    lost = in_month & (rng.random(len(visits)) < PLANTS["visits_lost_share"])
    lines["visit_id"] = visits.visit_id.to_numpy()[lines.visit]
    lines.loc[lost[lines.visit.to_numpy()], "visit_id"] = None
    # refunds (negative), then payments whose visit number is not in the MIS, then double-exported rows
    ref = lines[rng.random(len(lines)) < PLANTS["refund_share"]].copy()
    ref["amount"] = -np.where(rng.random(len(ref)) < 0.7, ref.amount, np.round(ref.amount * 0.5, 2))
    ref["paid"] = ref.paid + rng.integers(1, 15, len(ref)) * DAY + rng.integers(-120, 240, len(ref))
    lines = pd.concat([lines, ref], ignore_index=True).sort_values("paid", kind="stable").reset_index(drop=True)
    lines = lines[lines.paid < T_END].reset_index(drop=True)
    has_visit = np.flatnonzero(lines.visit_id.notna().to_numpy() & (lines.amount.to_numpy() > 0))
    orphan = rng.choice(has_visit, int(round(PLANTS["invoice_orphans"] * lines.visit_id.notna().sum())), replace=False)
    numbers = visits.visit_id.astype(int).to_numpy()
    deleted = np.setdiff1d(np.arange(numbers.min(), numbers.max()), numbers)   # gaps: visits deleted in the MIS
    lines.loc[orphan, "visit_id"] = rng.choice(deleted, len(orphan), replace=False).astype(str)
    lines["invoice_id"] = np.char.add("ЧК-", np.char.zfill((15000 + np.arange(len(lines))).astype(str), 7))
    dup = rng.choice(lines.index, PLANTS["duplicate_invoices"], replace=False)
    lines = pd.concat([lines, lines.loc[dup]]).sort_index(kind="stable")
    surveys = _surveys(rng, visits[~lost], doctors, pid)
    visits_out = visits[~lost]

    # ---- raw export frames
    ts = _ts                                                     # minutes since START -> timestamps
    tables = {}
    tables["leads"] = ("amocrm_leads.xlsx", pd.DataFrame({
        "ID сделки": leads.lead_id.to_numpy(),
        "Дата создания": ts(leads.created).to_numpy(),
        "Источник": leads.source.to_numpy(),
        "ID пациента": leads.patient_id.to_numpy(),
        "ID звонка": leads.call_id.to_numpy(),
        "utm_source": leads.utm_source.to_numpy(), "utm_medium": leads.utm_medium.to_numpy(),
        "utm_campaign": leads.utm_campaign.to_numpy(),
        "Услуга": leads.service.to_numpy(),
        "Этап сделки": leads.stage.to_numpy(),
        "Причина отказа": leads.lost_reason.to_numpy(),
        "Дата первого ответа": ts(leads.resp.where(leads.resp >= 0)).to_numpy(),
        "Ответственный": leads.responsible.to_numpy(),
    }), "xlsx")
    source = calls.source.str.split(" / ", n=1, expand=True).reindex(columns=[0, 1])
    tables["calls"] = ("calltouch_calls.csv", pd.DataFrame({       # the input of system_exports.calltouch_api
        "call_id": calls.call_id.to_numpy(),
        "started_at": ts(calls.t).to_numpy(),
        "answered": ~calls.missed.to_numpy(bool),
        "wait_seconds": calls.wait_s.to_numpy(),
        "duration_seconds": calls.duration.to_numpy(),
        "source": source[0].to_numpy(), "medium": source[1].to_numpy(),
        "utm_source": source[0].to_numpy(), "utm_medium": source[1].to_numpy(), "utm_campaign": None,
        "caller_phone": np.char.add("7", calls.phone.astype(str).to_numpy()),
        "city": calls.region.to_numpy(),
        CALLBACK_HEADER: ts(calls.back_t.where(calls.back_t >= 0)).to_numpy(),
    }), CALLTOUCH)
    minutes = doctors.slot.to_numpy()[rows.doctor]
    no_minutes = rng.random(len(rows)) < PLANTS["slot_minutes_missing"]
    service = np.where(rows.j > 0, np.where(rows.spec == 2, "Лечение зубов", np.char.add(
        "Повторный приём (", np.char.add(np.array(SPECS)[rows.spec].astype(str), ")"))),
        np.array(SPEC_SERVICE)[rows.spec])
    tables["bookings"] = ("mis_bookings.csv", pd.DataFrame({
        "Номер записи": rows.booking_id.to_numpy(),
        "Код пациента": pid[rows.patient],
        BOOKING_DOCTOR_HEADER: doctors.doctor_id.to_numpy()[rows.doctor],
        "Дата и время приёма": _fmt(ts(rows.slot)),
        "Длительность, мин": np.where(no_minutes, "", minutes.astype(str)),
        "Окончание приёма": _fmt(ts(rows.slot + minutes)),
        "Услуга": service,
        "Статус записи": rows.status.to_numpy(),
        "ID заявки": rows.lead_id.fillna("").to_numpy(),
        "Дата записи": _fmt(ts(rows.created)),
        "Дата отмены": _fmt(ts(rows.cancelled_at.where(rows.cancelled_at >= 0))),
    }), ("cp1251", ";"))
    tables["visits"] = ("mis_visits.xlsx", pd.DataFrame({
        "Номер визита": visits_out.visit_id.to_numpy(),
        "Код пациента": pid[visits_out.patient],
        "Номер записи": visits_out.booking_id.to_numpy(),
        "Код врача": doctors.doctor_id.to_numpy()[visits_out.doctor],
        "Время прихода": ts(visits_out.checked_in).to_numpy(),
        "Начало приёма": ts(visits_out.started).to_numpy(),
        "Окончание приёма": ts(visits_out.ended).to_numpy(),
    }), "xlsx")
    tables["invoices"] = ("1c_payments.csv", pd.DataFrame({
        "Номер документа": lines.invoice_id.to_numpy(),
        "Дата оплаты": _fmt(ts(lines.paid)),
        "Код пациента": pid[lines.patient],
        "ID визита": lines.visit_id.fillna("").to_numpy(),
        "Номенклатура": lines.service.to_numpy(),
        "Группа услуг": lines.category.to_numpy(),
        "Сумма": _money(lines.amount.to_numpy()),
    }), ("cp1251", ";"))
    room = {d: f"Каб. {101 + i}" for i, d in enumerate(doctors.doctor_id)}
    tables["schedule"] = ("schedule.xlsx", pd.DataFrame({
        "Код врача": doctors.doctor_id.to_numpy()[shifts.doctor],
        "Врач": doctors.doctor_name.to_numpy()[shifts.doctor],
        "Начало смены": ts(shifts.start).to_numpy(),
        "Конец смены": ts(shifts.end).to_numpy(),
        "Кабинет": [room[d] for d in doctors.doctor_id.to_numpy()[shifts.doctor]],
    }), "xlsx")
    tables["doctors"] = ("doctors.csv", pd.DataFrame({
        "Код врача": doctors.doctor_id, "ФИО врача": doctors.doctor_name, "Специальность": doctors.specialty,
    }), ("utf-8", ","))
    tables["marketing_spend"] = ("marketing_spend.xlsx", spend, "xlsx")
    tables["site_traffic"] = ("metrika_traffic.csv", traffic, ("utf-8-sig", ","))
    tables["patients"] = ("mis_patients.csv", _patients_frame(rng, pat, pid, fio, pat_phone), ("cp1251", ";"))
    tables["surveys"] = ("surveys.csv", surveys, ("utf-8", ","))
    return tables


def _leads_and_calls(rng, contacts, rows, pat, pid, pat_phone, spare_phone):
    """amoCRM leads (new contacts + existing patients' requests) and the Calltouch call log.

    Sets rows["lead_id"] for bookings made from a lead.
    """
    nc = len(contacts)
    leads_pm = np.array(PLANTS["leads_per_month"])
    n_rep = np.round(leads_pm * PLANTS["repeat_lead_share"]).astype(int)
    contact_patient = pd.Series(pat.index.to_numpy(), index=pat.contact.to_numpy())
    contact_patient = contact_patient[contact_patient.index >= 0]
    lead_rows = rows[rows.contact >= 0]
    booked = np.zeros(nc, bool)
    booked[lead_rows.contact.unique()] = True
    shown = np.zeros(nc, bool)
    shown[lead_rows.loc[lead_rows.status == "пришёл", "contact"].unique()] = True
    cancelled = np.zeros(nc, bool)
    cancelled[lead_rows.loc[lead_rows.status == "отменена", "contact"].unique()] = True
    new = pd.DataFrame({
        "t": contacts.t, "source": contacts.source, "channel": contacts.channel, "spec": contacts.spec,
        "patient": contact_patient.reindex(np.arange(nc)).fillna(-1).astype(int).to_numpy(),
        "phone": contacts.kind == "phone", "missed": contacts.missed, "wait_s": contacts.wait_s,
        "back_t": contacts.back_t, "resp": contacts.resp, "booked": booked, "shown": shown, "cancelled": cancelled,
    })
    # existing patients' requests that ended in a booking (phone 80%, site form 20%)
    first_row = (rows.role == "moved") | ((rows.role == "main") & ~rows.demand.isin(rows.loc[rows.role == "moved", "demand"]))
    cand = rows[first_row & ~rows.new_first & rows.phone_booked & (rows.demand >= 0)]
    cand_month = _month_of(cand.created.to_numpy())
    chosen = []
    for m in range(N_MONTHS):
        pool = cand.index[cand_month == m]
        k = min(len(pool), int(round(n_rep[m] * 0.94)))
        chosen.append(np.sort(rng.choice(pool, k, replace=False)))
    rep = rows.loc[np.concatenate(chosen)]
    r = len(rep)
    bc = rep.created.to_numpy()
    phone = rng.random(r) < 0.8
    t_call = bc - rng.integers(1, 5, r)
    missed = phone & (rng.random(r) < _miss_prob(np.maximum(t_call, 0)))
    t_call = np.where(missed, bc - 10 - np.round(rng.lognormal(np.log(60), 0.8, r)).astype(np.int64), t_call)
    wait_s = np.where(missed, rng.integers(20, 95, r), np.round(rng.gamma(2.0, 9.0, r)) + 3).astype(int)
    t_form = bc - 2 - np.round(rng.lognormal(np.log(45), 1.0, r)).astype(np.int64)
    st = rows.groupby("demand").status.agg(lambda s: "пришёл" in set(s))
    rep_leads = pd.DataFrame({
        "t": np.where(phone, t_call, t_form), "source": REPEAT_SOURCE, "channel": 5, "spec": rep.spec.to_numpy(),
        "patient": rep.patient.to_numpy(), "phone": phone, "missed": missed, "wait_s": wait_s,
        "back_t": np.where(missed, bc - 1, -1),
        "resp": np.where(missed | ~phone, bc - 1, t_call + (wait_s + 59) // 60), "booked": True,
        "shown": st.reindex(rep.demand).to_numpy(dtype=bool),
        "cancelled": False, "demand": rep.demand.to_numpy(),
    })
    # existing patients' requests that did not end in a booking
    n_un = np.maximum(n_rep - np.array([len(x) for x in chosen]), 0)
    um = np.repeat(np.arange(N_MONTHS), n_un)
    u = len(um)
    ut = _sample_times(rng, um, CALL_HOURS)
    active = rows.loc[rows.status == "пришёл", "patient"].unique()
    u_missed = rng.random(u) < _miss_prob(ut)
    u_back = np.where(u_missed & (rng.random(u) < 0.5), _callback(rng, ut), -1)
    u_wait = np.where(u_missed, rng.integers(20, 95, u), np.round(rng.gamma(2.0, 9.0, u)) + 3).astype(int)
    un_leads = pd.DataFrame({
        "t": ut, "source": REPEAT_SOURCE, "channel": 5, "spec": rng.integers(0, 6, u),
        "patient": rng.choice(active, u), "phone": True, "missed": u_missed, "wait_s": u_wait, "back_t": u_back,
        "resp": np.where(u_missed, u_back, ut + (u_wait + 59) // 60), "booked": False, "shown": False,
        "cancelled": False,
    })
    L = pd.concat([new, rep_leads.drop(columns="demand"), un_leads], ignore_index=True)
    L = L[L.t >= 0]
    L["spec"] = L.spec.to_numpy() % 6
    n = len(L)
    order = np.argsort(L.t.to_numpy(), kind="stable")
    lead_id = np.empty(n, object)
    lead_id[order] = (21_000_000 + np.cumsum(rng.integers(1, 30, n))).astype(str)
    L["lead_id"] = lead_id
    key_to_id = pd.Series(lead_id, index=L.index)
    rows["lead_id"] = None
    nf = rows.contact >= 0
    rows.loc[nf, "lead_id"] = key_to_id.reindex(rows.loc[nf, "contact"]).to_numpy()
    rep_key = pd.Series(np.arange(nc, nc + r), index=rep.demand.to_numpy())
    rep_key = rep_key[rep_key.isin(L.index)]
    on = rows.demand.isin(rep_key.index) & (rows.demand >= 0)
    rows.loc[on, "lead_id"] = key_to_id.reindex(rep_key.reindex(rows.loc[on, "demand"]).to_numpy()).to_numpy()

    # stage, lost reason, utm, service, responsible
    recent = L.t.to_numpy() > T_END - 10 * DAY
    never_reached = L.phone & L.missed & (L.back_t < 0)
    reason = np.where(never_reached, "Не дозвонились", _pick(rng, LOST_REASONS, [20, 18, 16, 14, 8, 14, 10], n))
    reason = np.where(_stratified(rng, _month_of(L.t.to_numpy())) < PLANTS["lost_reason_empty"], "", reason)
    bk, sh = L.booked.to_numpy(), L.shown.to_numpy()
    L["stage"] = np.where(sh, "Успешно реализовано", np.where(
        ~bk & recent, "Первичный контакт", "Закрыто и не реализовано"))
    L["lost_reason"] = np.where(sh, "", np.where(bk, np.where(L.cancelled, "Отменил запись", "Не пришёл на приём"),
                                                 np.where(recent, "", reason)))
    src = L.source.to_numpy().astype(str)
    engine = np.char.partition(src, " / ")[:, 0]
    campaigns = np.array(["search_terapevt", "search_gyn", "search_stom", "search_nevro", "search_kardio", "search_endo"])
    camp = np.where(rng.random(n) < 0.8, campaigns[L.spec.to_numpy()], "rsya_checkup")
    has_utm = np.char.find(src, " / ") >= 0
    L["utm_source"] = np.where(has_utm, engine, None)
    L["utm_medium"] = np.where(has_utm, np.char.partition(src, " / ")[:, 2], None)
    L["utm_campaign"] = np.where(src == "yandex / cpc", camp, np.where(src == "vk / social", "vk_target_checkup",
                                 np.where(src == "telegram / social", "tg_posev", None)))
    L["service"] = np.array(SPEC_SERVICE)[L.spec.to_numpy()]
    L["responsible"] = _pick(rng, ADMINS, [35, 30, 25, 10], n)
    L["patient_id"] = np.where(L.patient >= 0, pid[np.maximum(L.patient.to_numpy(), 0)], None)
    L["created"] = L.t

    # the call log: phone leads plus calls that are not leads (results, questions, spam)
    non = np.round(leads_pm * 0.55).astype(int)
    nm = np.repeat(np.arange(N_MONTHS), non)
    k = len(nm)
    kt = _sample_times(rng, nm, CALL_HOURS)
    k_missed = rng.random(k) < _miss_prob(kt)
    k_back = np.where(k_missed & (rng.random(k) < 0.3), _callback(rng, kt), -1)
    k_phone = np.where(rng.random(k) < 0.7, pat_phone[rng.integers(0, len(pat_phone), k)],
                       spare_phone[rng.integers(0, len(spare_phone), k)])
    calls_lead = L[L.phone]
    lp = calls_lead.patient.to_numpy()
    c_phone = np.where(lp >= 0, pat_phone[np.maximum(lp, 0)], spare_phone[np.arange(len(lp)) % len(spare_phone)])
    c_src = calls_lead.source.to_numpy().astype(object)
    c_src[np.isin(c_src, ["рекомендация", REPEAT_SOURCE])] = DIRECT
    C = pd.DataFrame({
        "t": np.concatenate([calls_lead.t.to_numpy(), kt]),
        "missed": np.concatenate([calls_lead.missed.to_numpy(), k_missed]),
        "wait_s": np.concatenate([calls_lead.wait_s.to_numpy(),
                                  np.where(k_missed, rng.integers(20, 95, k), np.round(rng.gamma(2.0, 9.0, k)) + 3)]),
        "back_t": np.concatenate([calls_lead.back_t.to_numpy(), k_back]),
        "source": np.concatenate([c_src, _pick(rng, [DIRECT, "yandex / cpc", "google / organic"], [85, 10, 5], k)]),
        "phone": np.concatenate([c_phone, k_phone]),
        "lead": np.concatenate([calls_lead.index.to_numpy(), np.full(k, -1)]),
    })
    C = C.sort_values("t", kind="stable").reset_index(drop=True)
    C["wait_s"] = C.wait_s.astype(int)
    C["duration"] = np.where(C.missed, 0, np.round(rng.lognormal(np.log(150), 0.6, len(C)))).astype(int)
    C["region"] = _pick(rng, ["Свердловская область", "Челябинская область", "Тюменская область", "Москва"],
                        [92, 4, 2, 2], len(C))
    C["call_id"] = (418_000_000 + np.cumsum(rng.integers(3, 40, len(C)))).astype(str)
    L["call_id"] = pd.Series(C.call_id.to_numpy(), index=C.lead.to_numpy()).drop(-1, errors="ignore").reindex(L.index).to_numpy()
    L = L.iloc[order].reset_index(drop=True)
    return L, C


def _surveys(rng, visits: pd.DataFrame, doctors: pd.DataFrame, pid: np.ndarray) -> pd.DataFrame:
    """Post-visit survey answers (about one visit in five): NPS 0-10, CSAT 1-5, worse after long waits."""
    v = visits[rng.random(len(visits)) < 0.2]
    answered = v.ended.to_numpy() + rng.integers(120, 3 * DAY, len(v))
    v = v[answered < T_END]
    answered = answered[answered < T_END]
    long_wait = (v.started - v.checked_in).to_numpy() > 25
    n = len(v)
    good = [1, .5, 1, 1.5, 2, 3, 5, 8, 13, 20, 45]
    bad = [3, 2, 3, 4, 6, 8, 10, 12, 14, 16, 22]
    nps = np.where(long_wait, _pick(rng, range(11), bad, n), _pick(rng, range(11), good, n))
    csat = np.where(long_wait, _pick(rng, range(1, 6), [5, 8, 17, 30, 40], n),
                    _pick(rng, range(1, 6), [1, 2, 7, 28, 62], n))
    out = pd.DataFrame({
        "Код пациента": pid[v.patient], "Дата ответа": _ts(answered).dt.strftime("%Y-%m-%d %H:%M").to_numpy(),
        "Оценка NPS": nps, "Удовлетворённость": csat, "ID визита": v.visit_id.to_numpy(),
        "ID врача": doctors.doctor_id.to_numpy()[v.doctor],
    })
    return out.iloc[np.argsort(answered, kind="stable")].reset_index(drop=True)


def _spend(rng, leads: pd.DataFrame) -> pd.DataFrame:
    """Monthly ad budget per platform: Direct and VK grow in the current quarter; aggregators bill per booking."""
    m = np.arange(N_MONTHS)
    month = _month_of(leads.created.to_numpy())
    def booked(src):
        return np.bincount(month[(leads.source == src).to_numpy() & leads.booked.to_numpy()], minlength=N_MONTHS)
    direct = np.interp(m, [0, 12, 14, 15, 17], [150_000, 185_000, 188_000, 228_000, 240_000])
    vk = np.interp(m, [0, 12, 14, 15, 17], [60_000, 75_000, 76_000, 92_000, 98_000])
    rows_out = []
    for label, amount in [
        ("Яндекс Директ", direct * rng.normal(1, 0.05, N_MONTHS)),
        ("SEO-продвижение (подрядчик)", np.full(N_MONTHS, 25_000.0)),
        ("ВКонтакте таргет", vk * rng.normal(1, 0.05, N_MONTHS)),
        ("ПроДокторов", 12_000 + 1_450 * booked("prodoctorov")),
        ("НаПоправку", 8_000 + 1_200 * booked("napopravku")),
    ]:
        rows_out.append(pd.DataFrame({"Месяц": MONTH_STARTS[:-1], "Канал": label, "Расход": np.round(amount, 2)}))
    return pd.concat(rows_out).sort_values("Месяц", kind="stable").reset_index(drop=True)


def _traffic(rng, leads: pd.DataFrame) -> pd.DataFrame:
    """Monthly site sessions per source (Яндекс.Метрика), proportional to the leads each source brings."""
    month = _month_of(leads.created.to_numpy())
    factors = {"yandex / cpc": 42, "yandex / organic": 55, "google / organic": 55, "vk / social": 60,
               "telegram / social": 45, "prodoctorov": 6, "napopravku": 5}
    parts = []
    for src, f in factors.items():
        cnt = np.bincount(month[(leads.source == src).to_numpy()], minlength=N_MONTHS)
        parts.append((src, np.round(cnt * f * rng.lognormal(0, 0.08, N_MONTHS)).astype(int)))
    parts.append((DIRECT, np.round((1400 + 25 * np.arange(N_MONTHS)) * rng.lognormal(0, 0.06, N_MONTHS)).astype(int)))
    out = pd.concat([pd.DataFrame({"Месяц": MONTH_STARTS[:-1].strftime("%Y-%m-%d"), "Источник": s, "Визиты": v})
                     for s, v in parts])
    return out.sort_values(["Месяц"], kind="stable").reset_index(drop=True)


def _patients_frame(rng, pat: pd.DataFrame, pid: np.ndarray, fio: np.ndarray, phone10: np.ndarray) -> pd.DataFrame:
    """The MIS patient list with PII (names, phones, e-mails) as clinics export it."""
    n = len(pat)
    ptype = pat.ptype.to_numpy()
    born = np.where(ptype == 2, rng.normal(1961, 9, n), np.where(np.isin(ptype, [3, 4]), rng.normal(1976, 9, n),
                                                                 rng.normal(1985, 12, n)))
    born = np.clip(np.round(born), 1938, 2007).astype(int)
    p = phone10.astype(str)
    phone = [f"+7 ({x[:3]}) {x[3:6]}-{x[6:8]}-{x[8:]}" for x in p]
    parts = [f.split() for f in fio]
    domains = _pick(rng, ["mail.ru", "yandex.ru", "gmail.com", "bk.ru"], [35, 35, 20, 10], n)
    digits = rng.integers(1, 99, n)
    email = [f"{s.lower().translate(TRANSLIT)}.{f[0].lower().translate(TRANSLIT)}{d}@{dom}"
             for (s, f, _), d, dom in zip(parts, digits, domains)]
    email = np.where(rng.random(n) < 0.65, email, "")
    old_src = _pick(rng, ["рекомендация", "yandex / cpc", "yandex / organic", "prodoctorov", "google / organic",
                          "vk / social", ""], [30, 20, 15, 10, 5, 5, 15], n)
    source = np.where(pat.contact.to_numpy() >= 0, pat.source.to_numpy().astype(object), old_src)
    out = pd.DataFrame({
        "Код пациента": pid, "ФИО": fio, "Пол": pat.sex.to_numpy(), "Год рождения": born,
        "Район": _pick(rng, DISTRICTS, [14, 16, 10, 15, 12, 11, 12, 10], n), "Телефон": phone, "E-mail": email,
        "Дата регистрации": _ts(pat.registered).dt.strftime("%d.%m.%Y").to_numpy(), "Откуда узнал": source,
    })
    return out.iloc[np.argsort(pid.astype(int), kind="stable")].reset_index(drop=True)


# ---------------------------------------------------------------- writers
XLSX_SHEETS = {"leads": "Сделки", "visits": "Визиты", "schedule": "Расписание", "marketing_spend": "Расходы"}
# The calls are a Calltouch API export (recognised by its preset) plus the call centre's own column of
# callback times; every other column of the frame is appended after the API fields as well.
CALLTOUCH = "calltouch_api"
CALLBACK_HEADER = "Перезвон менеджера"
CALLTOUCH_INPUT = ("call_id", "started_at", "answered", "wait_seconds", "duration_seconds", "source", "medium",
                   "utm_source", "utm_medium", "utm_campaign", "caller_phone", "city")
# The clinic's own MIS report of bookings names the doctor's code in a way no alias knows: the demo's
# one `columns:` line.
BOOKING_DOCTOR_HEADER = "Врач (код)"
INVOICE_TITLE = "Оплаты за период 01.10.2023 - 31.03.2025"


def _fmt(ts: pd.Series) -> np.ndarray:
    """Timestamps as dd.mm.yyyy hh:mm text; missing as an empty cell."""
    return ts.dt.strftime("%d.%m.%Y %H:%M").fillna("").to_numpy()


def _money(x: np.ndarray) -> np.ndarray:
    """Amounts as 1C writes them: '3 900,50'."""
    s = pd.Series(x).map("{:,.2f}".format)
    return s.str.replace(",", " ", regex=False).str.replace(".", ",", regex=False).to_numpy()


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str, sep: str, title: str | None = None) -> None:
    """A delimited text export; Windows exports (cp1251) get CRLF line ends; a title line above the table."""
    stable_files.write_csv(path, frame.columns, [frame[c] for c in frame.columns], sep=sep, encoding=encoding,
                           eol="\r\n" if encoding == "cp1251" else "\n", before=[title, ""] if title else [])


def _write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> None:
    """An xlsx with real Excel dates and byte-stable output."""
    stable_files.write_xlsx(path, frame.columns, [frame[c] for c in frame.columns], sheet, creator="audit-kit sample")


def _config_text(paths: dict[str, str]) -> str:
    """audit.yaml of the demo clinic: a preset for the calls, built-in aliases for most files, a columns:
    mapping for the bookings."""
    def q(s):
        return '"' + s.replace('"', '\\"') + '"'
    lines = [
        "# Demo clinic generated by `audit-kit sample` (audit_kit/sample.py); see sample_data/README.md.",
        "client: Клиника «Здоровье» (демо)",
        "language: ru",
        "currency: RUB",
        "periods:",
        f"  base: [{BASE[0]}, {BASE[1]}]",
        f"  current: [{CURRENT[0]}, {CURRENT[1]}]",
        "data:",
    ]
    for table, path in paths.items():
        if table == "calls":
            lines.append(f"  {table}: {path}" + " " * max(1, 33 - len(table) - len(path)) +
                         "# a Calltouch API export: recognised by its preset")
        elif table == "bookings":
            lines += [
                "  bookings:                              # the MIS's own report: one header needs a mapping",
                f"    path: {path}",
                "    columns:",
                f'      "{BOOKING_DOCTOR_HEADER}": doctor_id',
            ]
        else:
            lines.append(f"  {table}: {path}")
    lines.append("channels:                                # raw source / utm / budget line -> channel")
    lines += [f"  {q(k)}: {v}" for k, v in CHANNEL_MAP.items()]
    lines += [
        "options:",
        "  treatment_categories: [Лечение]        # a paid 'Лечение' line counts as treatment at once",
        "",
    ]
    return "\n".join(lines)


def write_export(name: str, frame: pd.DataFrame, path: Path, fmt) -> None:
    """One demo export: "xlsx", (encoding, delimiter) for csv, or CALLTOUCH for the calls."""
    if fmt == CALLTOUCH:
        extra = {c: frame[c] for c in frame.columns if c not in CALLTOUCH_INPUT}
        system_exports.calltouch_api(frame[list(CALLTOUCH_INPUT)], path, extra_columns=extra)
    elif fmt == "xlsx":
        _write_xlsx(frame, path, sheet=XLSX_SHEETS[name])
    else:
        encoding, sep = fmt
        _write_csv(frame, path, encoding, sep, title=INVOICE_TITLE if name == "invoices" else None)


def generate(out_dir: Path, seed: int = SEED) -> Path:
    """Write the demo clinic's raw exports and audit.yaml into out_dir; return the audit.yaml path."""
    out_dir = Path(out_dir)
    tables = build(seed)
    data = out_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, (fname, frame, fmt) in tables.items():
        write_export(name, frame, data / fname, fmt)
    config = out_dir / "audit.yaml"
    config.write_text(_config_text({k: "data/" + v[0] for k, v in tables.items()}), encoding="utf-8")
    return config


# ---------------------------------------------------------------- measuring the plants from the raw files
def read_raw(folder: Path) -> dict[str, pd.DataFrame]:
    """The demo exports read back with plain pandas under short English column names (for measure())."""
    d = Path(folder) / "data"
    dtf = "%d.%m.%Y %H:%M"

    def csv(name, enc, sep, skip=0):
        return pd.read_csv(d / name, sep=sep, encoding=enc, dtype=str, keep_default_na=False, skiprows=skip)

    def when(s, fmt=dtf):
        return pd.to_datetime(s.replace("", None), format=fmt)

    leads = pd.read_excel(d / "amocrm_leads.xlsx", engine="openpyxl", dtype={"ID сделки": str, "ID пациента": str, "ID звонка": str})
    leads.columns = ["lead_id", "created_at", "source", "patient_id", "call_id", "utm_source", "utm_medium",
                     "utm_campaign", "service", "stage", "lost_reason", "first_response_at", "responsible"]
    calls = csv("calltouch_calls.csv", "utf-8", ",").replace(system_exports.CALLTOUCH_EMPTY, "")
    calls = pd.DataFrame({"call_id": calls.callId, "started_at": when(calls.date, "%d/%m/%Y %H:%M:%S"),
                          "wait_seconds": calls.waitingConnect, "duration_seconds": calls.duration,
                          "source": calls.source.where(calls.medium.eq(""), calls.source + " / " + calls.medium),
                          "phone": calls.callerNumber,
                          "called_back_at": when(calls[CALLBACK_HEADER], "%d/%m/%Y %H:%M:%S"),
                          "region": calls.city, "answered": calls.successful == "true"})
    b = csv("mis_bookings.csv", "cp1251", ";")
    b.columns = ["booking_id", "patient_id", "doctor_id", "slot_start", "slot_minutes", "slot_end", "service",
                 "status", "lead_id", "created_at", "cancelled_at"]
    for c in ("slot_start", "slot_end", "created_at", "cancelled_at"):
        b[c] = when(b[c])
    v = pd.read_excel(d / "mis_visits.xlsx", engine="openpyxl", dtype={"Номер визита": str, "Код пациента": str, "Номер записи": str})
    v.columns = ["visit_id", "patient_id", "booking_id", "doctor_id", "checked_in_at", "started_at", "ended_at"]
    inv = csv("1c_payments.csv", "cp1251", ";", skip=2)
    inv.columns = ["invoice_id", "paid_at", "patient_id", "visit_id", "service", "service_category", "amount"]
    inv["paid_at"] = when(inv.paid_at)
    inv["amount"] = inv.amount.str.replace(" ", "", regex=False).str.replace(",", ".", regex=False).astype(float)
    sch = pd.read_excel(d / "schedule.xlsx", engine="openpyxl", dtype={"Код врача": str})
    sch.columns = ["doctor_id", "doctor_name", "shift_start", "shift_end", "room"]
    doctors = pd.read_csv(d / "doctors.csv", dtype=str)
    doctors.columns = ["doctor_id", "doctor_name", "specialty"]
    spend = pd.read_excel(d / "marketing_spend.xlsx", engine="openpyxl")
    spend.columns = ["month", "source", "spend"]
    traffic = pd.read_csv(d / "metrika_traffic.csv", encoding="utf-8-sig")
    traffic.columns = ["month", "source", "sessions"]
    patients = csv("mis_patients.csv", "cp1251", ";")
    surveys = pd.read_csv(d / "surveys.csv", dtype={"Код пациента": str, "ID визита": str})
    surveys.columns = ["patient_id", "answered_at", "nps", "csat", "visit_id", "doctor_id"]
    return {"leads": leads, "calls": calls, "bookings": b, "visits": v, "invoices": inv, "schedule": sch,
            "doctors": doctors, "marketing_spend": spend, "site_traffic": traffic, "patients": patients,
            "surveys": surveys}


def measure(folder: Path) -> dict:
    """The planted problems as measured on the raw files (figures quoted in sample_data/README.md)."""
    t = read_raw(folder)
    leads, calls, b, v, inv = t["leads"], t["calls"], t["bookings"], t["visits"], t["invoices"]
    out: dict = {"rows": {k: len(x) for k, x in t.items()}}
    base, cur = (pd.Timestamp(BASE[0]), pd.Timestamp(CURRENT[0])), (pd.Timestamp(CURRENT[0]), END)
    leads = leads.drop_duplicates()
    leads["channel"] = leads.source.map(CHANNEL_MAP)
    linked = b[b.lead_id != ""]
    booked_ids = set(linked.lead_id)
    shown_ids = set(linked.loc[linked.status == "пришёл", "lead_id"])
    leads["booked"] = leads.lead_id.isin(booked_ids)
    leads["shown"] = leads.lead_id.isin(shown_ids)

    def period(df, col, p):
        return df[(df[col] >= p[0]) & (df[col] < p[1])]
    lb, lc = period(leads, "created_at", base), period(leads, "created_at", cur)
    unbooked = lb[~lb.booked]
    out["funnel"] = {
        "leads_base": len(lb), "leads_current": len(lc), "leads_growth": len(lc) / len(lb) - 1,
        "shows_base": int(lb.shown.sum()), "shows_current": int(lc.shown.sum()),
        "shows_growth": lc.shown.sum() / lb.shown.sum() - 1,
        "unbooked_share_base": len(unbooked) / len(lb),
        "unbooked_no_reason_share_base": unbooked.lost_reason.isna().mean(),
        "lead_to_booking_base": lb.booked.mean(), "lead_to_booking_current": lc.booked.mean(),
    }
    # missed calls
    wd, hr = calls.started_at.dt.day_of_week, calls.started_at.dt.hour
    peak = (wd < 5) & hr.isin(PLANTS["peak_hours"])
    missed = ~calls.answered
    out["calls"] = {
        "calls": len(calls), "missed_share": missed.mean(),
        "missed_share_peak_hours": missed[peak].mean(), "missed_share_other_hours": missed[~peak].mean(),
        "missed_called_back_share": calls.called_back_at[missed].notna().mean(),
        "missed_never_called_back": int((missed & calls.called_back_at.isna()).sum()),
    }
    # speed to lead
    resp_min = (leads.first_response_at - leads.created_at).dt.total_seconds() / 60
    is_phone = leads.call_id.notna()
    bucket = pd.cut(resp_min, [-1, 15, 60, 240, 1440, np.inf], labels=["≤15 мин", "15–60 мин", "1–4 ч", "4–24 ч", ">24 ч"])
    bucket = bucket.cat.add_categories("нет ответа").fillna("нет ответа")
    new = leads.channel.isin(CHANNELS)
    out["speed"] = {
        "median_response_min_phone": float(resp_min[is_phone & new].median()),
        "median_response_min_forms": float(resp_min[~is_phone & new].median()),
        "booking_rate_by_response": leads[new].groupby(bucket[new], observed=True).booked.mean().round(3).to_dict(),
        "leads_by_response": leads[new].groupby(bucket[new], observed=True).size().to_dict(),
    }
    # no-shows
    kept = b[b.status.isin(["пришёл", "не пришёл"])].copy()
    kept["ns"] = kept.status == "не пришёл"
    ahead = (kept.slot_start - kept.created_at).dt.total_seconds() / 86400
    agg = kept.lead_id.map(leads.drop_duplicates("lead_id").set_index("lead_id").channel) == "Агрегаторы"
    out["no_show"] = {
        "rate": kept.ns.mean(), "rate_booked_over_7_days_ahead": kept.ns[ahead > 7].mean(),
        "rate_booked_within_7_days": kept.ns[ahead <= 7].mean(), "rate_aggregator_leads": kept.ns[agg].mean(),
        "rate_other": kept.ns[~agg].mean(),
        "rate_base": period(kept, "slot_start", base).ns.mean(), "rate_current": period(kept, "slot_start", cur).ns.mean(),
        "status_shares": b.status.value_counts(normalize=True).round(4).to_dict(),
    }
    # schedule utilisation (booked = completed or no-show) over the whole window and in the current quarter
    sch = t["schedule"]
    mins = (kept.slot_end - kept.slot_start).dt.total_seconds() / 60
    kept["minutes"] = mins
    util = {}
    for name, p in (("all", (START, END)), ("current", cur)):
        offered = period(sch, "shift_start", p).assign(
            m=lambda s: (s.shift_end - s.shift_start).dt.total_seconds() / 60).groupby("doctor_id").m.sum()
        booked = period(kept, "slot_start", p).groupby("doctor_id").minutes.sum()
        util[name] = (booked / offered).round(3).to_dict()
    ev_sch = sch[sch.shift_start.dt.hour == 14]
    ev_off = ev_sch.assign(m=180.0).groupby("doctor_id").m.sum()          # 17:00-20:00 of each evening shift
    ev_kept = kept[(kept.slot_start.dt.hour >= 17) & kept.slot_start.dt.normalize().isin(ev_sch.shift_start.dt.normalize())]
    key = kept.doctor_id + kept.slot_start.astype(str)
    dbl = kept[key.duplicated(keep=False) & (kept.slot_start.dt.hour >= 17)]
    shift_of = pd.merge_asof(kept.sort_values("slot_start"), sch.sort_values("shift_start"), left_on="slot_start",
                             right_on="shift_start", by="doctor_id", direction="backward")
    beyond = shift_of[shift_of.slot_end > shift_of.shift_end]
    out["schedule"] = {
        "utilisation_all": util["all"], "utilisation_current": util["current"],
        "evening_utilisation": (ev_kept.groupby("doctor_id").minutes.sum() / ev_off).round(3).to_dict(),
        "double_booked_after_17": dbl.doctor_id.value_counts().to_dict(),
        "beyond_shift_end": beyond.doctor_id.value_counts().to_dict(),
    }
    # waits and overruns
    wait = (v.started_at - v.checked_in_at).dt.total_seconds() / 60
    vv = v.merge(b[["booking_id", "slot_start", "slot_end"]], on="booking_id", how="left")
    over = ((vv.ended_at - vv.started_at) - (vv.slot_end - vv.slot_start)).dt.total_seconds() / 60
    out["waits"] = {
        "median_wait_min": float(wait.median()), "p90_wait_min": float(wait.quantile(0.9)),
        "share_over_15_min": float((wait > 15).mean()),
        "median_overrun_by_doctor": over.groupby(vv.doctor_id).median().round(1).to_dict(),
        "median_wait_by_doctor": wait.groupby(v.doctor_id).median().round(1).to_dict(),
    }
    # channels: first-touch channel of new patients, spend, CAC, 180-day revenue, ROMI, LTV, repeat
    pay = inv.drop_duplicates()
    first_lead = leads[new & leads.patient_id.notna()].sort_values("created_at").drop_duplicates("patient_id")
    first_pay = pay[pay.amount > 0].groupby("patient_id").paid_at.min()
    np_ = first_lead.assign(first_paid=first_lead.patient_id.map(first_pay)).dropna(subset=["first_paid"])
    pay_m = pay.merge(np_[["patient_id", "channel", "first_paid"]], on="patient_id")
    rev180 = pay_m[pay_m.paid_at < pay_m.first_paid + pd.Timedelta(days=180)].groupby("channel").amount.sum()
    ltv = pay_m.groupby("patient_id").amount.sum().groupby(np_.set_index("patient_id").channel).mean()
    days = pay_m.assign(d=pay_m.paid_at.dt.normalize()).groupby("patient_id").d.nunique()
    repeat = (days >= 2).groupby(np_.set_index("patient_id").channel).mean()
    spend = t["marketing_spend"].assign(channel=lambda s: s.source.map(CHANNEL_MAP)).groupby("channel").spend.sum()
    newp = np_.groupby("channel").size()
    ch = pd.DataFrame({"spend": spend, "new_paying": newp, "revenue_180d": rev180, "ltv_to_date": ltv.round(0),
                       "repeat_share": repeat.round(3)}).reindex(list(CHANNELS))
    ch["cac"] = (ch.spend / ch.new_paying).round(0)
    ch["romi_180d"] = ((ch.revenue_180d - ch.spend) / ch.spend).round(3)
    leads_n = leads[new].groupby("channel").size()
    ch["cpl"] = (ch.spend / leads_n).round(0)
    out["channels"] = ch.round(2).to_dict(orient="index")
    # RFM groups at the end of the current period
    paid = pay[pay.amount > 0].assign(d=lambda s: s.paid_at.dt.normalize())
    per = paid.groupby("patient_id").agg(last=("d", "max"), f=("d", "nunique"))
    per["m"] = pay.groupby("patient_id").amount.sum()
    rec = (END - pd.Timedelta(days=1) - per["last"]).dt.days
    former = per[(per.f >= 6) & (per.m >= 60_000) & (rec >= 180)]
    vis = v.sort_values("checked_in_at")
    gaps = vis.groupby("patient_id").checked_in_at.diff().dt.days
    gap_med = gaps[gaps > 45].groupby(vis.patient_id).median()
    n_vis = vis.groupby("patient_id").size()
    chronic = gap_med[(gap_med.between(80, 100)) & (n_vis.reindex(gap_med.index) >= 4)]
    score = {k: pd.qcut(s.rank(method="first"), 3, labels=[1, 2, 3]).astype(int)
             for k, s in (("r", -rec), ("f", per.f), ("m", per.m))}
    r1f3m3 = int(((score["r"] == 1) & (score["f"] == 3) & (score["m"] == 3)).sum())
    out["rfm"] = {"paying_patients": len(per), "former_best": len(former), "r1f3m3_terciles": r1f3m3,
                  "former_best_median_visits": float(former.f.median()), "former_best_median_paid": float(former.m.median()),
                  "chronic_90_day": len(chronic)}
    # data faults
    lead_set = set(leads.lead_id)
    orphan_b = linked[~linked.lead_id.isin(lead_set)]
    with_visit = inv[inv.visit_id != ""]
    orphan_i = with_visit[~with_visit.visit_id.isin(set(v.visit_id))]
    comp = b[b.status == "пришёл"].groupby(b.slot_start.dt.to_period("M")).size()
    vis_m = v.groupby(v.checked_in_at.dt.to_period("M")).size()
    diff = ((vis_m - comp) / comp).round(3)
    out["quality"] = {
        "bookings_missing_lead": len(orphan_b), "share_of_lead_linked_bookings": len(orphan_b) / len(linked),
        "share_of_all_bookings": len(orphan_b) / len(b),
        "invoices_missing_visit": len(orphan_i), "share_of_invoices_with_visit_id": len(orphan_i) / len(with_visit),
        "invoices_without_visit_id": int((inv.visit_id == "").sum()),
        "visits_vs_completed_worst_month": str(diff.abs().idxmax()), "worst_month_diff": float(diff[diff.abs().idxmax()]),
        "other_months_max_abs_diff": float(diff.drop(diff.abs().idxmax()).abs().max()),
        "worst_month_counts": (int(comp[diff.abs().idxmax()]), int(vis_m[diff.abs().idxmax()])),
        "duplicate_invoice_rows": int(inv.duplicated().sum()), "duplicate_lead_rows": int(t["leads"].duplicated().sum()),
        "refund_rows": int((inv.amount < 0).sum()), "refund_total": float(-inv.amount[inv.amount < 0].sum()),
        "bookings_without_slot_minutes": int((b.slot_minutes == "").sum()),
    }
    s = t["surveys"]
    out["surveys"] = {"answers": len(s), "nps": float(((s.nps >= 9).mean() - (s.nps <= 6).mean()) * 100),
                      "csat_satisfied": float((s.csat >= 4).mean())}
    out["revenue"] = {"total": float(pay.amount.sum()),
                      "base": float(period(pay, "paid_at", base).amount.sum()),
                      "current": float(period(pay, "paid_at", cur).amount.sum())}
    return out
