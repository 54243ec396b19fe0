"""Every route, plus Niki's. Selected per request by `nyx.middleware.NikiRoutesMiddleware`, for Niki only."""

from django.urls import path

from directorate.urls import urlpatterns as directorate_urlpatterns
from nyx import niki_views

urlpatterns = [
    path("niki/", niki_views.niki_home, name="niki"),
    path("niki/command", niki_views.niki_command, name="niki_command"),
    path("niki/act/<slug:name>", niki_views.niki_act, name="niki_act"),
    path("niki/pick/<slug:kind>", niki_views.niki_pick, name="niki_pick"),
    path("niki/audit/", niki_views.niki_audit, name="niki_audit"),
    path("niki/audit.csv", niki_views.niki_audit_csv, name="niki_audit_csv"),
    *directorate_urlpatterns,
]
