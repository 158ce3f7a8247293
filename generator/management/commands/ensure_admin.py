import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.crypto import get_random_string


class Command(BaseCommand):
    help = "Create the first admin (username 'admin') if there is none; print how to log in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where the site will be served")

    def handle(self, *args, **opts) -> None:
        url = opts["url"]
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            self.stdout.write(f"Log in at {url} as 'admin' (password unchanged).")
            return
        password = os.environ.get("ADMIN_PASSWORD") or get_random_string(16)
        User.objects.create_superuser("admin", "", password)
        if os.environ.get("ADMIN_PASSWORD"):
            self.stdout.write("Created 'admin' with the password from ADMIN_PASSWORD.")
        else:
            # Shown once: it is stored only as a hash.
            self.stdout.write(self.style.SUCCESS(f"Created 'admin' with password: {password}  (shown only once)"))
        self.stdout.write(f"Log in at {url}")
