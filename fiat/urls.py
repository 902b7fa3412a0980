from django.urls import path

from fiat import api

urlpatterns = [
    path("quotes/", api.Quotes.as_view(), name="quotes"),
    path("sells/", api.Sells.as_view(), name="sells"),
    path("bank-accounts/", api.BankAccounts.as_view(), name="bank-accounts"),
    path("bank-accounts/<int:pk>/", api.BankAccountDetail.as_view(), name="bank-account-detail"),
    path("fiat-withdrawals/", api.FiatWithdrawals.as_view(), name="fiat-withdrawals"),
    path("fiat-withdrawals/<int:pk>/", api.FiatWithdrawalDetail.as_view(), name="fiat-withdrawal-detail"),
    path("fiat-withdrawals/<int:pk>/cancel/", api.FiatWithdrawalCancel.as_view(), name="fiat-withdrawal-cancel"),
]
