from django.urls import path

from desk import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/export.csv", views.ledger_csv, name="ledger_csv"),
    path("ledger/entries/<str:entry_id>/reverse/", views.reverse_entry, name="reverse_entry"),
    # Included after tickets.urls (whose "new/" would otherwise read as a ticket id); the uploads come before
    # the actions, whose pattern they would otherwise match.
    path("tickets/<str:ticket_id>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("tickets/<str:ticket_id>/attachments/comment/", views.attachment_comment, name="attachment_comment"),
    path("tickets/<str:ticket_id>/", views.ticket_detail, name="ticket"),
    path("tickets/<str:ticket_id>/<slug:action>/", views.ticket_action, name="ticket_action"),
]
