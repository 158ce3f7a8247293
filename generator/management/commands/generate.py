"""manage.py generate "a red bicycle" --model ... --wait --json

The same path as the composer: the prompt is validated by GenerationForm, the job is
queued for the worker, and --wait follows it to the end (running it in this process
if no worker picks it up).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.datastructures import MultiValueDict

from generator import dispatch, generations
from generator.forms import GenerationForm
from generator.models import Generation, ModelCapability
from generator.providers.registry import default_provider
from spend.budgets import BudgetExceeded


def generation_json(generation: Generation) -> dict:
    images = []
    for image in generation.images.order_by("index"):
        try:
            path = default_storage.path(image.file.name)
        except NotImplementedError:  # remote storage: no local path
            path = default_storage.url(image.file.name)
        images.append({"path": path, "width": image.width, "height": image.height, "sha256": image.sha256})
    return {
        "id": generation.pk,
        "status": generation.status,
        "provider": generation.shown_provider,
        "model": generation.shown_model,
        "attempts": generation.attempts,
        "estimated_cost": str(generation.estimated_cost),
        "actual_cost": None if generation.actual_cost is None else str(generation.actual_cost),
        "error": generation.error_message or None,
        "images": images,
    }


# Form fields whose command-line option has another name.
OPTION_OF_FIELD = {"references": "--ref"}


class Command(BaseCommand):
    help = "Generate images from the command line (same rules, queue and storage as the web composer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt")
        parser.add_argument("--model", help="model id, e.g. gemini-3-pro-image-preview (default: first active)")
        parser.add_argument("--provider", help="provider name (default: a configured real provider, else demo)")
        parser.add_argument("--aspect-ratio", default="1:1")
        parser.add_argument("--size", help="512, 1K, 2K or 4K as the model allows (default 1K)")
        parser.add_argument("--style", help="style preset slug, e.g. watercolor")
        parser.add_argument("--preset", help="use-case preset slug, e.g. phone-wallpaper")
        parser.add_argument("--n", type=int, default=1, help="number of images, 1-4")
        parser.add_argument("--ref", action="append", default=[], metavar="PATH", help="reference image (repeatable)")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--private", action="store_true", help="visible only to you and admins")
        parser.add_argument("--user", default="admin", help="username to generate as (default admin)")
        parser.add_argument("--wait", action="store_true", help="wait until the generation ends")
        parser.add_argument("--timeout", type=float, default=600, help="seconds to wait with --wait")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **opts) -> None:
        if opts["timeout"] <= 0:
            raise CommandError(f"--timeout: {opts['timeout']:g} s; give a number of seconds above 0.")
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"No user named {opts['user']!r}. Create one in the admin or pass --user.")
        form = self.build_form(opts, user)
        if not form.is_valid():
            problems = []
            for field, errors in form.errors.items():
                label = "" if field == "__all__" else f"{OPTION_OF_FIELD.get(field, '--' + field.replace('_', '-'))}: "
                problems.extend(f"{label}{e}" for e in errors)
            raise CommandError("; ".join(problems))
        try:
            generation = generations.submit(user, form.cleaned_data)
        except BudgetExceeded as exc:
            raise CommandError(exc.message) from exc
        if opts["wait"]:
            generation = self.wait(generation, opts["timeout"])
        self.report(generation, opts["json"])
        if generation.status in (Generation.Status.FAILED, Generation.Status.BLOCKED, Generation.Status.CANCELED):
            raise CommandError(f"Generation {generation.pk} {generation.status}: {generation.error_message}")

    def build_form(self, opts: dict, user) -> GenerationForm:
        model_id = opts["model"] or getattr(ModelCapability.objects.filter(active=True).first(), "model_id", "")
        provider = opts["provider"] or getattr(default_provider(), "name", "")
        capability = ModelCapability.objects.filter(model_id=model_id).first()
        data = {
            "prompt": opts["prompt"],
            "provider": provider,
            "model": model_id,
            "aspect_ratio": opts["aspect_ratio"],
            "size": opts["size"] or (capability.default_size if capability else "1K"),
            "n": opts["n"],
            "style": opts["style"] or "",
            "preset": opts["preset"] or "",
            "seed": "" if opts["seed"] is None else opts["seed"],
            "visibility": Generation.Visibility.PRIVATE if opts["private"] else Generation.Visibility.TEAM,
        }
        files = []
        for ref in opts["ref"]:
            path = Path(ref)
            if not path.is_file():
                raise CommandError(f"--ref {ref}: no such file.")
            files.append(SimpleUploadedFile(path.name, path.read_bytes()))
        return GenerationForm(data, MultiValueDict({"references": files}), user=user)

    def wait(self, generation: Generation, timeout: float) -> Generation:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            generation.refresh_from_db()
            if not generation.is_active:
                return generation
            # No worker running (or the queue backend is a no-op)? Do the work here;
            # the claim makes this safe even if a worker takes it at the same moment.
            dispatch.run(generation.pk)
            generation.refresh_from_db()
            if not generation.is_active:
                return generation
            time.sleep(0.25)
        raise CommandError(f"Generation {generation.pk} still {generation.status} after {timeout:.0f} s.")

    def report(self, generation: Generation, as_json: bool) -> None:
        data = generation_json(generation)
        if as_json:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"Generation {data['id']}: {data['status']} ({data['provider']} / {data['model']})")
        for image in data["images"]:
            self.stdout.write(f"  {image['width']}×{image['height']}  {image['path']}")
        if data["error"]:
            self.stdout.write(f"  {data['error']}")
