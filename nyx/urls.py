from django.urls import path

from nyx import views

urlpatterns = [
    path("", views.console, name="nyx_console"),
    path("directives/", views.console_directives, name="nyx_directives"),
    path("review/", views.console_review, name="nyx_review"),
]
