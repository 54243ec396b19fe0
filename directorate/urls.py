from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("economy.urls")),
    path("tickets/", include("tickets.urls")),
]
