"""REST routes of the providers app (filled in by the API issue)."""

urlpatterns: list = []
