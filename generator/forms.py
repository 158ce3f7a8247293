from __future__ import annotations

import random

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from . import images as image_files
from .models import Generation, Image, ModelCapability, Preset, StylePreset
from .providers.registry import default_provider, providers


def provider_choices() -> list[tuple[str, str]]:
    return [(p.name, p.display_name) for p in providers().values()]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleImageField, self).clean(f, initial) for f in files]


def _is_id(value) -> bool:
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) < 19


class IdChoiceField(forms.ModelChoiceField):
    """A model choice by id that refuses what no id can be: Django's own field lets a
    20-digit number through to SQLite, which raises OverflowError (a 500)."""

    def to_python(self, value):
        if value not in self.empty_values and not _is_id(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        for pk in value:
            if not _is_id(pk):
                raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super()._check_values(value)


def _not_one_of(what: str, value, valid: list[str], hint: str = "") -> ValidationError:
    choices = ", ".join(valid) or "none"
    return ValidationError(f"no {what} {value!r}; choose one of {choices}{hint}.", code="invalid_choice")


class ProviderChoiceField(forms.ChoiceField):
    """Names the configured providers when given another (the CLI and batch files type it)."""

    def validate(self, value):
        try:
            super().validate(value)
        except ValidationError as exc:
            if exc.code != "invalid_choice":
                raise
            names = [str(name) for name, _ in self.choices]
            hint = " (the others are switched on by their environment variables: see the README)"
            raise _not_one_of("configured provider", value, names, hint) from None


class SlugChoiceField(forms.ModelChoiceField):
    """A model choice by slug or id that lists the valid ones when given another."""

    def __init__(self, *args, what: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.what = what

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            if exc.code != "invalid_choice":
                raise
            valid = list(self.queryset.values_list(self.to_field_name, flat=True))
            raise _not_one_of(self.what, value, valid) from None


class GenerationForm(forms.Form):
    """Every rule about what may be sent lives here; the composer and the CLI share it."""

    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Describe the image…"}),
        max_length=settings.PROMPT_MAX_CHARS,
        strip=True,
        error_messages={
            "required": "Write a prompt first.",
            "max_length": "The prompt is %(show_value)d characters; the limit is %(limit_value)d.",
        },
    )
    provider = ProviderChoiceField(choices=provider_choices)
    model = SlugChoiceField(
        queryset=ModelCapability.objects.filter(active=True),
        to_field_name="model_id",
        empty_label=None,
        what="active model",
    )
    aspect_ratio = forms.CharField(max_length=8, initial="1:1")
    size = forms.CharField(max_length=8, initial="1K")
    n = forms.IntegerField(min_value=1, max_value=4, initial=1, label="Images")
    style = SlugChoiceField(
        queryset=StylePreset.objects.filter(active=True),
        to_field_name="slug",
        required=False,
        empty_label="No style",
        what="active style",
    )
    preset = SlugChoiceField(
        queryset=Preset.objects.filter(active=True),
        to_field_name="slug",
        required=False,
        empty_label="No use-case preset",
        what="active use-case preset",
    )
    references = MultipleImageField(required=False, label="Reference images")
    # Gallery images used as references (edit / combine): the lineage link.
    source_images = IdMultipleChoiceField(
        queryset=Image.objects.none(),
        required=False,
        widget=forms.MultipleHiddenInput,
        error_messages={
            "invalid_choice": "An image to edit from is no longer available (deleted, or not shared with you).",
            "invalid_pk_value": "An image to edit from is no longer available (deleted, or not shared with you).",
        },
    )
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**53)
    visibility = forms.ChoiceField(choices=Generation.Visibility.choices, initial=Generation.Visibility.TEAM)
    # Set by "Remix" in the gallery: the generation this one starts from.
    remix_of = IdChoiceField(
        queryset=Generation.objects.none(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={
            "invalid_choice": "The generation to remix is no longer available (deleted, or not shared with you)."
        },
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["provider"].choices = provider_choices()
        default = default_provider()
        if default:
            self.fields["provider"].initial = default.name
        if user is not None:
            self.fields["source_images"].queryset = Image.objects.filter(
                Generation.visible_q(user, "generation__"), generation__deleted_at__isnull=True
            )
            self.fields["remix_of"].queryset = Generation.objects.filter(
                Generation.visible_q(user), deleted_at__isnull=True
            )

    def clean_references(self):
        checked = []
        for upload in self.cleaned_data.get("references") or []:
            if upload.size > settings.REFERENCE_MAX_BYTES:
                raise ValidationError(
                    f"{upload.name} is {upload.size / 1_048_576:.1f} MB; "
                    f"the limit is {settings.REFERENCE_MAX_BYTES // 1_048_576} MB."
                )
            checked.append(image_files.check_image(upload.read(), upload.name))
        return checked

    def clean(self):
        data = super().clean()
        capability: ModelCapability | None = data.get("model")
        provider_name = data.get("provider")
        if capability is None or not provider_name:
            return data
        provider = providers()[provider_name]
        if not provider.serves(capability.model_id):
            self.add_error("model", f"{provider.display_name} does not offer {capability.label}.")
        preset: Preset | None = data.get("preset")
        if preset and not data.get("style") and preset.style_id:
            data["style"] = preset.style
        ratio, size = data.get("aspect_ratio"), data.get("size")
        if ratio and ratio not in capability.aspect_ratios:
            self.add_error(
                "aspect_ratio",
                f"{capability.label} does not support aspect ratio {ratio}; choose one of "
                f"{', '.join(capability.aspect_ratios)}.",
            )
        if size and size not in capability.sizes:
            self.add_error(
                "size", f"{capability.label} does not support size {size}; choose one of {', '.join(capability.sizes)}."
            )
        refs = len(data.get("references") or []) + len(data.get("source_images") or [])
        if refs > capability.max_reference_images:
            self.add_error(
                "references",
                f"{capability.label} takes at most {capability.max_reference_images} reference images; "
                f"you gave {refs}.",
            )
        data["provider_config"] = provider
        if data.get("seed") is None:
            data["seed"] = random.randrange(2**31)
        return data


class BatchForm(forms.Form):
    """Many prompts with shared defaults; every row is checked by GenerationForm."""

    CSV_MAX_BYTES = 10 * 1024 * 1024
    DEFAULT_FIELDS = ("provider", "model", "aspect_ratio", "size", "n", "style", "preset", "visibility")

    name = forms.CharField(max_length=200, required=False)
    prompts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "One prompt per line…"}),
        required=False,
        label="Prompts, one per line",
    )
    csv_file = forms.FileField(
        required=False,
        label="…or a CSV file",
        help_text="Header row with a prompt column; optional style, ratio and size columns override the defaults.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        from . import batches

        data = super().clean()
        text, upload = data.get("prompts", "").strip(), data.get("csv_file")
        if bool(text) == bool(upload):
            raise ValidationError("Write prompts (one per line) or upload a CSV file — one of the two.")
        if upload and upload.size > self.CSV_MAX_BYTES:
            # Read whole into memory otherwise, however large (1,000 rows of 8,000 characters fit).
            raise ValidationError(
                f"The CSV file is {upload.size / 1_048_576:.1f} MB; the limit is {self.CSV_MAX_BYTES // 1_048_576} MB."
            )
        defaults = {name: self.data.get(name, "") for name in self.DEFAULT_FIELDS}
        try:
            rows = batches.parse_csv(upload.read()) if upload else batches.parse_lines(text)
            data["rows"] = batches.validate(rows, defaults, self.user)
        except batches.BatchInputError as exc:
            raise ValidationError(exc.errors) from None
        return data
