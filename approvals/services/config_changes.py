"""Configuration changes: what tightens applies at once, what loosens waits for a second person
(work order ``atm.config.change``; docs/APPROVALS.md). Every write is also recorded by the
pghistory triggers, with the actor in the history context."""

from __future__ import annotations

import copy
import logging
from decimal import Decimal

import pghistory
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.utils import timezone

from approvals.loosening import is_config_model, loosening_reason
from approvals.models import ApprovalFlow, ConfigChange, WorkOrderType
from core.errors import DomainError
from core.transitions import locked, transition_apply

logger = logging.getLogger(__name__)
Status = ConfigChange.Status


def _dump(value):
    """A field value as JSON: decimals as exact strings without trailing zeros."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _field(model, name: str) -> models.Field:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        field = next((f for f in model._meta.concrete_fields if f.attname == name), None)
    if field is None or not field.concrete or field.primary_key or not field.editable:
        raise DomainError("validation_error", f"{model._meta.verbose_name} has no editable field {name!r}.",
                          field=name)
    return field


def _load(field: models.Field, value):
    if isinstance(value, models.Model):
        value = value.pk
    return field.to_python(value)


def _clean(obj) -> None:
    """The model's own checks (``clean()`` and field validation) on the values the row would hold."""
    try:
        # The one-active-flow-per-type constraint is what activation itself takes care of.
        obj.full_clean(validate_constraints=not isinstance(obj, ApprovalFlow))
    except ValidationError as error:
        messages = getattr(error, "message_dict", {"__all__": error.messages})
        field = next(iter(messages))
        detail = "; ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in messages.items())
        raise DomainError("validation_error", detail, field=None if field == "__all__" else field)


def _write(obj, values: dict[str, object], *, updated_by) -> None:
    """Set and save ``values`` (attname -> value) with the auto_now fields and ``updated_by``."""
    names = []
    for attname, value in values.items():
        setattr(obj, attname, value)
        names.append(_field(type(obj), attname).name)
    model_fields = {f.name for f in type(obj)._meta.concrete_fields}
    if "updated_by" in model_fields and updated_by is not None:
        obj.updated_by = updated_by
        names.append("updated_by")
    names += [f.name for f in type(obj)._meta.concrete_fields if getattr(f, "auto_now", False)]
    obj.save(update_fields=sorted(set(names)))


def config_change_propose(*, target, changes: dict, actor, reason: str = "") -> ConfigChange | None:
    """Propose new values for fields of ``target`` (a coin, network, price, risk-list entry,
    customer or approval flow): ``changes`` maps a field (name or attname) to its new value.

    Unchanged fields are dropped (nothing changed: None). Fields whose change tightens a control
    (or touches none) are applied at once; fields whose change loosens one (approvals.loosening)
    wait in a ``ConfigChange`` whose work order ``atm.config.change`` a second person approves.
    If applying only the tightening part would leave the row invalid (e.g. a minimum raised above
    the current maximum while the maximum's raise waits), every field waits. Refusals (nothing
    changes): ``validation_error`` (the values break the model's checks), ``config_change_pending``
    (a waiting change of the same target already holds one of the fields).
    """
    from approvals.services.work_orders import work_order_open

    model = type(target)
    if not is_config_model(model):
        raise DomainError("validation_error", f"{model._meta.verbose_name} is not a configuration model.")
    if actor is None or not actor.is_authenticated:
        raise DomainError("permission_denied", "A configuration change needs a person who proposes it.")
    with transaction.atomic(), pghistory.context(user=actor.pk, reason=reason or None):
        current = locked(model, target.pk)
        fields = {name: _field(model, name) for name in changes}
        diff: dict[str, tuple] = {}
        for name, field in fields.items():
            old, new = getattr(current, field.attname), _load(field, changes[name])
            if old != new:
                diff[field.attname] = (old, new)
        if not diff:
            return None

        final = copy.copy(current)
        for attname, (_, new) in diff.items():
            setattr(final, attname, new)
        _clean(final)

        loosening = {a for a, (old, new) in diff.items() if loosening_reason(current, a, old, new)}
        at_once = {a: new for a, (_, new) in diff.items() if a not in loosening}
        if loosening and at_once:
            interim = copy.copy(current)
            for attname, new in at_once.items():
                setattr(interim, attname, new)
            try:
                _clean(interim)
            except DomainError:
                loosening, at_once = set(diff), {}

        content_type = ContentType.objects.get_for_model(model)
        if loosening:
            waiting = (ConfigChange.objects.select_for_update()
                       .filter(content_type=content_type, object_id=current.pk, status=Status.PENDING))
            for other in waiting:
                overlap = sorted(loosening & set(other.changes))
                if overlap:
                    raise DomainError(
                        "config_change_pending",
                        f"WO{other.work_order_id} already waits for a second person "
                        f"on {', '.join(overlap)} of {current}; it must be decided first.")

        change = ConfigChange.objects.create(
            content_type=content_type, object_id=current.pk, target_label=f"{model._meta.verbose_name} {current}"[:300],
            changes={a: {"old": _dump(diff[a][0]), "new": _dump(diff[a][1]),
                         "why": loosening_reason(current, a, *diff[a]) or "waits with a loosening change"}
                     for a in sorted(loosening)},
            applied_at_once={a: {"old": _dump(diff[a][0]), "new": _dump(diff[a][1])} for a in sorted(at_once)},
            maker=actor, reason=reason, status=Status.APPLIED if not loosening else Status.PENDING,
            decided_at=None if loosening else timezone.now())
        pghistory.context(config_change=change.pk)
        if at_once:
            _write(current, at_once, updated_by=actor)
        if loosening:
            change.work_order = work_order_open(type=WorkOrderType.CONFIG_CHANGE, subject=change, maker=actor)
            change.save(update_fields=["work_order"])
    logger.info("config change %s by %s: at once %s, waiting %s", change.pk, actor, sorted(at_once), sorted(loosening))
    return change


