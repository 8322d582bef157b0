"""The zh-Hans catalogue is complete and current (README, "Languages").

* every entry is translated and none is fuzzy (a fuzzy entry is not used by gettext, so the
  page would show English);
* every translation keeps the msgid's placeholders (``%(name)s``), or formatting would fail;
* the committed .mo is compiled from the committed .po;
* ``makemessages`` run on the source now adds no msgid the catalogue lacks. That one is
  marked ``catalogue``: it fails whenever someone marks a new string and has not yet
  translated it (``make messages``, then translate the new entries).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdrf]")
# The folders makemessages skips, as the Makefile's `messages` target does.
IGNORED = [".venv", "bench", "tests", "scripts", "var"]


def catalogue() -> polib.POFile:
    return polib.pofile(str(PO))


def test_every_entry_of_the_zh_hans_catalogue_is_translated_and_none_is_fuzzy():
    po = catalogue()
    assert len(po) > 300
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"{len(untranslated)} untranslated: {untranslated[:20]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy: {fuzzy[:20]}"
    assert not po.metadata_is_fuzzy, "a fuzzy header is skipped by msgfmt (charset, plural forms)"
    assert po.metadata["Plural-Forms"].startswith("nplurals=1;")


def test_every_translation_keeps_the_placeholders_of_its_msgid():
    wrong = []
    for entry in catalogue().translated_entries():
        wanted = set(PLACEHOLDER.findall(entry.msgid)) | set(PLACEHOLDER.findall(entry.msgid_plural or ""))
        for text in [entry.msgstr, *entry.msgstr_plural.values()]:
            if text and set(PLACEHOLDER.findall(text)) != wanted:
                wrong.append((entry.msgid, text))
    assert not wrong, wrong[:10]


def test_the_committed_mo_is_compiled_from_the_committed_po():
    compiled = {(e.msgctxt, e.msgid): (e.msgstr or e.msgstr_plural.get(0, "")) for e in polib.mofile(str(MO))}
    source = {
        (e.msgctxt, e.msgid): (e.msgstr or e.msgstr_plural.get(0, ""))
        for e in catalogue().translated_entries()
    }
    assert compiled == source, "run `make messages` and commit locale/"


@pytest.mark.catalogue
def test_makemessages_would_add_nothing_the_catalogue_lacks(tmp_path):
    if not shutil.which("xgettext"):
        pytest.fail("no xgettext: apt-get install gettext (.ci/run installs it)")
    # makemessages writes into the project's locale/ folders; run it on a copy of the
    # source, so the repository is untouched, with the committed catalogue as its start.
    copy = tmp_path / "src"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(*IGNORED, ".git", "*.pyc", "__pycache__", "db.sqlite3*"),
    )
    ignore = [f"--ignore={name}" for name in IGNORED]
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", *ignore],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "1", "CRIER_ENV_FILE": "",
             "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    known = {(e.msgctxt, e.msgid) for e in catalogue() if not e.obsolete}
    missing = sorted(e.msgid for e in fresh if not e.obsolete and (e.msgctxt, e.msgid) not in known)
    new = [e.msgid for e in fresh.untranslated_entries() + fresh.fuzzy_entries() if not e.obsolete]
    assert not missing, f"{len(missing)} msgids missing from the catalogue (make messages): {missing[:30]}"
    assert not new, f"{len(new)} msgids untranslated or fuzzy after makemessages: {new[:30]}"
