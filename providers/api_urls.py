"""REST routes of the providers app (included under /api/v1/)."""

from rest_framework.routers import DefaultRouter

from providers.api import ProviderAccountViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("provider-accounts", ProviderAccountViewSet, basename="provider-account")

urlpatterns = router.urls
