"""Hard removal of soft-deleted generations after the grace period (`manage.py purge_deleted`).

Image and reference rows go, and their files when no other row still names them
(names are content-addressed, so one file can serve many rows). The Generation row
stays: the spend ledger points at it (PROTECT) and the ledger is append-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Generation, Image, ReferenceImage


@dataclass
class PurgeResult:
    generations: int = 0
    images: int = 0
    references: int = 0
    files: int = 0


def _still_used(names: set[str]) -> set[str]:
    used = set(Image.objects.filter(file__in=names).values_list("file", flat=True))
    used |= set(Image.objects.filter(thumbnail__in=names).values_list("thumbnail", flat=True))
    used |= set(ReferenceImage.objects.filter(file__in=names).values_list("file", flat=True))
    return used


def purge(grace: timedelta, now=None, dry_run: bool = False) -> PurgeResult:
    cutoff = (now or timezone.now()) - grace
    result = PurgeResult()
    due = (
        Generation.objects.filter(deleted_at__lt=cutoff)
        .filter(Q(images__isnull=False) | Q(references__isnull=False))
        .distinct()
    )
    for generation in due.iterator(chunk_size=200):
        with transaction.atomic():
            # Re-check under the transaction: an undo may have just happened.
            if not Generation.objects.filter(pk=generation.pk, deleted_at__lt=cutoff).exists():
                continue
            images = list(Image.objects.filter(generation=generation))
            refs = list(ReferenceImage.objects.filter(generation=generation))
            names = (
                {i.file.name for i in images}
                | {i.thumbnail.name for i in images if i.thumbnail}
                | {r.file.name for r in refs}
            )
            result.generations += 1
            result.images += len(images)
            result.references += len(refs)
            if dry_run:
                continue
            Image.objects.filter(pk__in=[i.pk for i in images]).delete()
            ReferenceImage.objects.filter(pk__in=[r.pk for r in refs]).delete()
            orphans = names - _still_used(names)
            # Files go only once the rows are gone for good.
            transaction.on_commit(lambda orphans=orphans: _delete_files(orphans))
            result.files += len(orphans)
    return result


def _delete_files(names: set[str]) -> None:
    for name in names:
        if default_storage.exists(name):
            default_storage.delete(name)
