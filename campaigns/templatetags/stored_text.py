"""``{{ dispatch.detail|in_reader_language }}``: a stored English sentence in the reader's
language (campaigns/stored_text.py)."""

from __future__ import annotations

from django import template

from campaigns.stored_text import in_reader_language

register = template.Library()
register.filter("in_reader_language", in_reader_language)
