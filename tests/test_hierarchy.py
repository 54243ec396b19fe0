"""The reporting hierarchy: chains, subtrees, superiors, and what they cost to read."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.ranks import Rank
from accounts.selectors import (
    direct_reports_of,
    people_visible_to,
    person_for,
    subordinates_of,
    superiors_of,
)
from accounts.services import enlist
from directorate.errors import Invalid, NotFound


@pytest.fixture
def deep(directorate, make_member):
    """The longest chain ranks allow: every superior outranks its report, so six levels at most."""
    people = dict(directorate)
    people["executor"] = make_member(Rank.EXECUTOR, people["nyx"])
    people["marshal"] = make_member(Rank.MARSHAL, people["executor"])
    people["shadow"] = make_member(Rank.SHADOW, people["marshal"])
    people["asset"] = make_member(Rank.ASSET, people["shadow"])
    return people


WIDE = {"marshals": 10, "shadows_per_marshal": 5, "assets_per_shadow": 8}  # 1 + 10 + 50 + 400 people


@pytest.fixture
def wide(directorate, make_member):
    """One executor over 10 marshals, 50 shadows and 400 assets, written in a few bulk inserts.

    Chains are computed exactly as `User.save` computes them (`chain_below`).
    """
    executor = make_member(Rank.EXECUTOR, directorate["nyx"], "wide.executor")
    taken = set(User.objects.values_list("service_number", flat=True))
    numbers = (number for number in range(20_000, 99_999) if number not in taken)
    unusable = executor.password  # a login is irrelevant here; no hashing in a loop

    def member(rank, superior, name):
        person = User(
            username=name,
            display_name=name.replace(".", " ").title(),
            rank=rank,
            reports_to=superior,
            service_number=next(numbers),
            password=unusable,
        )
        person.chain = person.chain_below(superior)
        return person

    marshals = [member(Rank.MARSHAL, executor, f"wide.m{m}") for m in range(WIDE["marshals"])]
    shadows = [
        member(Rank.SHADOW, marshal, f"wide.m{m}.s{s}")
        for m, marshal in enumerate(marshals)
        for s in range(WIDE["shadows_per_marshal"])
    ]
    assets = [
        member(Rank.ASSET, shadow, f"{shadow.username}.a{a}")
        for shadow in shadows
        for a in range(WIDE["assets_per_shadow"])
    ]
    for group in (marshals, shadows, assets):
        User.objects.bulk_create(group, batch_size=500)
    return {**directorate, "executor": executor, "marshals": marshals, "shadows": shadows, "assets": assets}


def ids(people):
    return {person.id for person in people}


def test_saved_chain_is_the_path_from_the_top(deep):
    order = ["niki", "nyx", "executor", "marshal", "shadow", "asset"]
    for depth, name in enumerate(order):
        stored = User.objects.get(id=deep[name].id)
        assert stored.chain == "/" + "".join(f"{deep[above].id}/" for above in order[: depth + 1])
        assert stored.superior_ids == [deep[above].id for above in order[:depth]]


def test_deep_chain_subordinates(deep):
    order = ["nyx", "executor", "marshal", "shadow", "asset"]
    for depth, name in enumerate(order):
        assert ids(subordinates_of(deep[name])) == {deep[below].id for below in order[depth + 1 :]}, name
    everyone_but_niki = {deep[name].id for name in order}
    assert ids(subordinates_of(deep["niki"])) == everyone_but_niki


def test_deep_chain_rank_cap(deep):
    executor = deep["executor"]
    assert ids(subordinates_of(executor, up_to=Rank.ASSET)) == {deep["asset"].id}
    assert ids(subordinates_of(executor, up_to=Rank.SHADOW)) == {deep["shadow"].id, deep["asset"].id}
    assert ids(subordinates_of(deep["nyx"], up_to=Rank.EXECUTOR)) == ids(subordinates_of(deep["nyx"]))


def test_deep_chain_superiors_nearest_first_without_niki(deep):
    assert [p.id for p in superiors_of(deep["asset"])] == [deep[n].id for n in ("shadow", "marshal", "executor", "nyx")]
    assert [p.id for p in superiors_of(deep["marshal"])] == [deep["executor"].id, deep["nyx"].id]
    assert superiors_of(deep["nyx"]) == []
    assert superiors_of(deep["niki"]) == []


def test_deep_chain_direct_reports(deep):
    for superior, report in [("nyx", "executor"), ("executor", "marshal"), ("marshal", "shadow"), ("shadow", "asset")]:
        assert ids(direct_reports_of(deep[superior])) == {deep[report].id}
    assert ids(direct_reports_of(deep["asset"])) == set()
    assert ids(direct_reports_of(deep["niki"])) == {deep["nyx"].id}


def test_deep_chain_visibility(deep):
    chain = {deep[name].id for name in ("nyx", "executor", "marshal", "shadow", "asset")}
    for name in ("nyx", "executor", "marshal", "shadow", "asset"):
        assert ids(people_visible_to(deep[name])) == chain, name
    assert ids(people_visible_to(deep["niki"])) == chain | {deep["niki"].id}


def test_a_seventh_level_is_impossible(deep):
    with pytest.raises(Invalid):
        enlist(username="below.asset", display_name="Below", rank=Rank.ASSET, reports_to=deep["asset"])
    assert not User.objects.filter(username="below.asset").exists()


def test_wide_tree_has_the_planned_shape(wide):
    executor = wide["executor"]
    assert User.objects.filter(chain__startswith=executor.chain).count() == 461
    for rank, count in [(Rank.MARSHAL, 10), (Rank.SHADOW, 50), (Rank.ASSET, 400)]:
        assert User.objects.filter(chain__startswith=executor.chain, rank=rank).count() == count


def test_wide_subtree_is_one_query(wide, django_assert_max_num_queries):
    executor, marshal = wide["executor"], wide["marshals"][3]
    with django_assert_max_num_queries(1):
        everyone = list(subordinates_of(executor))
    assert len(everyone) == 460
    assert ids(everyone) == ids(wide["marshals"] + wide["shadows"] + wide["assets"])
    with django_assert_max_num_queries(1):
        under_marshal = list(subordinates_of(marshal))
    assert len(under_marshal) == 5 + 40
    assert all(person.chain.startswith(marshal.chain) for person in under_marshal)
    with django_assert_max_num_queries(1):
        capped = list(subordinates_of(executor, up_to=Rank.SHADOW))
    assert len(capped) == 450 and {person.rank for person in capped} == {Rank.SHADOW, Rank.ASSET}


def test_wide_superiors_and_direct_reports_are_one_query(wide, django_assert_max_num_queries):
    asset = wide["assets"][-1]
    shadow = wide["shadows"][-1]
    with django_assert_max_num_queries(1):
        above = superiors_of(asset)
    assert [p.id for p in above] == [shadow.id, wide["marshals"][-1].id, wide["executor"].id, wide["nyx"].id]
    with django_assert_max_num_queries(1):
        reports = list(direct_reports_of(wide["executor"]))
    assert ids(reports) == ids(wide["marshals"])
    with django_assert_max_num_queries(1):
        assert ids(direct_reports_of(shadow)) == ids(wide["assets"][-8:])


def test_wide_visibility_is_one_query(wide, django_assert_max_num_queries):
    asset, marshal = wide["assets"][0], wide["marshals"][0]
    with django_assert_max_num_queries(1):
        seen_by_asset = ids(people_visible_to(asset))
    peers = {p.id for p in wide["assets"] if p.reports_to_id == asset.reports_to_id}
    assert seen_by_asset == peers | ids(superiors_of(asset))
    assert len(seen_by_asset) == 8 + 4

    with django_assert_max_num_queries(1):
        seen_by_marshal = ids(people_visible_to(marshal))
    assert seen_by_marshal == ids(wide["marshals"]) | ids(subordinates_of(marshal)) | {
        wide["executor"].id,
        wide["nyx"].id,
    }
    assert len(seen_by_marshal) == 10 + 45 + 2

    with django_assert_max_num_queries(1):
        person_for(asset, wide["nyx"].id)
    far_asset = wide["assets"][-1]
    with pytest.raises(NotFound):
        person_for(asset, far_asset.id)


def test_niki_appears_in_no_result_for_anyone_else(wide):
    niki = wide["niki"].id
    viewers = [wide["nyx"], wide["executor"], wide["marshals"][0], wide["shadows"][0], wide["assets"][0]]
    for viewer in viewers:
        assert niki not in ids(subordinates_of(viewer))
        assert niki not in ids(superiors_of(viewer))
        assert niki not in ids(direct_reports_of(viewer))
        assert niki not in ids(people_visible_to(viewer))
        with pytest.raises(NotFound):
            person_for(viewer, niki)
    # Nyx reports to Niki, yet sees no superior at all.
    assert superiors_of(wide["nyx"]) == []


def test_every_superior_outranks_its_report(wide):
    people = {person.id: person for person in User.objects.all()}
    for person in people.values():
        if person.rank == Rank.NIKI:
            assert person.reports_to_id is None
        else:
            assert people[person.reports_to_id].level > person.level


# --- User.clean --------------------------------------------------------------------------------


def unsaved(rank, superior):
    return User(username="candidate", display_name="Candidate", rank=rank, reports_to=superior, service_number=12345)


@pytest.mark.parametrize(
    ("rank", "superior_rank"),
    [
        (Rank.MARSHAL, Rank.MARSHAL),  # equal
        (Rank.MARSHAL, Rank.SHADOW),  # lower
        (Rank.EXECUTOR, Rank.ASSET),
        (Rank.ASSET, Rank.ASSET),
        (Rank.NYX, Rank.EXECUTOR),
    ],
)
def test_clean_refuses_a_superior_who_does_not_outrank(deep, rank, superior_rank):
    superior = deep[superior_rank.value]
    with pytest.raises(ValidationError) as refused:
        unsaved(rank, superior).clean()
    assert "reports_to" in refused.value.message_dict
    with pytest.raises(Invalid):
        enlist(username="candidate", display_name="Candidate", rank=rank, reports_to=superior)
    assert not User.objects.filter(username="candidate").exists()


def test_clean_accepts_a_higher_superior_skipping_ranks(deep):
    unsaved(Rank.ASSET, deep["executor"]).clean()
    unsaved(Rank.EXECUTOR, deep["niki"]).clean()


def test_clean_refuses_niki_with_a_superior(deep):
    with pytest.raises(ValidationError) as refused:
        unsaved(Rank.NIKI, deep["nyx"]).clean()
    assert "reports_to" in refused.value.message_dict
    unsaved(Rank.NIKI, None).clean()


def test_clean_refuses_anyone_else_without_a_superior(db):
    for rank in (Rank.ASSET, Rank.EXECUTOR, Rank.NYX):
        with pytest.raises(ValidationError) as refused:
            unsaved(rank, None).clean()
        assert "reports_to" in refused.value.message_dict
