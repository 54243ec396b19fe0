"""Every route, plus Niki's. Selected per request by `nyx.middleware.NikiRoutesMiddleware`, for Niki only."""

from django.urls import path

from directorate.urls import urlpatterns as directorate_urlpatterns
from nyx import niki_views

urlpatterns = [
    path("niki/", niki_views.niki_home, name="niki"),
    path("niki/command", niki_views.niki_command, name="niki_command"),
    *directorate_urlpatterns,
]
