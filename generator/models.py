from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class ModelCapability(models.Model):
    """What one image model accepts and returns. Seeded from the API reference."""

    model_id = models.CharField(max_length=100, unique=True)
    label = models.CharField(max_length=100, help_text="Friendly name, e.g. Nano Banana Pro")
    sizes = models.JSONField(default=list, help_text='Allowed sizes, e.g. ["1K", "2K", "4K"]')
    aspect_ratios = models.JSONField(default=list, help_text='Allowed ratios, e.g. ["1:1", "16:9"]')
    max_reference_images = models.PositiveSmallIntegerField(default=3)
    sends_image_size = models.BooleanField(
        default=True, help_text="Send imageSize on the wire (off for models that reject it)."
    )
    # {"1K": {"16:9": [1376, 768], ...}, ...}
    pixel_sizes = models.JSONField(default=dict)
    # {"1K": 1120, "4K": 2000}: output image tokens per image, used for quotes.
    output_tokens = models.JSONField(default=dict)
    input_image_tokens = models.PositiveIntegerField(default=560)
    sort_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "model_id"]
        verbose_name_plural = "model capabilities"

    def __str__(self) -> str:
        return f"{self.label} ({self.model_id})"

    def pixel_size(self, size: str, aspect_ratio: str) -> tuple[int, int] | None:
        dims = self.pixel_sizes.get(size, {}).get(aspect_ratio)
        return (int(dims[0]), int(dims[1])) if dims else None

    @property
    def default_size(self) -> str:
        return "1K" if "1K" in self.sizes else (self.sizes[0] if self.sizes else "1K")


