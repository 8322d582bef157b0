"""Dates and times for zh-Hans readers (README, "Languages"): 2026年12月7日 周一 09:00.

Django's own zh_Hans formats (django/conf/locale/zh_Hans/formats.py) write dates as
"Y年n月j日" and times as "H:i"; Crier adds the weekday, which matters when a campaign is
scheduled (the "D" format character gives 周一…周日 from Django's zh_Hans catalogue).
Everything not set here falls back to Django's zh_Hans module.
"""

DATE_FORMAT = "Y年n月j日"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y年n月j日 D H:i"
YEAR_MONTH_FORMAT = "Y年n月"
MONTH_DAY_FORMAT = "n月j日"
SHORT_DATE_FORMAT = "Y年n月j日"
SHORT_DATETIME_FORMAT = "Y年n月j日 H:i"
FIRST_DAY_OF_WEEK = 1  # Monday, as Chinese calendars start the week
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
