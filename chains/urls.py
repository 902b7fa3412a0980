from django.urls import path

from chains.api import CoinsView

urlpatterns = [
    path("coins/", CoinsView.as_view(), name="coins"),
]
