from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import api_errors
from staff.views import StaffLoginView
from withdrawals_site import health, metrics
from withdrawals_site.desk.views import desk_index

api_v1 = [
    path("", include("customers.urls")),
    path("", include("chains.urls")),
    path("", include("ledger.urls")),
    path("", include("withdrawals.urls")),
    path("", include("fiat.urls")),
    path("", include("p2p.urls")),
    path("", include("tax.urls")),
]

urlpatterns = [
    # The admin login asks for the authenticator code too; enrolment and re-verification (staff/).
    path("admin/login/", StaffLoginView.as_view(), name="staff-login"),
    path("admin/2fa/", include("staff.urls")),
    path("admin/2fa/passkeys/", include("staff.webauthn")),
    # The admin index is the operations desk; Django's list of models moves to admin/apps/.
    path("admin/", admin.site.admin_view(desk_index), name="desk"),
    path("admin/apps/", admin.site.admin_view(admin.site.index), name="desk-apps"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script from its own URL: no inline script (CSP script-src 'self').
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("health/", health.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),  # Prometheus' default path, token or staff (docs/METRICS.md)
    # Unknown API URLs answer in the error shape even with DEBUG on (handler404 only acts without it).
    re_path(r"^api/", api_errors.json_404),
]

handler404 = "core.api_errors.json_404"
handler500 = "core.api_errors.json_500"
