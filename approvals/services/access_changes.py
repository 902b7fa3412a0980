"""Changes of who may do what are four-eyed (docs/SECURITY.md, work order ``atm.staff.access_change``).

What loosens access waits for a second person: staff or superuser status granted, a deactivated
staff account activated, a group added to a user, a permission added to a user or a group. What
tightens applies at once: a flag turned off, a group or permission removed. The second person is
a member of the flow's group (Configuration checkers by default), never the requester and never
the account whose access changes. Every write is also recorded by the pghistory triggers of the
auth tables (customers.TrackedUser & co.), with the actor and the work order in the context.

The demo's setup (``seed_demo``, ``withdrawals_site.roles.role_grant``) writes users and groups
directly: it is the installation's starting state, not a staff action.
"""

from __future__ import annotations

import logging

import pghistory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from approvals.models import AccessChange, WorkOrderType
from core.errors import DomainError
from core.transitions import locked, transition_apply

logger = logging.getLogger(__name__)
Status = AccessChange.Status
FLAGS = ("is_staff", "is_superuser", "is_active")


def _dotted(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _permissions(dotted: list[str]) -> list[Permission]:
    rows = []
    for name in dotted:
        app_label, codename = name.split(".", 1)
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is None:
            raise DomainError("config_change_stale", f"The permission {name} no longer exists.")
        rows.append(permission)
    return rows


def _flag_loosens(name: str, old: bool, new: bool, *, staff: bool) -> bool:
    """A flag turned on loosens access; ``is_active`` only for a staff account (a customer's
    App login is not staff access)."""
    if not new or old:
        return False
    return name != "is_active" or staff


def access_change_propose(*, actor, user=None, group=None, flags: dict[str, bool] | None = None,
                          groups=None, permissions=None, reason: str = "") -> AccessChange | None:
    """Propose new access for ``user`` (``flags``: is_staff / is_superuser / is_active; ``groups``
    and ``permissions``: the complete new sets, or None for unchanged) or for ``group`` (its
    ``permissions``). What tightens applies at once, what loosens waits (``AccessChange`` pending
    with its work order ``atm.staff.access_change``). Nothing changed: None.

    Refusals (nothing changes): ``permission_denied`` (no person proposes), ``validation_error``
    (a superuser granted outside the demo: there is none, staff get roles; a user and a group at
    once).
    """
    from approvals.services.work_orders import work_order_open

    if actor is None or not actor.is_authenticated:
        raise DomainError("permission_denied", "An access change needs a person who requests it.")
    if (user is None) == (group is None):
        raise DomainError("validation_error", "An access change is about one user or one group.")
    flags = dict(flags or {})
    if group is not None and (flags or groups is not None):
        raise DomainError("validation_error", "A group has permissions only.")
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise DomainError("validation_error", f"Not an access flag: {', '.join(sorted(unknown))}.")

    with transaction.atomic(), pghistory.context(user=actor.pk, reason=reason or None):
        target = locked(get_user_model(), user.pk) if user is not None else locked(Group, group.pk)
        waiting: dict = {}
        at_once: dict = {}
        if user is not None:
            staff_after = flags.get("is_staff", target.is_staff)
            for name, new in sorted(flags.items()):
                old = getattr(target, name)
                if bool(new) == old:
                    continue
                if _flag_loosens(name, old, bool(new), staff=staff_after or target.is_staff):
                    if name == "is_superuser" and not settings.DEBUG:
                        raise DomainError(
                            "validation_error", "Outside the demo there is no superuser (it would bypass the "
                            "four-eyes flows, and the console refuses to start while one is active): give the "
                            "account roles instead (docs/ROLES.md).", field="is_superuser")
                    waiting.setdefault("flags", {})[name] = True
                else:
                    at_once.setdefault("flags", {})[name] = bool(new)
            if groups is not None:
                current = {g.pk: g.name for g in target.groups.all()}
                wanted = {g.pk: g.name for g in groups}
                added = {str(pk): name for pk, name in wanted.items() if pk not in current}
                removed = {str(pk): name for pk, name in current.items() if pk not in wanted}
                if added:
                    waiting["groups"] = added
                if removed:
                    at_once["groups"] = removed
        if permissions is not None:
            holder = target.user_permissions if user is not None else target.permissions
            current_perms = {_dotted(p) for p in holder.select_related("content_type")}
            wanted_perms = {_dotted(p) for p in Permission.objects.filter(
                pk__in=[p.pk for p in permissions]).select_related("content_type")}
            if wanted_perms - current_perms:
                waiting["permissions"] = sorted(wanted_perms - current_perms)
            if current_perms - wanted_perms:
                at_once["permissions"] = sorted(current_perms - wanted_perms)
        if not waiting and not at_once:
            return None

        label = f"user {target.get_username()}" if user is not None else f"group {target.name}"
        change = AccessChange.objects.create(
            user=target if user is not None else None, group=target if group is not None else None,
            target_label=label, changes=waiting, applied_at_once=at_once, maker=actor, reason=reason,
            status=Status.PENDING if waiting else Status.APPLIED, decided_at=None if waiting else timezone.now())
        pghistory.context(access_change=change.pk)
        _remove(target, at_once, user=user is not None)
        if waiting:
            change.work_order = work_order_open(type=WorkOrderType.STAFF_ACCESS_CHANGE, subject=change, maker=actor)
            change.save(update_fields=["work_order"])
    logger.info("access change %s by %s: at once %s, waiting %s", change.pk, actor, at_once, waiting)
    return change


def _remove(target, at_once: dict, *, user: bool) -> None:
    """Apply the tightening part: flags as given (off), groups and permissions removed."""
    flags = at_once.get("flags") or {}
    if flags:
        for name, value in flags.items():
            setattr(target, name, value)
        target.save(update_fields=sorted(flags))
    if at_once.get("groups"):
        target.groups.remove(*[int(pk) for pk in at_once["groups"]])
    if at_once.get("permissions"):
        holder = target.user_permissions if user else target.permissions
        holder.remove(*_permissions(at_once["permissions"]))


def access_change_checker_problems(change: AccessChange, actor) -> list[str]:
    """Why ``actor`` may not approve the change although the engine lets them decide the step:
    the account concerned never approves its own access (even when a colleague requested it)."""
    if actor is not None and change.user_id is not None and actor.pk == change.user_id:
        return [f"{change.target_label} is your own account: another person approves your access."]
    return []


def access_change_apply(*, change_id: int, actor) -> AccessChange:
    """Apply a waiting change (its work order was approved by ``actor``): the flags turned on, the
    groups and permissions added. Refused (nothing changes): ``maker_cannot_approve`` (the actor
    is the requester or the account concerned), ``config_change_stale`` (a group or permission
    of the request no longer exists)."""
    with transaction.atomic():
        change = locked(AccessChange, change_id)
        if actor is not None and actor.pk == change.maker_id:
            raise DomainError("maker_cannot_approve", "The requester of an access change cannot approve it.")
        problems = access_change_checker_problems(change, actor)
        if problems:
            raise DomainError("maker_cannot_approve", " ".join(problems))
        with pghistory.context(user=actor.pk if actor else None, proposed_by=change.maker_id,
                               access_change=change.pk, work_order=change.work_order_id,
                               reason=change.reason or None):
            waiting = change.changes
            if change.user_id is not None:
                target = locked(get_user_model(), change.user_id)
                flags = waiting.get("flags") or {}
                if flags:
                    if flags.get("is_superuser") and not settings.DEBUG:
                        raise DomainError("validation_error", "Outside the demo there is no superuser.",
                                          field="is_superuser")
                    for name, value in flags.items():
                        setattr(target, name, value)
                    target.save(update_fields=sorted(flags))
                if waiting.get("groups"):
                    ids = [int(pk) for pk in waiting["groups"]]
                    existing = set(Group.objects.filter(pk__in=ids).values_list("pk", flat=True))
                    gone = [name for pk, name in waiting["groups"].items() if int(pk) not in existing]
                    if gone:
                        raise DomainError("config_change_stale", f"The group(s) {', '.join(gone)} no longer exist.")
                    target.groups.add(*ids)
                if waiting.get("permissions"):
                    target.user_permissions.add(*_permissions(waiting["permissions"]))
            else:
                target = locked(Group, change.group_id)
                if waiting.get("permissions"):
                    target.permissions.add(*_permissions(waiting["permissions"]))
        change.decided_at, change.decided_by = timezone.now(), actor
        transition_apply(change, "apply", actor=actor, reason=f"Approved in WO{change.work_order_id}.",
                         fields=("decided_at", "decided_by"))
    logger.info("access change %s applied, approved by %s", change.pk, actor)
    return change


def access_change_close(*, change_id: int, actor, reason: str) -> AccessChange:
    """The work order was rejected: what waited is never applied."""
    with transaction.atomic():
        change = locked(AccessChange, change_id)
        change.decided_at, change.decided_by = timezone.now(), actor
        transition_apply(change, "reject", actor=actor, reason=reason, fields=("decided_at", "decided_by"))
    return change
