"""REST routes of the campaigns app (included under /api/v1/)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from campaigns.api import CampaignViewSet
from campaigns.audiences.api import AudienceViewSet, RecipientViewSet
from campaigns.sending.api import (
    CalendarView,
    CampaignDispatchListView,
    DeliveryViewSet,
    DispatchViewSet,
    ResumeView,
    StopView,
)

router = DefaultRouter()
router.include_root_view = False
router.register("recipients", RecipientViewSet, basename="recipient")
router.register("audiences", AudienceViewSet, basename="audience")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("dispatches", DispatchViewSet, basename="dispatch")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    # Before the router's campaign routes, which would read "dispatches" as an action.
    path(
        "campaigns/<int:campaign_id>/dispatches/",
        CampaignDispatchListView.as_view(),
        name="campaign-dispatches",
    ),
    path("calendar/", CalendarView.as_view(), name="calendar"),
    path("stop/", StopView.as_view(), name="send-stop"),
    path("resume/", ResumeView.as_view(), name="send-resume"),
    *router.urls,
]
