"""REST routes of the campaigns app (filled in by the API issue)."""

urlpatterns: list = []
