from django.urls import path

from withdrawals.api import addresses

urlpatterns = [
    path("addresses/", addresses.AddressListCreateApi.as_view(), name="addresses"),
    path("addresses/<int:address_id>/", addresses.AddressDetailApi.as_view(), name="address-detail"),
    path("addresses/<int:address_id>/challenge/", addresses.AddressChallengeApi.as_view(), name="address-challenge"),
    path("addresses/<int:address_id>/verify/", addresses.AddressVerifyApi.as_view(), name="address-verify"),
]
