from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError

from .reports import DateRange

MAX_RANGE_DAYS = 366


class ReportRangeForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise ValidationError("The end date is before the start date.")
            if end - start > timedelta(days=MAX_RANGE_DAYS):
                raise ValidationError(f"Choose at most {MAX_RANGE_DAYS} days.")
        return data

    def range(self) -> DateRange:
        return DateRange(self.cleaned_data["start"], self.cleaned_data["end"])
