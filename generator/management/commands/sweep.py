from django.core.management.base import BaseCommand

from generator import dispatch


class Command(BaseCommand):
    help = (
        "Re-queue generations whose worker died (lease expired), finish canceled ones, "
        "and re-ring lost queue doorbells."
    )

    def handle(self, *args, **opts) -> None:
        result = dispatch.sweep()
        self.stdout.write(
            f"requeued {result['requeued']}, ended {result['ended']} (canceled or given up), re-rung {result['rung']}"
        )
