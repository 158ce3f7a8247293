from django.urls import path

from . import views

app_name = "generator"

urlpatterns = [
    path("", views.compose, name="compose"),
    path("quote/", views.quote, name="quote"),
    path("generations/<int:pk>/", views.generation_detail, name="generation"),
    path("generations/<int:pk>/cancel/", views.generation_cancel, name="generation_cancel"),
    path("batches/", views.batch_list, name="batches"),
    path("batches/new/", views.batch_new, name="batch_new"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
    path("batches/<int:pk>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("gallery/", views.gallery, name="gallery"),
    path("images/<int:pk>/", views.image_detail, name="image"),
    path("files/images/<int:pk>/<str:variant>/", views.image_file, name="image_file"),
    path("files/references/<int:pk>/", views.reference_file, name="reference_file"),
    path("healthz", views.healthz, name="healthz"),
]
