"""A small demo organisation for trying the Directorate out."""

from datetime import timedelta

from django.contrib.auth.hashers import make_password

from accounts.models import User
from accounts.ranks import HUMAN_RANKS
from accounts.services import enlist, nyx_account
from directorate.db import now
from tickets.services import create_ticket

SERVED = timedelta(weeks=4)
EXECUTOR = ("executor.kade", "Iris Kade")
MARSHALS = [("marshal.vance", "Oren Vance"), ("marshal.sato", "Mira Sato")]
SHADOWS = [
    ("shadow.holt", "Teo Holt"),
    ("shadow.reyes", "Lena Reyes"),
    ("shadow.brand", "Ansel Brand"),
    ("shadow.quill", "Ada Quill"),
]
ASSETS = [
    ("asset.north", "Jonas North"),
    ("asset.lark", "Pia Lark"),
    ("asset.moss", "Evan Moss"),
    ("asset.voss", "Nell Voss"),
    ("asset.crane", "Ivo Crane"),
    ("asset.ferro", "Kit Ferro"),
    ("asset.dale", "Rhea Dale"),
    ("asset.wren", "Silas Wren"),
    ("asset.ash", "Uma Ash"),
    ("asset.pike", "Bo Pike"),
    ("asset.stone", "Cy Stone"),
    ("asset.grey", "Dag Grey"),
]

# A few tickets between them: (author, assignee, what the ticket says).
DEMO_TICKETS = [
    (
        "executor.kade",
        "marshal.vance",
        {
            "category": "Order",
            "sub_category": "Routine Directive",
            "title": "Quarterly sector sweep",
            "body_md": "Sweep **sector 7** and report anomalies by Friday.",
        },
    ),
    (
        "shadow.holt",
        "asset.north",
        {
            "category": "Intel",
            "sub_category": "Recon Report",
            "title": "Observe the east depot",
            "body_md": "Log arrivals and departures for one shift.",
        },
    ),
    (
        "asset.north",
        "shadow.holt",
        {
            "category": "Request",
            "sub_category": "Resource",
            "title": "Night-vision kit for the depot watch",
            "body_md": "The current set has a cracked lens.",
        },
    ),
    (
        "marshal.sato",
        "shadow.brand",
        {
            "category": "Logistics",
            "sub_category": "Maintenance",
            "title": "Service the courier bicycles",
            "visibility": "private",
        },
    ),
    (
        "asset.ferro",
        "shadow.reyes",
        {
            "category": "Incident",
            "sub_category": "Technical Failure",
            "title": "Terminal 4 keeps rebooting",
            "body_md": "Started after last night's update.",
        },
    ),
]


def organisation_is_empty():
    return not User.objects.filter(rank__in=HUMAN_RANKS).exists()


def seed_demo_organisation(*, password):
    """Enlist 1 executor, 2 marshals, 4 shadows and 12 assets under Nyx, with a few tickets.

    Returns the enlisted members, top first.
    """
    members = []
    password_hash = make_password(password)  # one bcrypt hash for everyone: seeding stays quick

    def add(entry, rank, superior):
        username, name = entry
        member = enlist(
            username=username, display_name=name, rank=rank, reports_to=superior, password_hash=password_hash
        )
        members.append(member)
        return member

    executor = add(EXECUTOR, "executor", nyx_account())
    marshals = [add(entry, "marshal", executor) for entry in MARSHALS]
    shadows = [add(entry, "shadow", marshals[index // 2]) for index, entry in enumerate(SHADOWS)]
    for index, entry in enumerate(ASSETS):
        add(entry, "asset", shadows[index // 3])
    # The demo organisation has served for four weeks: the worker's first payroll pays the week just ended.
    User.objects.filter(id__in=[member.id for member in members]).update(created_at=now() - SERVED)

    by_username = {member.username: member for member in members}
    for author, assignee, fields in DEMO_TICKETS:
        create_ticket(actor=by_username[author], assignee_id=by_username[assignee].id, **fields)
    return members
