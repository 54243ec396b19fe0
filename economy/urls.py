from django.urls import path

from economy import views

urlpatterns = [
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/export.csv", views.ledger_csv, name="ledger_csv"),
    path("people/<str:person_id>/adjust/", views.adjust, name="adjust"),
]
