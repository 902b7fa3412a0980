from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = "Staff second factor"
    default_auto_field = "django.db.models.BigAutoField"
