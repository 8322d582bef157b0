"""REST routes of the approvals app (included under /api/v1/): reviews, campaigns with
their review transitions (the campaigns app leaves the ``campaigns`` route to this one), and
the confirm / cancel actions on held dispatches (``dispatches/{id}/confirm/``, ``…/cancel/``:
only those two; the campaigns app routes the dispatches themselves)."""

from rest_framework.routers import DefaultRouter

from approvals.api import ReviewedCampaignViewSet, ReviewViewSet
from approvals.api_holds import HeldDispatchViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("campaigns", ReviewedCampaignViewSet, basename="campaign")
router.register("reviews", ReviewViewSet, basename="review")
router.register("dispatches", HeldDispatchViewSet, basename="dispatch-hold")

urlpatterns = router.urls
