from django.urls import path

from tickets import views

urlpatterns = [
    path("", views.ticket_list, name="tickets"),
    path("new/", views.ticket_create, name="ticket_create"),
    path("sub-categories/", views.sub_categories, name="sub_categories"),
]
