from core.errors import DomainError
from customers.models import Customer, Tenant


def tenant_get_current() -> Tenant:
    """The console serves one tenant (the broker that runs it)."""
    tenant = Tenant.objects.order_by("id").first()
    if tenant is None:
        raise DomainError("not_found", "No tenant is configured: run `manage.py seed_demo` or add one in the admin.")
    return tenant


def customer_for_user(user) -> Customer | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.customer
    except Customer.DoesNotExist:
        return None
