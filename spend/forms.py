from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError

from .reports import DateRange

MAX_RANGE_DAYS = 366
# Day bounds are midnights in the site's time zone, and the range ends at the midnight
# after `end`: at the calendar's edges those do not exist (a 500 before this check).
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


class ReportRangeForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for day in (start, end):
            if day and not EARLIEST <= day <= LATEST:
                raise ValidationError(f"Choose dates between {EARLIEST} and {LATEST}.")
        if start and end:
            if end < start:
                raise ValidationError("The end date is before the start date.")
            if end - start > timedelta(days=MAX_RANGE_DAYS):
                raise ValidationError(f"Choose at most {MAX_RANGE_DAYS} days.")
        return data

    def range(self) -> DateRange:
        return DateRange(self.cleaned_data["start"], self.cleaned_data["end"])
