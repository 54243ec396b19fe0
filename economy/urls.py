from django.urls import path

from economy import views

urlpatterns = [
    path("people/<str:person_id>/adjust/", views.adjust, name="adjust"),
]
