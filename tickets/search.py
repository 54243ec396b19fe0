"""Full-text search over tickets' titles, bodies and comments (docs/rules.md 20).

One interface, two indexes, chosen by the database:

- **SQLite: FTS5.** The virtual table `ticket_search` (migration 0005) holds one row per ticket: its id, title,
  body and all its comments. A search is a join from the tickets the member may see to the rows that match,
  ranked by FTS5's bm25 (a word in the title counts ten times, in the body three times, in a comment once).
  The only SQL written by hand in the project lives here, because Django has no expression for FTS5.
- **Any other database (MongoDB): a word index.** `SearchTerm` rows, one per distinct word of a ticket, with a
  weight counted the same way; a search keeps the tickets holding a word that starts with each word searched
  and ranks them by the sum of the matching weights. Plain ORM: it runs on SQLite too, and the tests run it there.

`settings.TICKET_SEARCH_INDEX` ("fts5" or "terms") overrides the choice. Either way the index is written by
`reindex`, called by every service that writes a title, a body or a comment, inside its atomic unit; `rebuild`
writes it for every ticket (the migration, `manage.py seed_scale`, and after switching index).

Search never widens what a member sees: both functions take the member's visible tickets and only narrow them.
"""

import re
import unicodedata
from collections import Counter

from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, Func, IntegerField, Lookup, OuterRef, Q, Subquery, Sum, TextField
from django.db.models.functions import Coalesce

WORD = re.compile(r"\w+")
MAX_WORDS = 8  # words of one search that count; more are ignored
TERM_MAX = 40  # characters of a word the word index keeps
TITLE_WEIGHT, BODY_WEIGHT, COMMENT_WEIGHT = 10, 3, 1
FTS_TABLE = "ticket_search"
FTS_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "ticket_id, title, body, comments, seen_by, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
)
CHUNK = 100  # candidates checked against the member's visible tickets at a time (ranked_rows); grows 4x


def index_kind():
    return getattr(settings, "TICKET_SEARCH_INDEX", None) or ("fts5" if connection.vendor == "sqlite" else "terms")


def words_of(text, limit=None):
    """The words of `text` as the indexes compare them: lower case, accents dropped, in order."""
    plain = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in plain if not unicodedata.combining(char)).casefold()
    found = WORD.findall(plain)
    return found[:limit] if limit else found


# Writing ---------------------------------------------------------------------------------------------------


def reindex(ticket_id):
    """Write one ticket's search entry from its title, body and comments. Call inside the writing service's
    atomic unit, after the write."""
    from tickets.models import Comment, SearchTerm, Ticket, TicketWatcher

    ticket = Ticket.objects.filter(id=ticket_id).values("id", "title", "body_md").first()
    if ticket is None:
        return
    comments = list(
        Comment.objects.filter(ticket_id=ticket_id).order_by("created_at", "id").values_list("body_md", flat=True)
    )
    if index_kind() == "fts5":
        (seen_by,) = _seen_by(Ticket, TicketWatcher, [ticket_id]).values()
        with connection.cursor() as cursor:
            _fts_delete(cursor, ticket["id"])
            _fts_insert(cursor, [(ticket["id"], ticket["title"], ticket["body_md"], "\n\n".join(comments), seen_by)])
    else:
        SearchTerm.objects.filter(ticket_id=ticket_id).delete()
        SearchTerm.objects.bulk_create(_terms(SearchTerm, ticket["id"], ticket["title"], ticket["body_md"], comments))


def rebuild(
    *, ticket_model=None, comment_model=None, term_model=None, watcher_model=None, using=None, batch=2000, only=None
):
    """Write the search index of every ticket (or of the tickets `only` keeps) again. The models may be a
    migration's historical ones."""
    from tickets import models

    ticket_model = ticket_model or models.Ticket
    comment_model = comment_model or models.Comment
    term_model = term_model or models.SearchTerm
    watcher_model = watcher_model or models.TicketWatcher
    database = connection if using is None else using
    fts = index_kind() == "fts5"
    if only is None:
        if fts:
            with database.cursor() as cursor:
                cursor.execute(FTS_CREATE)
                cursor.execute(f"DELETE FROM {FTS_TABLE}")
        else:
            term_model.objects.all().delete()
    rows = ticket_model.objects.order_by("id").values_list("id", "title", "body_md")
    if only is not None:
        rows = rows.filter(only)
    last = ""
    while True:
        chunk = list(rows.filter(id__gt=last)[:batch])
        if not chunk:
            break
        last = chunk[-1][0]
        ids = [row[0] for row in chunk]
        comments = {}
        thread = comment_model.objects.filter(ticket_id__in=ids).order_by("created_at", "id")
        for ticket_id, body in thread.values_list("ticket_id", "body_md"):
            comments.setdefault(ticket_id, []).append(body)
        if fts:
            seen_by = _seen_by(ticket_model, watcher_model, ids)
            with database.cursor() as cursor:
                if only is not None:
                    for ticket_id in ids:
                        _fts_delete(cursor, ticket_id)
                _fts_insert(
                    cursor,
                    [
                        (tid, title, body, "\n\n".join(comments.get(tid, ())), seen_by[tid])
                        for tid, title, body in chunk
                    ],
                )
        else:
            if only is not None:
                term_model.objects.filter(ticket_id__in=ids).delete()
            terms = []
            for tid, title, body in chunk:
                terms.extend(_terms(term_model, tid, title, body, comments.get(tid, ())))
            term_model.objects.bulk_create(terms, batch_size=5000)


