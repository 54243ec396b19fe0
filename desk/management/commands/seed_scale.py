"""A large, consistent organisation for benchmarks: `manage.py seed_scale --users N --tickets M`.

This is the one place that writes models without going through the services. It is a bulk loader:
the services write one row at a time with their policy checks, notifications and events, which would
take hours for a million tickets. It writes only seed data that is consistent by construction: every
member reports to a superior of a higher rank with the chain the services would give; every reviewer
is the one `submit_for_review` would pick; every closed ticket has its approval step and exactly one
credit award and one payment in the ledger, every wallet equals the sum of its ledger entries, the
daily ledger totals equal the ledger and the daily review totals the closed tickets (tests/invariants.py).
It uses `bulk_create` and `bulk_update` only (no raw SQL), so it runs on SQLite and MongoDB alike.
"""

import random
import sys
import time
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError

from accounts.models import CHAIN_SEPARATOR, User
from accounts.ranks import Rank
from accounts.services import SERVICE_NUMBER_RANGE, issuable_service_number
from directorate.db import atomic, new_object_id, now
from economy import ledger
from economy.models import Transaction
from economy.rates import CENT, abnormal_pay_limit, rate_for
from tickets import review_totals, search
from tickets.categories import CATEGORIES
from tickets.models import RANK_CHANGES, ApprovalStep, Ticket

BATCH = 2000
# Per 1,000 members: 2 executors, 20 marshals, 120 shadows, the rest assets.
SHARES = {Rank.EXECUTOR: 0.002, Rank.MARSHAL: 0.02, Rank.SHADOW: 0.12}
# Share of tickets in each status (the rest are closed).
STATUS_SHARES = {"open": 0.12, "in_progress": 0.13, "awaiting_review": 0.10}
ESCALATED_SHARE = 0.05  # of the tickets awaiting review: abnormal awards recommended up to an executor
HISTORY_DAYS = 365
FIRST = (
    "Ada",
    "Bo",
    "Cy",
    "Dag",
    "Eli",
    "Fen",
    "Gil",
    "Hana",
    "Ivo",
    "Juno",
    "Kit",
    "Lena",
    "Mira",
    "Nell",
    "Oren",
    "Pia",
    "Quin",
    "Rhea",
    "Silas",
    "Teo",
    "Uma",
    "Vera",
    "Wes",
    "Xan",
    "Yara",
    "Zeno",
)
LAST = (
    "Ash",
    "Brand",
    "Crane",
    "Dale",
    "Ferro",
    "Grey",
    "Holt",
    "Kade",
    "Lark",
    "Moss",
    "North",
    "Pike",
    "Quill",
    "Reyes",
    "Sato",
    "Stone",
    "Vance",
    "Voss",
    "Wren",
    "Yates",
)
VERBS = ("Inspect", "Repair", "Report on", "Secure", "Audit", "Deliver", "Survey", "Resolve", "Escort", "Catalogue")
# Ticket bodies: two of these sentences, so that a search finds words in bodies as well as titles.
SENTENCES = (
    "The fence wire was cut overnight.",
    "Lanterns are needed for the night shift.",
    "Two crates of rations are missing.",
    "The relay hums and drops calls.",
    "Permits expire on Friday.",
    "A patrol saw smoke near the river.",
    "The archive door is jammed.",
    "Fuel stocks run low.",
    "The checkpoint log has gaps.",
    "Radios need new batteries.",
    "Roof leaks over the ledger office.",
    "Ask the quartermaster for spare parts.",
    "Signal flares were used without orders.",
    "The gate lock is broken.",
    "Maps of sector 7 are out of date.",
    "Report any strangers at once.",
)
OBJECTS = (
    "the east depot",
    "sector 7 relay",
    "the archive",
    "supply line B",
    "the northern checkpoint",
    "ration cards",
    "the signal tower",
    "district 4 patrols",
    "the ledger office",
    "transit permits",
)


def username(rank, number):
    return f"{rank}.{number:06d}"


