from django.urls import include, path

urlpatterns = [
    path("api/", include("directorate.api")),
    path("", include("accounts.urls")),
    path("", include("economy.urls")),
    path("", include("attachments.urls")),  # before tickets/: its paths would read as ticket actions
    path("tickets/", include("tickets.urls")),
    path("nyx/", include("nyx.urls")),
    path("", include("analytics.urls")),
]