def index_new(tickets):
    """Index tickets just created in bulk, without comments yet (manage.py seed_scale). Call inside the atomic
    unit that created them."""
    from tickets.models import SearchTerm

    if index_kind() == "fts5":
        with connection.cursor() as cursor:
            _fts_insert(
                cursor,
                [
                    (
                        ticket.id,
                        ticket.title,
                        ticket.body_md,
                        "",
                        _seen_by_words(
                            ticket.visibility, ticket.author.chain, ticket.assignee.chain, ticket.reviewer_id, ()
                        ),
                    )
                    for ticket in tickets
                ],
            )
    else:
        terms = []
        for ticket in tickets:
            terms.extend(_terms(SearchTerm, ticket.id, ticket.title, ticket.body_md, ()))
        SearchTerm.objects.bulk_create(terms, batch_size=5000)


def reindex_subtree_of(person):
    """After `person` moved in the hierarchy (accounts.services.move_member, same atomic unit): write again the
    entries of the tickets of everyone now in their subtree."""
    from accounts.models import User
    from accounts.selectors import in_subtree

    chain = User.objects.filter(id=person.id).values_list("chain", flat=True).first()
    if chain:
        reindex_people(User.objects.filter(in_subtree(chain)).values_list("id", flat=True))


def reindex_people(member_ids):
    """Write again the entries of the tickets written by or assigned to `member_ids`: their places in the
    hierarchy changed (accounts.services.move_member), and with them who sees those tickets."""
    member_ids = list(member_ids)
    if member_ids and index_kind() == "fts5":
        rebuild(only=Q(author_id__in=member_ids) | Q(assignee_id__in=member_ids), batch=500)


def _seen_by(ticket_model, watcher_model, ids):
    """{ticket id: the `seen_by` words of its FTS5 row} for the tickets `ids`."""
    watchers = {}
    for ticket_id, user_id in watcher_model.objects.filter(ticket_id__in=ids).values_list("ticket_id", "user_id"):
        watchers.setdefault(ticket_id, []).append(user_id)
    rows = ticket_model.objects.filter(id__in=ids).values_list(
        "id", "visibility", "author__chain", "assignee__chain", "reviewer_id"
    )
    return {
        ticket_id: _seen_by_words(visibility, author_chain, assignee_chain, reviewer_id, watchers.get(ticket_id, ()))
        for ticket_id, visibility, author_chain, assignee_chain, reviewer_id in rows
    }


def _seen_by_words(visibility, author_chain, assignee_chain, reviewer_id, watcher_ids):
    """The ids of the members who may see a ticket, as `tickets.selectors.visible_tickets` decides: its author,
    assignee and reviewer; for a hierarchical ticket also its watchers and everyone above its author or
    assignee (their chains). Only a first sieve: a search keeps a candidate only if `visible_tickets` does."""
    author, assignee = _chain_ids(author_chain), _chain_ids(assignee_chain)
    people = {author[-1], assignee[-1], reviewer_id} if author and assignee else {reviewer_id}
    if visibility != "private":
        people.update(author, assignee, watcher_ids)
    return " ".join(sorted(person for person in people if person))


def _chain_ids(chain):
    return [part for part in (chain or "").split("/") if part]


def _fts_delete(cursor, ticket_id):
    # The ticket id is an indexed column, so finding its row is an index look-up, not a scan.
    cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [f'ticket_id : "{ticket_id}"'])


def _fts_insert(cursor, rows):
    cursor.executemany(
        f"INSERT INTO {FTS_TABLE} (ticket_id, title, body, comments, seen_by) VALUES (%s, %s, %s, %s, %s)", rows
    )


def _terms(term_model, ticket_id, title, body, comments):
    weights = Counter()
    for word in words_of(title):
        weights[word[:TERM_MAX]] += TITLE_WEIGHT
    for word in words_of(body):
        weights[word[:TERM_MAX]] += BODY_WEIGHT
    for comment in comments:
        for word in words_of(comment):
            weights[word[:TERM_MAX]] += COMMENT_WEIGHT
    return [term_model(ticket_id=ticket_id, term=term, weight=weight) for term, weight in weights.items()]


