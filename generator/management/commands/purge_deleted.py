from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from generator.purge import purge


class Command(BaseCommand):
    help = "Remove images (rows and unshared files) of generations deleted more than --days ago. Run daily."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=settings.GALLERY_PURGE_AFTER_DAYS)
        parser.add_argument("--dry-run", action="store_true", help="Report what would go; change nothing.")

    def handle(self, *args, days: float, dry_run: bool, **options):
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        result = purge(timedelta(days=days), dry_run=dry_run)
        verb = "Would purge" if dry_run else "Purged"
        self.stdout.write(
            f"{verb} {result.generations} generations: {result.images} images, "
            f"{result.references} references, {result.files} files."
        )
        if connection.vendor == "sqlite" and not dry_run:
            # Keep SQLite's planner statistics fresh (the gallery's plans depend on them).
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA optimize")
