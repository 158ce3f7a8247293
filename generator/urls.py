app_name = "generator"
urlpatterns: list = []
