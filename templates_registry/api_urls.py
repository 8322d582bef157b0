"""REST routes of the templates registry (filled in by the API issue)."""

urlpatterns: list = []
