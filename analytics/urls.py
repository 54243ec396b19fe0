from django.urls import path

from analytics import views

urlpatterns = [
    path("analytics/", views.dashboard, name="analytics"),
    path("analytics/figures.csv", views.dashboard_csv, name="analytics_csv"),
]
