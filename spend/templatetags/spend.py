from django import template

from spend.money import usd as format_usd

register = template.Library()


@register.filter
def usd(value) -> str:
    return format_usd(value)
