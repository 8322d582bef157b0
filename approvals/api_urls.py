"""REST routes of the approvals app (filled in by the API issue)."""

urlpatterns: list = []
