from rest_framework.permissions import BasePermission

from customers.selectors import customer_for_user


class IsCustomer(BasePermission):
    """App endpoints are for customers; staff use the admin. Sets ``request.customer``."""

    message = "This endpoint is for App customers."

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        request.customer = customer_for_user(request.user)
        return request.customer is not None
