"""Campaign schedules: read, check and expand them; the provider limits on pending schedules."""
