"""Gallery views: the searchable grid, the image page and the per-image actions."""

from __future__ import annotations

import re

from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import gallery
from .lineage import lineage
from .models import Favourite, Generation, Image, Tag
from .views import visible_references

TAG_RE = re.compile(r"^[\w][\w -]{0,48}$")
MAX_TAGS_PER_IMAGE = 20


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = fallback
    return redirect(target)


def _own_generations(user) -> QuerySet:
    """Generations `user` may delete, restore or re-share: their own, or any for admins."""
    qs = Generation.objects.all()
    return qs if user.is_staff else qs.filter(user=user)


@require_GET
def gallery_view(request: HttpRequest) -> HttpResponse:
    fragment = bool(request.htmx) and "after" in request.GET
    form = gallery.GalleryFilterForm(request.GET, viewer=request.user, choices=not fragment)
    context = {"form": form, "querystring": _querystring(request), "selects": [] if fragment else form.selects()}
    if not form.is_valid():
        context["error"] = gallery.validation_message(form)
        return render(request, "generator/gallery.html", context, status=400)
    try:
        result = gallery.page(request.user, form.cleaned_data, cursor=request.GET.get("after"))
    except gallery.BadCursor as exc:
        context["error"] = str(exc)
        return render(request, "generator/gallery.html", context, status=400)
    for image in result.images:
        image.highlight = result.highlights.get(image.pk)
    context.update({"images": result.images, "next_cursor": result.next_cursor, "sort": result.sort})
    template = "generator/gallery.html#tiles" if fragment else "generator/gallery.html"
    return render(request, template, context)


def _querystring(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("after", None)
    return params.urlencode()


@require_GET
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_object_or_404(
        gallery.visible_images(request.user).select_related(
            "generation", "generation__user", "generation__style", "generation__preset"
        ),
        pk=pk,
    )
    generation = image.generation
    remix_of = None
    if generation.remix_of_id:
        remix_of = (
            Generation.objects.filter(Generation.visible_q(request.user), deleted_at__isnull=True)
            .filter(pk=generation.remix_of_id)
            .first()
        )
    can_manage = request.user.is_staff or generation.user_id == request.user.pk
    return render(
        request,
        "generator/image.html",
        {
            "image": image,
            "generation": generation,
            "siblings": gallery.visible_images(request.user).filter(generation=generation).exclude(pk=image.pk),
            "references": visible_references(request.user, generation),
            "lineage": lineage(image, request.user),
            "remix_of": remix_of,
            "is_favourite": Favourite.objects.filter(user=request.user, image=image).exists(),
            "tags": image.tags.order_by("name"),
            "can_manage": can_manage,
        },
    )


@require_POST
def favourite_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_object_or_404(gallery.visible_images(request.user), pk=pk)
    deleted, _ = Favourite.objects.filter(user=request.user, image=image).delete()
    if not deleted:
        Favourite.objects.get_or_create(user=request.user, image=image)
    if request.htmx:
        return render(request, "generator/image.html#favourite", {"image": image, "is_favourite": not deleted})
    return _back(request, image.get_absolute_url())


def _tags_response(request: HttpRequest, image: Image, error: str = "") -> HttpResponse:
    if request.htmx:
        return render(
            request,
            "generator/image.html#tags",
            {"image": image, "tags": image.tags.order_by("name"), "tag_error": error},
            # 200 even for a refused tag: htmx does not swap 4xx responses, so the
            # reason would never reach the page.
        )
    if error:
        messages.error(request, error)
    return redirect(image)


@require_POST
def tag_add(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_object_or_404(gallery.visible_images(request.user), pk=pk)
    name = " ".join((request.POST.get("name") or "").split()).lower()
    if not TAG_RE.match(name):
        return _tags_response(
            request, image, "A tag is 1–50 letters, digits, spaces or hyphens, starting with a letter or digit."
        )
    with transaction.atomic():
        if image.tags.count() >= MAX_TAGS_PER_IMAGE and not image.tags.filter(name=name).exists():
            return _tags_response(request, image, f"An image can have at most {MAX_TAGS_PER_IMAGE} tags.")
        tag, _ = Tag.objects.get_or_create(name=name)
        image.tags.add(tag)
    return _tags_response(request, image)


@require_POST
def tag_remove(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_object_or_404(gallery.visible_images(request.user), pk=pk)
    image.tags.remove(*Tag.objects.filter(name=request.POST.get("name", "")))
    return _tags_response(request, image)


@require_POST
def generation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Soft delete: hidden at once, restorable until `manage.py purge_deleted` removes the files."""
    generation = get_object_or_404(_own_generations(request.user).filter(deleted_at__isnull=True), pk=pk)
    if not Generation.objects.filter(pk=generation.pk, deleted_at__isnull=True).update(deleted_at=timezone.now()):
        raise Http404
    context = {"generation": generation, "count": generation.images.count()}
    if request.htmx:
        return render(request, "generator/deleted.html#notice", context)
    return render(request, "generator/deleted.html", context)


@require_POST
def generation_restore(request: HttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(_own_generations(request.user).filter(deleted_at__isnull=False), pk=pk)
    first = generation.images.order_by("index").first()
    if first is None:
        messages.error(request, f"Generation #{generation.pk} has been purged; its images cannot be restored.")
        return redirect("generator:gallery")
    Generation.objects.filter(pk=generation.pk).update(deleted_at=None)
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": first.get_absolute_url()})
    messages.success(request, f"Generation #{generation.pk} restored.")
    return redirect(first)


@require_POST
def generation_visibility(request: HttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(_own_generations(request.user).filter(deleted_at__isnull=True), pk=pk)
    value = request.POST.get("visibility")
    if value not in Generation.Visibility.values:
        messages.error(request, "Visibility must be team or private.")
    else:
        Generation.objects.filter(pk=generation.pk).update(visibility=value)
        messages.success(
            request, f"Generation #{generation.pk} is now {'visible to the team' if value == 'team' else 'private'}."
        )
    return _back(request, reverse("generator:generation", args=[generation.pk]))
