from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from spend import budgets
from spend.budgets import BudgetExceeded

from . import batches, dispatch, generations, prefill
from .forms import BatchForm, GenerationForm
from .gallery import visible_images
from .models import Batch, Generation, ModelCapability, Preset, ReferenceImage
from .providers.registry import providers


def visible_generations(user):
    return Generation.objects.filter(Generation.visible_q(user), deleted_at__isnull=True)


def visible_references(user, generation=None):
    """Reference images `user` may see: those of visible generations whose gallery
    source (if any) is visible too. An edit shares its source's file, so a source
    made private or deleted later must not stay readable through its children."""
    refs = ReferenceImage.objects.filter(
        Generation.visible_q(user, "generation__"), generation__deleted_at__isnull=True
    ).filter(
        Q(source_image__isnull=True)
        | (
            Generation.visible_q(user, "source_image__generation__")
            & Q(source_image__generation__deleted_at__isnull=True)
        )
    )
    return refs if generation is None else refs.filter(generation=generation)


def composer_context(form: GenerationForm) -> dict:
    configured = providers()
    capabilities = list(ModelCapability.objects.filter(active=True))
    selected = form["model"].value()
    current = next((c for c in capabilities if c.model_id == selected), capabilities[0] if capabilities else None)
    return {
        "current_model": current,
        "current_ratio": form["aspect_ratio"].value() or "1:1",
        "current_size": form["size"].value() or (current.default_size if current else "1K"),
        "form": form,
        "only_demo": all(p.is_demo for p in configured.values()),
        "composer_config": {
            "models": {
                c.model_id: {
                    "label": c.label,
                    "sizes": c.sizes,
                    "ratios": c.aspect_ratios,
                    "maxRefs": c.max_reference_images,
                }
                for c in capabilities
            },
            "providers": {
                p.name: [c.model_id for c in capabilities if p.serves(c.model_id)] for p in configured.values()
            },
            "presets": {
                p.slug: {"ratio": p.aspect_ratio, "size": p.size, "style": p.style.slug if p.style else ""}
                for p in Preset.objects.filter(active=True).select_related("style")
            },
        },
        "capabilities": capabilities,
    }


@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GenerationForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                generation = generations.submit(
                    request.user, form.cleaned_data, remix_of=form.cleaned_data.get("remix_of")
                )
            except BudgetExceeded as exc:
                form.add_error(None, exc)
            else:
                return redirect(generation)
        return render(request, "generator/compose.html", composer_context(form), status=400)
    initial = {}
    model = ModelCapability.objects.filter(active=True).first()
    if model:
        initial = {"model": model.model_id, "size": model.default_size, "aspect_ratio": "1:1"}
    initial.update(prefill.initial_from(request.GET, request.user))
    form = GenerationForm(initial=initial, user=request.user)
    return render(request, "generator/compose.html", composer_context(form))


@require_POST
def quote(request: HttpRequest) -> HttpResponse:
    """The price of exactly the request in the form, and what it leaves of the
    tightest budget, for the composer (htmx)."""
    form = GenerationForm(request.POST, user=request.user)
    form.is_valid()
    data = form.cleaned_data
    context: dict = {"estimate": None, "errors": form.errors, "is_demo": data.get("provider") == "demo"}
    # The price does not wait for the prompt: an empty or over-long prompt is the
    # submit's business, the quote estimates with whatever text is there.
    if set(form.errors) <= {"prompt"} and all(k in data for k in ("model", "size", "n", "provider_config")):
        data.setdefault("prompt", request.POST.get("prompt", "")[: settings.PROMPT_MAX_CHARS])
        # Reference files are not posted with the live quote, only how many there are.
        uploads = min(_int(request.POST.get("reference_count")), data["model"].max_reference_images)
        estimate = generations.quote_for(data, uploads=uploads)
        context.update(budgets.quote_context(estimate, budgets.tightest(request.user.pk)))
    return render(request, "generator/compose.html#quote", context)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


@require_GET
def generation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(visible_generations(request.user).select_related("user", "style", "preset"), pk=pk)
    template = "generator/generation.html#status" if request.htmx else "generator/generation.html"
    return render(
        request,
        template,
        {
            "generation": generation,
            "images": generation.images.all(),
            "references": visible_references(request.user, generation).select_related("source_image"),
        },
    )


HISTORY_PAGE_SIZE = 50


