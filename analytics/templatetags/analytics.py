from django import template

register = template.Library()


@register.filter
def duration_text(duration):
    """A span of time as people read it: "3 d 4 h", "2 h 15 min", "40 s"; a dash for none."""
    if duration is None:
        return "—"
    seconds = int(duration.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"
