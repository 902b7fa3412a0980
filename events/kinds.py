"""Which event kinds exist: one per state of every audited model, plus the ones apps register.

A state move of a model that mixes in ``core.transitions.Audited`` is the event
``<event_name>.<new state>`` (``withdrawal.approved``); ``event_name`` defaults to the model name
and is None for bookkeeping models whose moves make no event. Other events (a work-order
decision) are registered with ``event_kind_register`` from the app's ``ready()``.
"""

from __future__ import annotations

import re

from django.apps import apps

KIND_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_registered: dict[str, str] = {}


def event_name_for(model) -> str | None:
    name = getattr(model, "event_name", "")
    if name is None:
        return None
    return name or model._meta.model_name


def event_kind_register(kind: str, description: str) -> None:
    if not KIND_PATTERN.match(kind):
        raise ValueError(f"Event kinds are dotted lower-case names, got {kind!r}.")
    _registered[kind] = description


def event_kinds() -> dict[str, str]:
    """Every known kind and what it says, sorted."""
    from core.transitions import Audited

    kinds = dict(_registered)
    for model in apps.get_models():
        if not issubclass(model, Audited) or (name := event_name_for(model)) is None:
            continue
        field = model._meta.get_field(model.state_field)
        for value, label in field.choices or ():
            kinds.setdefault(f"{name}.{value}", f"A {model._meta.verbose_name} is now {str(label).lower()}.")
    return dict(sorted(kinds.items()))
