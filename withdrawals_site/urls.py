from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from withdrawals_site import health

api_v1 = [
    path("", include("customers.urls")),
    path("", include("chains.urls")),
    path("", include("ledger.urls")),
    path("", include("withdrawals.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("health/", health.health, name="health"),
]

handler404 = "withdrawals_site.api_errors.json_404"
handler500 = "withdrawals_site.api_errors.json_500"
