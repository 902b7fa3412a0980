from django.urls import path

from p2p.api import views

urlpatterns = [
    path("p2p/offers/", views.OfferListCreate.as_view(), name="p2p-offers"),
    path("p2p/offers/<int:offer_id>/", views.OfferDetail.as_view(), name="p2p-offer-detail"),
    path("p2p/offers/<int:offer_id>/pause/", views.OfferPause.as_view(), name="p2p-offer-pause"),
    path("p2p/offers/<int:offer_id>/resume/", views.OfferResume.as_view(), name="p2p-offer-resume"),
    path("p2p/offers/<int:offer_id>/withdraw/", views.OfferWithdraw.as_view(), name="p2p-offer-withdraw"),
    path("p2p/trades/", views.TradeListCreate.as_view(), name="p2p-trades"),
    path("p2p/trades/<int:trade_id>/", views.TradeDetail.as_view(), name="p2p-trade-detail"),
    path("p2p/trades/<int:trade_id>/paid/", views.TradePaid.as_view(), name="p2p-trade-paid"),
    path("p2p/trades/<int:trade_id>/unpaid/", views.TradeUnpaid.as_view(), name="p2p-trade-unpaid"),
    path("p2p/trades/<int:trade_id>/cancel/", views.TradeCancel.as_view(), name="p2p-trade-cancel"),
    path("p2p/trades/<int:trade_id>/release/", views.TradeRelease.as_view(), name="p2p-trade-release"),
    path("p2p/trades/<int:trade_id>/appeal/", views.TradeAppeal.as_view(), name="p2p-trade-appeal"),
    path("p2p/trades/<int:trade_id>/evidence/", views.TradeEvidence.as_view(), name="p2p-trade-evidence"),
]
