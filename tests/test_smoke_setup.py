from accounts.ranks import Rank


def test_org_fixture_builds_a_chain(org):
    assert org["asset"].reports_to_id == org["shadow"].id
    assert org["asset"].chain.startswith(org["nyx"].chain)
    assert org["niki"].rank == Rank.NIKI and org["niki"].hidden
