from django.urls import path

from . import views, views_gallery

app_name = "generator"

urlpatterns = [
    path("", views.compose, name="compose"),
    path("quote/", views.quote, name="quote"),
    path("generations/", views.history, name="history"),
    path("generations/<int:pk>/", views.generation_detail, name="generation"),
    path("generations/<int:pk>/cancel/", views.generation_cancel, name="generation_cancel"),
    path("batches/", views.batch_list, name="batches"),
    path("batches/new/", views.batch_new, name="batch_new"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
    path("batches/<int:pk>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("generations/<int:pk>/delete/", views_gallery.generation_delete, name="generation_delete"),
    path("generations/<int:pk>/restore/", views_gallery.generation_restore, name="generation_restore"),
    path("generations/<int:pk>/visibility/", views_gallery.generation_visibility, name="generation_visibility"),
    path("gallery/", views_gallery.gallery_view, name="gallery"),
    path("images/<int:pk>/", views_gallery.image_detail, name="image"),
    path("images/<int:pk>/favourite/", views_gallery.favourite_toggle, name="image_favourite"),
    path("images/<int:pk>/tags/", views_gallery.tag_add, name="image_tag_add"),
    path("images/<int:pk>/tags/remove/", views_gallery.tag_remove, name="image_tag_remove"),
    path("files/images/<int:pk>/<str:variant>/", views.image_file, name="image_file"),
    path("files/references/<int:pk>/", views.reference_file, name="reference_file"),
    path("healthz", views.healthz, name="healthz"),
]
