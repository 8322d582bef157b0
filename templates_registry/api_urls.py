"""REST routes of the templates registry (included under /api/v1/)."""

from rest_framework.routers import DefaultRouter

from templates_registry.api import TemplateViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("templates", TemplateViewSet, basename="template")

urlpatterns = router.urls
