"""manage.py generate_batch prompts.txt (or prompts.csv) --model ... --wait --json

The same rules as the web batch page: one prompt per line, or a CSV with prompt,
style, ratio and size columns; any bad line is reported by number and nothing is queued.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from generator import batches, dispatch
from generator.models import Generation, ModelCapability
from generator.providers.registry import default_provider
from spend.budgets import BudgetExceeded

from .generate import generation_json


class Command(BaseCommand):
    help = "Queue one generation per prompt in a file (text: one per line; .csv: prompt, style, ratio, size)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", help="a .txt file with one prompt per line, or a .csv file ('-': standard input, text unless --csv)"
        )
        parser.add_argument("--csv", action="store_true", help="read the file as CSV whatever its name")
        parser.add_argument("--name", default="", help="batch name")
        parser.add_argument("--model", help="default model id (default: first active)")
        parser.add_argument("--provider", help="default provider (default: a configured real provider, else demo)")
        parser.add_argument("--aspect-ratio", default="1:1")
        parser.add_argument("--size", help="default size (default 1K)")
        parser.add_argument("--style", default="", help="default style preset slug")
        parser.add_argument("--preset", default="", help="use-case preset slug")
        parser.add_argument("--n", type=int, default=1, help="images per prompt, 1-4")
        parser.add_argument("--private", action="store_true")
        parser.add_argument("--user", default="admin")
        parser.add_argument("--wait", action="store_true", help="wait until every generation ends")
        parser.add_argument("--timeout", type=float, default=3600)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **opts) -> None:
        if opts["timeout"] <= 0:
            raise CommandError(f"--timeout: {opts['timeout']:g} s; give a number of seconds above 0.")
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"No user named {opts['user']!r}. Create one in the admin or pass --user.")
        path = Path(opts["file"])
        from_stdin = opts["file"] == "-"
        if not from_stdin and not path.is_file():
            raise CommandError(f"{path}: no such file.")
        model_id = opts["model"] or getattr(ModelCapability.objects.filter(active=True).first(), "model_id", "")
        capability = ModelCapability.objects.filter(model_id=model_id).first()
        defaults = {
            "provider": opts["provider"] or getattr(default_provider(), "name", ""),
            "model": model_id,
            "aspect_ratio": opts["aspect_ratio"],
            "size": opts["size"] or (capability.default_size if capability else "1K"),
            "n": opts["n"],
            "style": opts["style"],
            "preset": opts["preset"],
            "visibility": Generation.Visibility.PRIVATE if opts["private"] else Generation.Visibility.TEAM,
        }
        try:
            data = sys.stdin.buffer.read() if from_stdin else path.read_bytes()
            if opts["csv"] or path.suffix.lower() == ".csv":
                rows = batches.parse_csv(data)
            else:
                rows = batches.parse_lines(data.decode("utf-8"))
            cleaned = batches.validate(rows, defaults, user)
        except batches.BatchInputError as exc:
            raise CommandError("nothing was queued:\n  " + "\n  ".join(exc.errors)) from None
        except UnicodeDecodeError:
            raise CommandError(
                f"{'standard input' if from_stdin else path} is not UTF-8 text; nothing was queued."
            ) from None
        try:
            batch = batches.create(user, cleaned, opts["name"] or ("stdin" if from_stdin else path.name))
        except BudgetExceeded as exc:
            raise CommandError(f"The batch does not fit the budget; nothing was queued. {exc.message}") from None
        if opts["wait"]:
            self.wait(batch, opts["timeout"])
        generations = list(batch.generations.order_by("id"))
        progress = batches.progress(batch)
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "batch": batch.pk,
                        "total": progress.total,
                        "counts": progress.counts,
                        "generations": [generation_json(g) for g in generations],
                    }
                )
            )
        else:
            self.stdout.write(f"Batch {batch.pk}: {progress.total} generations; {progress.counts}")
            for g in generations:
                self.stdout.write(f"  #{g.pk} {g.status} {g.prompt[:60]}")
        failed = [g for g in generations if g.status in (Generation.Status.FAILED, Generation.Status.BLOCKED)]
        if opts["wait"] and failed:
            raise CommandError(f"{len(failed)} of {len(generations)} generations did not succeed.")

    def wait(self, batch, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not batch.generations.filter(status__in=Generation.ACTIVE_STATUSES).exists():
                return
            # No worker running? Do the due work here; claims make this safe beside one.
            dispatch.run_due()
            time.sleep(0.25)
        raise CommandError(f"Batch {batch.pk} still running after {timeout:.0f} s.")