# Reading ---------------------------------------------------------------------------------------------------


def matching(tickets, text):
    """`tickets` (a member's visible tickets, already filtered) narrowed to those whose title, body or
    comments hold every word of `text` (each word also as the start of a longer one: "cut" finds "cutter")."""
    words = words_of(text, MAX_WORDS)
    if not words:
        return tickets.none()
    if index_kind() == "fts5":
        return tickets.filter(search_row__title__fts=_fts_query(words))
    from tickets.models import SearchTerm

    for word in words:
        tickets = tickets.filter(id__in=SearchTerm.objects.filter(term__startswith=word).values("ticket_id"))
    return tickets


def ranked(tickets, text):
    """`matching`, best match first (then most recently changed)."""
    words = words_of(text, MAX_WORDS)
    found = matching(tickets, text)
    if not words:
        return found
    if index_kind() == "fts5":
        return found.annotate(search_rank=Bm25("search_row__title")).order_by("search_rank", "-search_row__rowid")
    from tickets.models import SearchTerm

    any_word = Q()
    for word in words:
        any_word |= Q(term__startswith=word)
    score = (
        SearchTerm.objects.filter(any_word, ticket_id=OuterRef("id"))
        .values("ticket_id")
        .annotate(total=Sum("weight"))
        .values("total")
    )
    return found.annotate(search_rank=Coalesce(Subquery(score, output_field=IntegerField()), 0)).order_by(
        F("search_rank").desc(), "-updated_at", "-id"
    )


def ranked_rows(tickets, text, *, viewer, start, count, fields):
    """Rows `start` to `start + count` of `ranked(tickets, text)`, as dicts of `fields`; `tickets` are the
    ones `viewer` may see (and the list's other filters keep).

    On FTS5 the index itself first narrows the matches to the tickets whose `seen_by` words name the viewer
    (everyone who may see a ticket: see `_seen_by_words`), best first; those candidates are then kept only if
    `tickets` holds them, a hundred at a time. A common word matches thousands of tickets, of which a member
    sees a few: this looks at the few. The index is only a sieve: what is shown is what `tickets` allows.
    """
    words = words_of(text, MAX_WORDS)
    if not words:
        return []
    if index_kind() != "fts5":
        return list(ranked(tickets, text).values(*fields)[start : start + count])
    from accounts.policy import Action, sees_everyone
    from tickets.models import TicketSearchRow

    query = _fts_query(words)
    if not sees_everyone(viewer, Action.VIEW_SUBORDINATE_TICKETS):
        query = f'{query} AND seen_by : "{viewer.id}"'
    candidates = (
        TicketSearchRow.objects.filter(title__fts=query)
        .annotate(search_rank=Bm25("title"))
        .order_by("search_rank", "-rowid")
        .values_list("ticket_id", flat=True)
    )
    rows, offset, size = [], 0, CHUNK
    while len(rows) < start + count:
        chunk = list(candidates[offset : offset + size])
        position = {ticket_id: place for place, ticket_id in enumerate(chunk)}
        rows.extend(sorted(tickets.filter(id__in=chunk).values(*fields), key=lambda row: position[row["id"]]))
        if len(chunk) < size:
            break
        offset, size = offset + size, size * 4
    return rows[start : start + count]


def _fts_query(words):
    # Each word is \w+ only, so quoting it is enough; the ticket id column is never searched.
    return "{title body comments} : (" + " AND ".join(f'"{word}"*' for word in words) + ")"


class FtsColumn(TextField):
    """A column of the FTS5 table: the only field with the `fts` lookup."""


@FtsColumn.register_lookup
class FtsMatch(Lookup):
    """`search_row__title__fts=query`: the FTS5 row matches `query` (any column the query names)."""

    lookup_name = "fts"

    def as_sql(self, compiler, connection):
        if connection.vendor != "sqlite":
            raise NotImplementedError("FTS5 search is for SQLite only; other databases use the word index.")
        rhs, rhs_params = self.process_rhs(compiler, connection)
        table = connection.ops.quote_name(self.lhs.alias)
        return f"{table}.{connection.ops.quote_name(FTS_TABLE)} MATCH {rhs}", rhs_params


class Bm25(Func):
    """FTS5's relevance of the matched row (lower is better), weighting title, body and comments."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        (column,) = self.get_source_expressions()
        table = connection.ops.quote_name(column.alias)
        weights = f"0.0, {TITLE_WEIGHT}.0, {BODY_WEIGHT}.0, {COMMENT_WEIGHT}.0, 0.0"
        return f"bm25({table}.{connection.ops.quote_name(FTS_TABLE)}, {weights})", []
