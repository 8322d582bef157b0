"""REST routes of the approvals app (included under /api/v1/)."""

from rest_framework.routers import DefaultRouter

from approvals.api import ReviewViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("reviews", ReviewViewSet, basename="review")

urlpatterns = router.urls
