from django.urls import path

from attachments import views

urlpatterns = [
    path("attachments/<str:attachment_id>/", views.download, name="attachment"),
]
