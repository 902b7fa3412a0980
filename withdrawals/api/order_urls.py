from django.urls import path

from withdrawals.api import orders

urlpatterns = [
    path("withdrawals/", orders.WithdrawalListCreate.as_view(), name="withdrawals"),
    path("withdrawals/<int:order_id>/", orders.WithdrawalDetail.as_view(), name="withdrawal-detail"),
    path("withdrawals/<int:order_id>/cancel/", orders.WithdrawalCancel.as_view(), name="withdrawal-cancel"),
    path("balances/", orders.Balances.as_view(), name="balances"),
    path("otp/enroll/", orders.OtpEnroll.as_view(), name="otp-enroll"),
    path("otp/confirm/", orders.OtpConfirm.as_view(), name="otp-confirm"),
]
