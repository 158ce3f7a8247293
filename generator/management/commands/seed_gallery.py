import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from generator.seed_gallery import seed


class Command(BaseCommand):
    help = "Fill the gallery with realistic rows (users, prompts, models, dates, tags, favourites) for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--images", type=int, default=1000)
        parser.add_argument("--users", type=int, default=12)
        parser.add_argument("--chunk", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=1, help="Random seed (same seed, same rows).")

    def handle(self, *args, images, users, chunk, **options):
        seed_value = options["seed"]
        if images < 1 or users < 1 or chunk < 1:
            raise CommandError("--images, --users and --chunk must be at least 1.")
        started = time.monotonic()
        made = seed(
            images, users=users, chunk=chunk, rng_seed=seed_value, progress=lambda n: self.stdout.write(f"  {n} images")
        )
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # the gallery's query plans need fresh statistics
        self.stdout.write(self.style.SUCCESS(f"Seeded {made} images in {time.monotonic() - started:.1f} s."))
