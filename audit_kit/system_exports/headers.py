"""System headers and vocabularies of the exports, verbatim from ../shared/EXPORTS.md."""
from __future__ import annotations





TIMEZONE = "Europe/Moscow"
MANAGER = "Администратор Тестовый"

# ---------------------------------------------------------------- system headers (EXPORTS.md, verbatim)
AMOCRM_SYSTEM = (
    "ID", "Название сделки", "Бюджет ", "Ответственный", "Дата создания сделки", "Кем создана сделка",
    "Дата редактирования", "Кем редактирована", "Дата закрытия", "Теги", "Примечание", "Примечание 2",
    "Примечание 3", "Примечание 4", "Примечание 5", "Этап сделки", "Воронка", "Полное имя контакта",
    "Компания контакта", "Ответственный за контакт", "Компания", "Рабочий телефон", "Рабочий прямой телефон",
    "Мобильный телефон", "Факс", "Домашний телефон", "Другой телефон", "Рабочий email", "Личный email",
    "Другой email", "Город", "Источник", "Должность", "Товар",
)
# The account's own fields after the system ones: UTM fields, the clinic's medical-card number (mapped by
# one `columns:` line), the refusal reason, and the contact's «Источник» (the second header of that name).
AMOCRM_CUSTOM = ("utm_source", "utm_medium", "utm_campaign", "Номер медкарты", "Причина отказа", "Источник")
AMOCRM_WON, AMOCRM_LOST = "Успешно реализовано", "Закрыто и не реализовано"
AMOCRM_OPEN = ("Первичный контакт", "Записан на приём")
AMOCRM_NOT_CLOSED = "не закрыта"
AMOCRM_PIPELINE = "Основная воронка"

BITRIX_LEADS = (
    "ID", "Название лида", "Имя", "Фамилия", "Отчество", "Дата рождения", "Рабочий телефон", "Мобильный телефон",
    "Рабочий e-mail", "Частный e-mail", "Стадия", "Дополнительно о стадии", "Возможная сумма", "Валюта",
    "Источник", "Дополнительно об источнике", "Ответственный",
)
BITRIX_LEAD_WON, BITRIX_LEAD_LOST = "Качественный лид", "Некачественный лид"
BITRIX_LEAD_OPEN = ("В работе", "Не обработан")
BITRIX_DEALS = (
    "ID", "Название сделки", "Стадия сделки", "Воронка", "Сумма", "Валюта", "Дата создания", "Дата изменения",
    "Дата начала", "Предполагаемая дата закрытия", "Ответственный", "Товар", "Контакт: ID",
    "Компания: Название компании", "UTM Source", "UTM Medium", "UTM Campaign",
)
BITRIX_DEAL_WON, BITRIX_DEAL_LOST = "Сделка успешна", "Сделка провалена"
BITRIX_DEAL_OPEN = ("Записан", "Недозвон")
BITRIX_PIPELINE = "Общая"
BITRIX_CURRENCY = "Российский рубль"

CALLTOUCH_API = (
    "callId", "date", "callerNumber", "phoneNumber", "redirectNumber", "duration", "waitingConnect", "successful",
    "uniqueCall", "targetCall", "uniqTargetCall", "callbackCall", "source", "medium", "utmSource", "utmMedium",
    "utmCampaign", "utmContent", "utmTerm", "keyword", "city", "yaClientId", "sessionId", "statusDetails",
    "manager", "callTags",
)
CALLTOUCH_JOURNAL = (
    "Номер звонка", "Звонивший", "Источник", "utm_source", "utm_medium", "utm_campaign", "Дата", "Длительность",
    "Ожидание", "Куда звонили", "Статус",
)
CALLTOUCH_EMPTY = "<не указано>"
COMAGIC_CALLS = (
    "id", "start_time", "finish_time", "direction", "is_lost", "finish_reason", "wait_duration", "talk_duration",
    "total_duration", "clean_talk_duration", "contact_phone_number", "virtual_phone_number", "visitor_id",
    "ua_client_id", "channel", "source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "campaign_name", "search_query", "referrer", "tags", "employees", "last_answered_employee_full_name",
)
MANGO_FIELDS = (
    "records", "start", "finish", "answer", "from_extension", "from_number", "to_extension", "to_number",
    "disconnect_reason", "line_number", "location", "entry_id",
)
ROISTAT_CALLS = ("id", "caller", "callee", "date", "duration", "status", "link", "visit_id", "marker",
                 "script_name", "order_id")
ROISTAT_MISSED = ("NOANSWER", "BUSY", "CANCEL")

DIRECT_MASTER = (
    "Дата", "Кампания", "№ Кампании", "Группа", "№ Группы", "№ Объявления", "Условие показа", "Показы", "Клики",
    "CTR (%)", "Расход (руб.)", "Ср. цена клика (руб.)", "Глубина (стр.)", "Отказы (%)", "Конверсии",
    "Конверсия (%)", "Цена цели (руб.)",
)
DIRECT_MASTER_COST_VARIANT = "Расход всего (руб.)"
DIRECT_MASTER_TOTAL = "Итого"
DIRECT_API = ("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost")

METRIKA_UI_METRICS = ("Визиты", "Посетители", "Отказы", "Глубина просмотра", "Время на сайте")
METRIKA_UI_DIMENSION = "Источник трафика"
METRIKA_TOTAL = "Итого и средние"
METRIKA_LOGS = (
    "ym:s:visitID", "ym:s:clientID", "ym:s:date", "ym:s:dateTime", "ym:s:isNewUser", "ym:s:startURL",
    "ym:s:pageViews", "ym:s:visitDuration", "ym:s:bounce", "ym:s:lastTrafficSource", "ym:s:lastAdvEngine",
    "ym:s:lastUTMSource", "ym:s:lastUTMMedium", "ym:s:lastUTMCampaign",
)
# UI source labels (EXPORTS.md) -> the TrafficSource identifiers the Logs API writes in ym:s:lastTrafficSource.
# The identifiers are not in EXPORTS.md: they are Metrika's documented TrafficSource values
# (yandex.ru/dev/metrika/ru/management/table-source).
METRIKA_SOURCE_IDS = {
    "Переходы из поисковых систем": "organic",
    "Переходы по рекламе": "ad",
    "Прямые заходы": "direct",
    "Переходы по ссылкам на сайтах": "referral",
    "Внутренние переходы": "internal",
    "Переходы из социальных сетей": "social",
    "Переходы из рекомендательных систем": "recommend",
    "Переходы из мессенджеров": "messenger",
    "Переходы по email-рассылкам": "email",
    "Переходы с сохранённых страниц": "saved",
}
