"""Reservations against budgets, settled to actual costs: the append-only ledger.

Every entry is signed: a reservation adds the estimate, a release takes it back, a
settlement releases the estimate and adds the actual cost. The sum of a user's
entries is therefore what they have spent plus what is still reserved.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from .models import SpendEntry


def reserve(generation) -> None:
    if generation.estimated_cost:
        SpendEntry.objects.create(
            user_id=generation.user_id,
            generation=generation,
            kind=SpendEntry.Kind.RESERVE,
            amount=generation.estimated_cost,
            provider=generation.provider,
            model=generation.model,
        )


@transaction.atomic
def settle(generation, actual: Decimal) -> None:
    release(generation)
    if actual:
        SpendEntry.objects.create(
            user_id=generation.user_id,
            generation=generation,
            kind=SpendEntry.Kind.SETTLE,
            amount=actual,
            provider=generation.shown_provider,
            model=generation.shown_model,
        )


def release(generation) -> None:
    if generation.estimated_cost:
        SpendEntry.objects.create(
            user_id=generation.user_id,
            generation=generation,
            kind=SpendEntry.Kind.RELEASE,
            amount=-generation.estimated_cost,
            provider=generation.provider,
            model=generation.model,
        )