@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """Every generation of the user's (all of the team's for staff with ?who=all),
    whatever its outcome: the place to find failed, blocked and queued jobs."""
    status = request.GET.get("status", "")
    rows = visible_generations(request.user).select_related("user").prefetch_related("images")
    who_all = request.user.is_staff and request.GET.get("who") == "all"
    if not who_all:
        rows = rows.filter(user=request.user)
    if status in Generation.Status.values:
        rows = rows.filter(status=status)
    page = Paginator(rows.order_by("-created_at", "-id"), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "generator/history.html",
        {"page": page, "status": status, "statuses": Generation.Status.choices, "who_all": who_all},
    )


@require_POST
def generation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(visible_generations(request.user), pk=pk)
    if generation.user_id != request.user.pk and not request.user.is_staff:
        raise Http404
    dispatch.cancel(generation)
    return redirect(generation)


def own_batches(user):
    return Batch.objects.all() if user.is_staff else Batch.objects.filter(user=user)


@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    rows = batches.with_progress(own_batches(request.user).select_related("user").order_by("-created_at", "-pk"), 100)
    return render(request, "generator/batches.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = BatchForm(request.POST, request.FILES, user=request.user)
        defaults = GenerationForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                batch = batches.create(request.user, form.cleaned_data["rows"], form.cleaned_data["name"])
            except BudgetExceeded as exc:
                form.add_error(None, f"The batch does not fit the budget, so nothing was created. {exc.message}")
            else:
                return redirect("generator:batch", batch.pk)
        context = composer_context(defaults)
        context["batch_form"] = form
        return render(request, "generator/batch_new.html", context, status=400)
    model = ModelCapability.objects.filter(active=True).first()
    initial = {"model": model.model_id, "size": model.default_size, "aspect_ratio": "1:1"} if model else {}
    context = composer_context(GenerationForm(initial=initial, user=request.user))
    context["batch_form"] = BatchForm(user=request.user)
    return render(request, "generator/batch_new.html", context)


@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(own_batches(request.user), pk=pk)
    template = "generator/batch.html#progress" if request.htmx else "generator/batch.html"
    return render(
        request,
        template,
        {
            "batch": batch,
            "progress": batches.progress(batch),
            "generations": batch.generations.order_by("id").prefetch_related("images"),
        },
    )


@require_POST
def batch_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(own_batches(request.user), pk=pk)
    canceled, in_flight = batches.cancel(batch)
    note = f"Canceled {canceled} queued generation{'s' if canceled != 1 else ''}."
    if in_flight:
        note += f" {in_flight} already with the provider will finish and be charged; none of them will be retried."
    messages.info(request, note)
    return redirect("generator:batch", batch.pk)


def _serve(name: str, mime_type: str, download_name: str | None = None) -> HttpResponse:
    if not default_storage.exists(name):
        raise Http404("The file is missing from storage.")
    if settings.STORAGES["default"]["BACKEND"].endswith("S3Storage"):
        return redirect(default_storage.url(name))  # short-lived signed URL
    response = FileResponse(
        default_storage.open(name, "rb"),
        content_type=mime_type,
        as_attachment=download_name is not None,
        filename=download_name or "",
    )
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
def image_file(request: HttpRequest, pk: int, variant: str) -> HttpResponse:
    if variant not in ("original", "thumb", "download"):
        raise Http404
    image = get_object_or_404(visible_images(request.user), pk=pk)
    if variant == "thumb" and image.thumbnail:
        return _serve(image.thumbnail.name, "image/webp")
    download = None
    if variant == "download":
        download = f"nanobanana-{image.generation_id}-{image.index}.{image.file.name.rsplit('.', 1)[-1]}"
    return _serve(image.file.name, image.mime_type, download)


@require_GET
def reference_file(request: HttpRequest, pk: int) -> HttpResponse:
    ref = get_object_or_404(visible_references(request.user), pk=pk)
    return _serve(ref.file.name, ref.mime_type)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # pragma: no cover - depends on a broken database
        database = f"error: {type(exc).__name__}"
    ok = database == "ok"
    return JsonResponse(
        {
            "status": "ok" if ok else "error",
            "database": database,
            "queued": Generation.objects.filter(status=Generation.Status.QUEUED).count() if ok else None,
        },
        status=200 if ok else 503,
        json_dumps_params={"indent": None},
        encoder=json.JSONEncoder,
    )