class Progress:
    """One stderr line, rewritten in place."""

    def __init__(self, label, total, stream):
        self.label, self.total, self.stream, self.started, self.shown = label, total, stream, time.monotonic(), 0

    def update(self, done):
        if done < self.total and time.monotonic() - self.shown < 0.2:
            return
        self.shown = time.monotonic()
        share = done / self.total if self.total else 1
        bar = "#" * int(share * 30)
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r{self.label:<8} [{bar:<30}] {done:>9,}/{self.total:,} {share:4.0%} {elapsed:6.1f} s")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Bulk-load a large, consistent organisation under Nyx for benchmarks (run bootstrap first)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, required=True, help="human members to enlist (at least 10)")
        parser.add_argument("--tickets", type=int, required=True, help="tickets to create")
        parser.add_argument("--seed", type=int, default=0, help="random seed (the same seed gives the same data)")
        parser.add_argument(
            "--review-share",
            type=float,
            default=STATUS_SHARES["awaiting_review"],
            help="share of tickets awaiting review (default 0.10)",
        )
        parser.add_argument("--password", default=None, help="the members' shared password (default: generated)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, users, tickets, seed, review_share, password, quiet, **options):
        nyx = User.objects.filter(rank=Rank.NYX).first()
        if nyx is None:
            raise CommandError("Nyx does not exist yet: run `manage.py bootstrap` first.")
        if users < 10 or tickets < 0:
            raise CommandError("--users must be at least 10 and --tickets at least 0.")
        if not 0 <= review_share <= 1 - STATUS_SHARES["open"] - STATUS_SHARES["in_progress"]:
            raise CommandError("--review-share must be between 0 and 0.75.")
        if User.objects.filter(username=username(Rank.EXECUTOR, 1)).exists():
            raise CommandError("This database is already seeded at scale; use a fresh database.")
        low, high = SERVICE_NUMBER_RANGE
        taken = set(User.objects.values_list("service_number", flat=True))
        issuable = [n for n in range(low, high + 1) if n not in taken and issuable_service_number(n)]
        free = len(issuable)
        if users > free:
            raise CommandError(f"Only {free:,} five-digit service numbers are free; use --users {free} or fewer.")
        stream = sys.stderr if not quiet else None
        rng = random.Random(seed)
        started = time.monotonic()
        password = password or f"scale-{rng.getrandbits(64):016x}"
        password_hash = make_password(password)
        members = self.enlist(rng, nyx, users, password_hash, issuable, stream)
        counts = self.open_tickets(rng, members, tickets, review_share, stream)
        self.stdout.write(
            f"Seeded {users:,} members and {tickets:,} tickets ({counts}) in {time.monotonic() - started:.1f} s. "
            f"Shared password: {password}"
        )

    def enlist(self, rng, nyx, total, password_hash, issuable, stream):
        executors = max(1, round(total * SHARES[Rank.EXECUTOR]))
        marshals = max(2, round(total * SHARES[Rank.MARSHAL]))
        shadows = max(4, round(total * SHARES[Rank.SHADOW]))
        plan = [
            (Rank.EXECUTOR, executors),
            (Rank.MARSHAL, marshals),
            (Rank.SHADOW, shadows),
            (Rank.ASSET, total - executors - marshals - shadows),
        ]
        numbers = iter(rng.sample(issuable, total))  # free numbers, none holding the Controller's
        moment = now()
        by_rank = {}
        superiors = [nyx]
        progress = Progress("members", total, stream) if stream else None
        done = 0
        for rank, count in plan:
            people = []
            for number in range(1, count + 1):
                superior = superiors[(number - 1) % len(superiors)] if rank == Rank.EXECUTOR else rng.choice(superiors)
                member_id = new_object_id()
                joined = moment - timedelta(
                    days=HISTORY_DAYS + rng.randrange(365), milliseconds=rng.randrange(86_400_000)
                )
                people.append(
                    User(
                        id=member_id,
                        username=username(rank, number),
                        display_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        service_number=next(numbers),
                        rank=rank,
                        reports_to=superior,
                        chain=f"{superior.chain}{member_id}{CHAIN_SEPARATOR}",
                        password=password_hash,
                        created_at=joined,
                        updated_at=joined,
                    )
                )
            for start in range(0, len(people), BATCH):
                with atomic():
                    User.objects.bulk_create(people[start : start + BATCH])
                done += len(people[start : start + BATCH])
                if progress:
                    progress.update(done)
            by_rank[rank] = people
            superiors = people
        return by_rank

    def open_tickets(self, rng, by_rank, total, review_share, stream):
        members = {person.id: person for people in by_rank.values() for person in people}
        ranks = {person.id: person.rank for person in members.values()}
        workers = by_rank[Rank.MARSHAL] + by_rank[Rank.SHADOW] + by_rank[Rank.ASSET]
        words = random.Random(rng.random())  # bodies from a stream of their own, seeded from the main one

        def ancestor(person, rank):
            while person.rank != rank:
                person = members[person.reports_to_id]
            return person

        # The reviewer submit_for_review picks: the nearest superior who may approve a normal reward
        # (a marshal for assets and shadows, an executor for marshals); an executor for abnormal awards.
        reviewer_of = {p.id: ancestor(p, Rank.EXECUTOR if p.rank == Rank.MARSHAL else Rank.MARSHAL) for p in workers}
        executor_of = {p.id: ancestor(p, Rank.EXECUTOR) for p in workers}
        categories = [
            (category, sub)
            for category, subs in CATEGORIES.items()
            for sub in subs
            if (category, sub) not in RANK_CHANGES  # personnel requests are decided, not paid
        ]
        wallets = {}
        moment = now()
        counts = dict.fromkeys(("open", "in_progress", "awaiting_review", "closed"), 0)
        cut_open = STATUS_SHARES["open"]
        cut_progress = cut_open + STATUS_SHARES["in_progress"]
        cut_review = cut_progress + review_share
        progress = Progress("tickets", total, stream) if stream else None
        for start in range(0, total, BATCH):
            tickets, steps, entries = [], [], []
            for _ in range(min(BATCH, total - start)):
                assignee = rng.choice(workers)
                superior = members[assignee.reports_to_id]
                author = superior if rng.random() < 0.75 else assignee
                category, sub = rng.choice(categories)
                created = moment - timedelta(milliseconds=rng.randrange(HISTORY_DAYS * 86_400_000))
                updated = created + timedelta(milliseconds=rng.randrange(1, 3 * 86_400_000))
                updated = min(updated, moment)
                draw = rng.random()
                status = (
                    "open"
                    if draw < cut_open
                    else "in_progress"
                    if draw < cut_progress
                    else "awaiting_review"
                    if draw < cut_review
                    else "closed"
                )
                ticket = Ticket(
                    id=new_object_id(),
                    title=f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}",
                    body_md=f"{words.choice(SENTENCES)} {words.choice(SENTENCES)}",
                    category=category,
                    sub_category=sub,
                    status=status,
                    visibility=Ticket.Visibility.PRIVATE if rng.random() < 0.05 else Ticket.Visibility.HIERARCHICAL,
                    author=author,
                    assignee=assignee,
                    target_rank=assignee.rank,
                    created_at=created,
                    updated_at=updated if status != "open" else created,
                )
                counts[status] += 1
                tickets.append(ticket)
                if status in ("open", "in_progress"):
                    continue
                rate = rate_for(assignee.rank)
                hours = Decimal(rng.randrange(1, 11)) / 2  # 0.5 to 5 hours: never above the abnormal pay limit
                ticket.hours_worked = hours
                ticket.reward_credits = rate.credits_per_task
                ticket.reward_pay = (rate.hourly_pay * hours).quantize(CENT)
                ticket.proposed_by = assignee
                ticket.reviewer = reviewer_of[assignee.id]
                # Submitted halfway between creation and the last change (no draw: the same seed, the same data).
                halfway = (updated - created) / 2
                ticket.submitted_at = created + halfway - timedelta(microseconds=halfway.microseconds % 1000)
                if status == "awaiting_review":
                    if rng.random() < ESCALATED_SHARE and assignee.rank != Rank.MARSHAL:
                        # An abnormal proposal the marshal recommended; the executor above decides.
                        ticket.reward_credits = 150
                        ticket.reward_pay = abnormal_pay_limit(assignee.rank) + 1
                        steps.append(
                            ApprovalStep(
                                ticket=ticket,
                                approver=ticket.reviewer,
                                decision=ApprovalStep.Decision.RECOMMENDED,
                                credits=ticket.reward_credits,
                                pay=ticket.reward_pay,
                                note="Abnormal award: escalated.",
                                ts=updated,
                            )
                        )
                        ticket.reviewer = executor_of[assignee.id]
                    continue
                ticket.closed_at = updated
                steps.append(
                    ApprovalStep(
                        ticket=ticket,
                        approver=ticket.reviewer,
                        decision=ApprovalStep.Decision.APPROVED,
                        credits=ticket.reward_credits,
                        pay=ticket.reward_pay,
                        ts=updated,
                    )
                )
                entries.append(
                    Transaction(
                        user=assignee,
                        type=Transaction.Type.CREDIT_AWARD,
                        amount_cr=ticket.reward_credits,
                        related_ticket=ticket,
                        approved_by=ticket.reviewer,
                        ts=updated,
                    )
                )
                entries.append(
                    Transaction(
                        user=assignee,
                        type=Transaction.Type.PAYMENT,
                        amount_pay=ticket.reward_pay,
                        related_ticket=ticket,
                        approved_by=ticket.reviewer,
                        ts=updated,
                    )
                )
                credits, pay = wallets.get(assignee.id, (0, Decimal("0.00")))
                wallets[assignee.id] = (credits + ticket.reward_credits, pay + ticket.reward_pay)
            with atomic():
                Ticket.objects.bulk_create(tickets)
                search.index_new(tickets)
                ApprovalStep.objects.bulk_create(steps)
                Transaction.objects.bulk_create(entries)
                ledger.add_in_bulk(entries, ranks)  # the daily totals, in the same unit
                review_totals.add_in_bulk(  # a closed ticket's log holds only its approval: none escalated
                    (ranks[ticket.assignee_id], ticket.submitted_at, ticket.closed_at, False)
                    for ticket in tickets
                    if ticket.status == "closed"
                )
            if progress:
                progress.update(start + len(tickets))
        people = []
        for member_id, (credits, pay) in wallets.items():
            person = members[member_id]
            # Every entry loaded is an award or a payment: all the credits are gained.
            person.credits, person.balance, person.credits_gained = credits, pay, credits
            people.append(person)
        for start in range(0, len(people), 500):
            with atomic():
                User.objects.bulk_update(people[start : start + 500], ["credits", "balance", "credits_gained"])
        return ", ".join(f"{count:,} {status.replace('_', ' ')}" for status, count in counts.items())
