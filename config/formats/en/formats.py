"""Dates and times for English readers (README, "Languages"): Mon, Dec 7, 2026, 09:00.

A 24-hour clock and the weekday, like the zh-Hans formats beside this module, so that a
campaign's due time reads the same way in both languages. Everything not set here falls
back to Django's en formats (django/conf/locale/en/formats.py).
"""

DATE_FORMAT = "N j, Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "D, N j, Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "F j"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
FIRST_DAY_OF_WEEK = 1
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
