"""The travel-rule capture page: staff enter a withdrawal's originator and beneficiary data
(IVMS101 subset) before the last approval of its work order, when the rule applies."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from approvals.models import WorkOrderType
from approvals.selectors import work_order_for_subject
from core.admin_tools import amount_text
from core.errors import DomainError
from withdrawals.models import WithdrawalOrder
from withdrawals.services.travel_rule import withdrawal_travel_rule_set

CAPTURE_PERMISSION = "approvals.capture_travel_rule"


class TravelRuleForm(forms.Form):
    """The IVMS101 subset (withdrawals.services.travel_rule) as flat fields."""

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


def travel_rule_capture_view(model_admin, request, pk: int):
    """GET: the form, prefilled; POST: ``withdrawal_travel_rule_set``, then back to the work order."""
    order = get_object_or_404(WithdrawalOrder.objects.select_related("coin__currency", "customer"), pk=pk)
    work_order = work_order_for_subject(order, type=WorkOrderType.COIN_WITHDRAW_APPLY)
    if work_order is None or not request.user.has_perm(CAPTURE_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        form = TravelRuleForm(request.POST)
        if form.is_valid():
            try:
                withdrawal_travel_rule_set(order=order, data=form.to_data(), actor=request.user)
            except DomainError as error:
                form.add_error(TravelRuleForm.FIELD_NAMES.get(error.field or ""), error.detail)
            else:
                model_admin.message_user(request, f"Travel-rule data of W{order.pk} saved.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:approvals_workorder_change", args=[work_order.pk]))
    else:
        initial = TravelRuleForm.initial_from(order.travel_rule)
        initial["beneficiary_address"] = initial["beneficiary_address"] or order.destination
        initial["originator_account"] = initial["originator_account"] or order.customer.reference
        form = TravelRuleForm(initial=initial)
    form.fields["beneficiary_vasp_name"].label = "Beneficiary VASP name"
    form.fields["self_hosted"].label = "Self-hosted wallet"
    for name, field in form.fields.items():
        if name != "self_hosted":
            field.widget.attrs.setdefault("class", "vTextField")
    form.fields["beneficiary_address"].widget.attrs["class"] = "vTextField address-input"  # console.css
    return TemplateResponse(request, "admin/withdrawals/travel_rule_form.html", {
        **model_admin.admin_site.each_context(request), "title": f"Travel-rule data of withdrawal W{order.pk}",
        "form": form, "order": order, "work_order": work_order, "opts": model_admin.model._meta,
        "amount": amount_text(order.amount, order.coin.currency.code),
        "value_hkd": work_order.context.get("value_hkd"),
        "threshold_hkd": work_order.context.get("travel_rule_threshold_hkd"),
    })
