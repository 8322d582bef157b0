"""REST routes of the campaigns app (included under /api/v1/)."""

from rest_framework.routers import DefaultRouter

from campaigns.api import CampaignViewSet
from campaigns.api_audiences import AudienceViewSet, RecipientViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("recipients", RecipientViewSet, basename="recipient")
router.register("audiences", AudienceViewSet, basename="audience")
router.register("campaigns", CampaignViewSet, basename="campaign")

urlpatterns = [*router.urls]