def config_change_stale_fields(change: ConfigChange) -> list[str]:
    """Why the waiting change cannot apply: fields whose stored value is no longer the "old" one."""
    model = change.content_type.model_class()
    current = model._default_manager.filter(pk=change.object_id).first()
    if current is None:
        return [f"{change.target_label} no longer exists."]
    problems = []
    for attname, values in change.changes.items():
        field = _field(model, attname)
        now = getattr(current, field.attname)
        if now != _load(field, values["old"]):
            problems.append(f"{attname} is now {_dump(now)}, not {values['old']} as when it was proposed")
    return problems


def config_change_apply(*, change_id: int, actor) -> ConfigChange:
    """Apply a waiting change (its work order was approved by ``actor``), compare-and-set: if any
    field no longer holds the value it had when proposed, refuse (``config_change_stale``) and
    change nothing; the checker rejects it and the maker proposes again."""
    with transaction.atomic():
        change = locked(ConfigChange, change_id, select_related=("content_type",))
        model = change.content_type.model_class()
        current = model._default_manager.select_for_update(of=("self",)).filter(pk=change.object_id).first()
        stale = config_change_stale_fields(change)
        if stale:
            raise DomainError("config_change_stale", "The configuration changed since the proposal: "
                              + "; ".join(stale) + ". Reject this change; the maker proposes again.")
        values = {a: _load(_field(model, a), v["new"]) for a, v in change.changes.items()}
        with pghistory.context(user=actor.pk if actor else None, proposed_by=change.maker_id,
                               config_change=change.pk, work_order=change.work_order_id,
                               reason=change.reason or None):
            if isinstance(current, ApprovalFlow) and values.get("active"):
                from approvals.services.flows import approval_flow_activate_now

                if actor is not None and actor.pk == current.created_by_id:
                    raise DomainError("maker_cannot_approve", "The author of a flow version cannot approve its "
                                                              "activation.")
                approval_flow_activate_now(flow=current)
            else:
                _clean_with(current, values)
                _write(current, values, updated_by=change.maker)
        change.decided_at, change.decided_by = timezone.now(), actor
        transition_apply(change, "apply", actor=actor, reason=f"Approved in WO{change.work_order_id}.",
                         fields=("decided_at", "decided_by"))
    return change


def _clean_with(obj, values: dict) -> None:
    candidate = copy.copy(obj)
    for attname, value in values.items():
        setattr(candidate, attname, value)
    _clean(candidate)


def config_change_close(*, change_id: int, actor, reason: str) -> ConfigChange:
    """The work order was rejected: the waiting fields are never applied."""
    with transaction.atomic():
        change = locked(ConfigChange, change_id)
        change.decided_at, change.decided_by = timezone.now(), actor
        transition_apply(change, "reject", actor=actor, reason=reason, fields=("decided_at", "decided_by"))
    return change
