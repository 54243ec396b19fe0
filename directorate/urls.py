from django.urls import include, path

urlpatterns = [
    path("api/", include("directorate.api")),
    path("", include("accounts.urls")),
    path("", include("economy.urls")),
    path("", include("attachments.urls")),
    path("tickets/", include("tickets.urls")),
    path("", include("desk.urls")),  # after tickets/: one ticket's page, its actions and uploads
    path("nyx/", include("nyx.urls")),
    path("", include("analytics.urls")),
]

handler400 = "directorate.views.bad_request"
