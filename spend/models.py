from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

MONEY = {"max_digits": 14, "decimal_places": 6}


class ModelPrice(models.Model):
    """Token prices for one model, USD per 1M tokens, valid from `effective_from`.

    A price change is a new row with a later date, so old costs never change.
    """

    model_id = models.CharField(max_length=100)
    effective_from = models.DateTimeField(default=timezone.now)
    input_per_mtok = models.DecimalField(**MONEY, default=Decimal("0"))
    image_output_per_mtok = models.DecimalField(**MONEY, default=Decimal("0"))
    text_output_per_mtok = models.DecimalField(**MONEY, default=Decimal("0"))
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["model_id", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["model_id", "effective_from"], name="modelprice_unique_from"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} from {self.effective_from:%Y-%m-%d}"


class CallPrice(models.Model):
    """A per-call price for providers (relays) that sell per image, not per token."""

    provider = models.CharField(max_length=50)
    model_id = models.CharField(max_length=100, blank=True, help_text="Blank: any model of the provider.")
    size = models.CharField(max_length=8, blank=True, help_text="Blank: any size.")
    quality = models.CharField(max_length=20, blank=True)
    price_per_image = models.DecimalField(**MONEY)
    effective_from = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "model_id", "size", "-effective_from"]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model_id or '*'}/{self.size or '*'}: ${self.price_per_image}"


class Budget(models.Model):
    class Period(models.TextChoices):
        MONTH = "month"
        DAY = "day"

    # No user: the budget is the whole team's.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    amount = models.DecimalField(**MONEY)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "period"], name="budget_unique_user_period"),
            models.UniqueConstraint(
                fields=["period"], condition=models.Q(user__isnull=True), name="budget_unique_team_period"
            ),
        ]

    def __str__(self) -> str:
        who = self.user.get_username() if self.user_id else "team"
        return f"{who}: ${self.amount} per {self.period}"


class AppendOnlyError(Exception):
    pass


class SpendEntry(models.Model):
    """Append-only ledger. A reservation is undone by a release or a settlement
    entry of the opposite sign; nothing here is ever updated or deleted."""

    class Kind(models.TextChoices):
        RESERVE = "reserve"
        SETTLE = "settle"
        RELEASE = "release"
        CORRECTION = "correction"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="spend_entries")
    generation = models.ForeignKey(
        "generator.Generation", null=True, blank=True, on_delete=models.PROTECT, related_name="spend_entries"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When the money counts, for budgets and reports: the generation's creation time
    # for its reserve, settle and release entries alike, so a job that starts on the
    # 31st and finishes on the 1st is charged wholly to the month it was sent in and
    # every period's sum nets its reservations out. Corrections pick their own date.
    accounted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "spend entries"
        indexes = [
            models.Index(fields=["user", "created_at"], name="spend_user_created"),
            models.Index(fields=["accounted_at"], name="spend_accounted"),
            models.Index(fields=["user", "accounted_at"], name="spend_user_accounted"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.user})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Spend entries are append-only: add a correction instead of editing.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Spend entries are append-only: add a correction instead of deleting.")
