"""Date, time and number formats per language (settings.FORMAT_MODULE_PATH; README, "Languages").

The weekday abbreviations below are Django's own msgids (django.utils.dates.WEEKDAYS_ABBR,
used by the "D" date format). They are listed here only so that ``makemessages`` keeps them
in Crier's catalogue, where zh-Hans reads them 周一…周日 as the issue asks and as Chinese
schedules print them; Django's catalogue says 星期一…星期日, and a project's LOCALE_PATHS
catalogue takes precedence over Django's.
"""

from django.utils.translation import gettext_noop

WEEKDAY_ABBREVIATIONS = (
    gettext_noop("Mon"),
    gettext_noop("Tue"),
    gettext_noop("Wed"),
    gettext_noop("Thu"),
    gettext_noop("Fri"),
    gettext_noop("Sat"),
    gettext_noop("Sun"),
)
