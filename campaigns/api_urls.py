"""REST routes of the campaigns app (included under /api/v1/).

``/api/v1/campaigns/`` itself is routed by ``approvals.api_urls``: it serves this app's
``CampaignViewSet`` extended with the review transitions (approvals sits above campaigns).
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from campaigns.audiences.api import AudienceViewSet, RecipientViewSet
from campaigns.sending.api import (
    CampaignDispatchListView,
    DeliveryViewSet,
    DispatchViewSet,
    ResumeView,
    StopView,
)
from campaigns.sending.api_calendar import CalendarView

router = DefaultRouter()
router.include_root_view = False
router.register("recipients", RecipientViewSet, basename="recipient")
router.register("audiences", AudienceViewSet, basename="audience")
router.register("dispatches", DispatchViewSet, basename="dispatch")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    # Before the campaign routes (approvals.api_urls, included after this module by
    # config.api_urls), which would read "dispatches" as an action.
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
