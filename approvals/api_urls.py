"""REST routes of the approvals app (included under /api/v1/): reviews, and campaigns with
their review transitions (the campaigns app leaves the ``campaigns`` route to this one)."""

from rest_framework.routers import DefaultRouter

from approvals.api import ReviewedCampaignViewSet, ReviewViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("campaigns", ReviewedCampaignViewSet, basename="campaign")
router.register("reviews", ReviewViewSet, basename="review")

urlpatterns = router.urls
