from django.urls import path

from attachments import views

urlpatterns = [
    path("tickets/<str:ticket_id>/attachments/", views.upload, name="attachment_upload"),
    path("tickets/<str:ticket_id>/attachments/comment/", views.comment, name="attachment_comment"),
    path("attachments/<str:attachment_id>/", views.download, name="attachment"),
]
