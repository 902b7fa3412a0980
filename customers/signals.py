"""A user's password change freezes their payouts.

Django sends no signal on ``set_password``. ``pre_save`` compares the hash about to be saved with
the stored one (one query, only when the password column is written), ``post_save`` freezes.
Not counted: a new user, a save that does not write the password, and Django's own hash upgrade
at login (``check_password``'s setter: ``_password`` cleared, ``update_fields=["password"]``),
which rewrites the hash of the same password.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="customers.password_change_seen")
def _password_change_seen(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._customers_password_changed = False
    if raw or instance.pk is None or instance._state.adding:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    rehash = getattr(instance, "_password", None) is None and update_fields is not None
    if rehash:
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._customers_password_changed = stored is not None and stored != instance.password


@receiver(post_save, sender=User, dispatch_uid="customers.password_change_freezes")
def _password_change_freezes(sender, instance, created=False, raw=False, **kwargs):
    if not getattr(instance, "_customers_password_changed", False):
        return
    instance._customers_password_changed = False
    from customers.models import Customer
    from customers.services import customer_freeze_payouts

    customer_id = Customer.objects.filter(user_id=instance.pk).values_list("pk", flat=True).first()
    if customer_id is not None:
        customer_freeze_payouts(customer=customer_id, reason="Password changed")