class StylePreset(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=80)
    prompt_suffix = models.TextField(help_text="Appended to the user's prompt.")
    sort_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Preset(models.Model):
    """A use-case preset: prompt guidance plus default ratio, size and style."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=200, blank=True)
    prompt_suffix = models.TextField(blank=True)
    aspect_ratio = models.CharField(max_length=8, blank=True)
    size = models.CharField(max_length=8, blank=True)
    style = models.ForeignKey(StylePreset, null=True, blank=True, on_delete=models.SET_NULL)
    sort_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Batch(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.name or f"Batch {self.pk}"


class Generation(models.Model):
    """One request to a provider: the durable truth about a job.

    Every status change is a guarded UPDATE (see generator/dispatch.py): the queue
    only rings the doorbell, this row says what has happened.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        BLOCKED = "blocked"
        CANCELED = "canceled"

    class Visibility(models.TextChoices):
        TEAM = "team"
        PRIVATE = "private"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.BLOCKED, Status.CANCELED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generations")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations")
    remix_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes")

    prompt = models.TextField()
    style = models.ForeignKey(StylePreset, null=True, blank=True, on_delete=models.SET_NULL)
    preset = models.ForeignKey(Preset, null=True, blank=True, on_delete=models.SET_NULL)
    # What was actually sent, with the style and preset suffixes expanded; kept even
    # if a preset is later edited or deleted.
    full_prompt = models.TextField()
    provider = models.CharField(max_length=50)
    model = models.CharField(max_length=100)
    aspect_ratio = models.CharField(max_length=8)
    size = models.CharField(max_length=8)
    n = models.PositiveSmallIntegerField(default=1)
    seed = models.BigIntegerField(default=0)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.TEAM)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    # [{"n": 1, "at": iso, "provider": .., "model": .., "error": .., "wait": seconds}, ...]
    attempt_log = models.JSONField(default=list, blank=True)
    # Which provider/model finally made the images (differs from the request on fallback).
    used_provider = models.CharField(max_length=50, blank=True)
    used_model = models.CharField(max_length=100, blank=True)

    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    text_reply = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=40, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    response_id = models.CharField(max_length=200, blank=True)

    estimated_cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    actual_cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="gen_status_next"),
            models.Index(fields=["status", "lease_until"], name="gen_status_lease"),
            models.Index(fields=["user", "-created_at"], name="gen_user_created"),
            # Gallery sorts: by date (with the id tie-break for keyset pages) and by cost.
            models.Index(fields=["-created_at", "-id"], name="gen_gallery_created"),
            # On PostgreSQL migration 0004 creates it DESC NULLS LAST, matching the gallery's
            # ORDER BY (SQLite puts NULLs last in DESC anyway and rejects the clause in an index).
            models.Index(fields=["-actual_cost", "-id"], name="gen_gallery_cost"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(n__gte=1) & Q(n__lte=4), name="gen_n_1_to_4"),
            models.CheckConstraint(condition=Q(attempts__gte=0), name="gen_attempts_nonneg"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("generator:generation", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_demo(self) -> bool:
        return (self.used_provider or self.provider) == "demo"

    @property
    def shown_provider(self) -> str:
        return self.used_provider or self.provider

    @property
    def shown_model(self) -> str:
        return self.used_model or self.model

    def visible_to(self, user) -> bool:
        if self.deleted_at and not user.is_staff and user.pk != self.user_id:
            return False
        return self.visibility == self.Visibility.TEAM or user.is_staff or user.pk == self.user_id

    @classmethod
    def visible_q(cls, user, prefix: str = "") -> Q:
        """Filter for rows `user` may see; prefix e.g. "generation__" from Image."""
        if user.is_staff:
            return Q()
        return Q(**{f"{prefix}visibility": cls.Visibility.TEAM}) | Q(**{f"{prefix}user": user})

    def record_attempt(self, **fields) -> None:
        self.attempt_log = [*self.attempt_log, {"n": self.attempts, **fields}]


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Image(models.Model):
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(max_length=300)
    thumbnail = models.FileField(max_length=300, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    mime_type = models.CharField(max_length=50)
    sha256 = models.CharField(max_length=64, db_index=True)
    bytes = models.PositiveIntegerField(default=0)
    # Gemini's opaque signature for multi-turn edits; sent back unchanged.
    thought_signature = models.TextField(blank=True)
    # The provider returned a pixel size that does not match the requested ratio.
    ratio_mismatch = models.BooleanField(default=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="images")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The generation's actual_cost, copied by database triggers (migration 0005) so the
    # gallery's cost sort (cost, image id) is one index on this table.
    generation_cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="image_generation_index_unique"),
        ]
        indexes = [
            # Created NULLS LAST on PostgreSQL by the migration, to match the ORDER BY.
            models.Index(fields=["-generation_cost", "-id"], name="image_gallery_cost"),
        ]

    def __str__(self) -> str:
        return f"Image {self.pk} of generation {self.generation_id}"

    def get_absolute_url(self) -> str:
        return reverse("generator:image", args=[self.pk])

    @property
    def megapixels(self) -> float:
        return round(self.width * self.height / 1_000_000, 2)


class ReferenceImage(models.Model):
    """An input image sent with a generation (to edit or to combine)."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="references")
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    mime_type = models.CharField(max_length=50)
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    # Set when the reference is an image from the gallery: the lineage link.
    source_image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="derived_references"
    )

    class Meta:
        ordering = ["generation", "position"]

    def __str__(self) -> str:
        return f"Reference {self.position} of generation {self.generation_id}"


class Favourite(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "image"], name="favourite_unique")]

    def __str__(self) -> str:
        return f"{self.user} ♥ {self.image_id}"


class FullTextField(models.TextField):
    """The FTS5 table's hidden column named after the table: the left side of MATCH."""


@FullTextField.register_lookup
class FullTextMatch(models.Lookup):
    lookup_name = "match"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", [*lhs_params, *rhs_params]


class ImageText(models.Model):
    """SQLite only: the FTS5 row of an image (rowid = image id), written by triggers.

    Created by migration 0003_gallery_search; on PostgreSQL the tsvector lives on
    generator_image instead and this table does not exist. See generator/search.py.
    """

    image = models.OneToOneField(
        Image, primary_key=True, db_column="rowid", on_delete=models.DO_NOTHING, related_name="fts"
    )
    document = FullTextField(db_column="gallery_image_fts")
    # bm25 with per-column weights, configured in migration 0003; lower is better.
    rank = models.FloatField()

    class Meta:
        managed = False
        db_table = "gallery_image_fts"

    def __str__(self) -> str:
        return f"Search text of image {self.image_id}"


from .dispatch_models import Breaker, ConcurrencySlot, RateState, SetAsideKey  # noqa: E402,F401  (registers them)
