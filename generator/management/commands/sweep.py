from django.core.management.base import BaseCommand

from generator import dispatch


class Command(BaseCommand):
    help = "Re-queue generations whose worker died (lease expired) and re-ring lost queue doorbells."

    def handle(self, *args, **opts) -> None:
        result = dispatch.sweep()
        self.stdout.write(f"requeued {result['requeued']}, re-rung {result['rung']}")
