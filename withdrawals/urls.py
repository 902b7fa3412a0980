from django.urls import include, path

urlpatterns = [
    path("", include("withdrawals.api.address_urls")),
    path("", include("withdrawals.api.order_urls")),
]
