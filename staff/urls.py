from django.urls import path

from staff import views

app_name = "staff"

urlpatterns = [
    path("verify/", views.verify_view, name="verify"),
    path("enrol/", views.enrol_view, name="enrol"),
    path("devices/", views.devices_view, name="devices"),
]
