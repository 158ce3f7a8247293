from django.core.management.base import BaseCommand

from generator.seed import seed_defaults
from spend.seed import seed_prices


class Command(BaseCommand):
    help = "Add the default model capabilities, presets and prices that are missing (admin edits are kept)."

    def handle(self, *args, **opts) -> None:
        created = seed_defaults()
        created["prices"] = seed_prices()
        self.stdout.write(", ".join(f"{k}: {v} added" for k, v in created.items()))
