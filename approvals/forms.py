"""Admin forms: a decision on a work order."""

from __future__ import annotations

from django import forms

from approvals.models import WorkOrderDecision


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=WorkOrderDecision.Decision.choices)
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    next = forms.CharField(required=False, widget=forms.HiddenInput)
