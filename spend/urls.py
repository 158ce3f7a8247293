from django.urls import path

from . import views

app_name = "spend"

urlpatterns = [
    path("", views.my_spend, name="mine"),
    path("reports/", views.reports_page, name="reports"),
    path("reports.csv", views.reports_csv, name="reports_csv"),
]
