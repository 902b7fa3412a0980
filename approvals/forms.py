"""Admin forms: a decision on a work order, and a withdrawal's travel-rule data."""

from __future__ import annotations

from django import forms

from approvals.models import WorkOrderDecision


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=WorkOrderDecision.Decision.choices)
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class TravelRuleForm(forms.Form):
    """The IVMS101 subset (approvals.travel_rule) as flat fields."""

    originator_name = forms.CharField(max_length=140, help_text="The customer's full legal name.")
    originator_account = forms.CharField(max_length=128, help_text="The customer's account number with us.")
    beneficiary_name = forms.CharField(max_length=140, help_text="Full name of the person receiving the funds.")
    beneficiary_address = forms.CharField(max_length=128, help_text="The withdrawal's destination address.")
    beneficiary_vasp_name = forms.CharField(
        max_length=140, required=False,
        help_text="The exchange or custodian that holds the destination (leave empty for a self-hosted wallet).")
    self_hosted = forms.BooleanField(
        required=False, help_text="The customer declares the destination is an unhosted wallet they control.")

    FIELD_NAMES = {
        "travel_rule.originator.name": "originator_name",
        "travel_rule.originator.account": "originator_account",
        "travel_rule.beneficiary.name": "beneficiary_name",
        "travel_rule.beneficiary.address": "beneficiary_address",
        "travel_rule.beneficiary_vasp.name": "beneficiary_vasp_name",
        "travel_rule.self_hosted": "self_hosted",
    }

    @classmethod
    def initial_from(cls, data: dict | None) -> dict:
        data = data or {}
        originator, beneficiary = data.get("originator") or {}, data.get("beneficiary") or {}
        vasp = data.get("beneficiary_vasp") or {}
        return {"originator_name": originator.get("name", ""), "originator_account": originator.get("account", ""),
                "beneficiary_name": beneficiary.get("name", ""), "beneficiary_address": beneficiary.get("address", ""),
                "beneficiary_vasp_name": vasp.get("name", ""), "self_hosted": bool(data.get("self_hosted"))}

    def to_data(self) -> dict:
        c = self.cleaned_data
        return {
            "originator": {"name": c["originator_name"], "account": c["originator_account"]},
            "beneficiary": {"name": c["beneficiary_name"], "address": c["beneficiary_address"]},
            "beneficiary_vasp": {"name": c["beneficiary_vasp_name"]} if c["beneficiary_vasp_name"] else None,
            "self_hosted": c["self_hosted"],
        }
