import pandas as pd
import pytest

from risk.errors import ConfigError, ContractError, NotInScope
from risk.scopes import (
    PERMISSIONS,
    Action,
    Forbidden,
    Role,
    Scope,
    allowed,
    authorize,
    check_four_eyes,
    check_role_scope,
)

GRIDS = pd.DataFrame(
    {
        "grid_id": ["g1", "g2", "g3", "g4"],
        "community_id": ["c1", "c1", "c2", "c3"],
        "street_id": ["s1", "s1", "s1", "s2"],
    }
)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (Scope.city(), [True, True, True, True]),
        (Scope.of("street", ["s1"]), [True, True, True, False]),
        (Scope.of("community", ["c1", "c3"]), [True, True, False, True]),
        (Scope.of("grids", ["g2"]), [False, True, False, False]),
    ],
)
def test_scope_mask_and_covers_agree(scope, expected):
    assert scope.mask(GRIDS).tolist() == expected
    assert [scope.covers(row) for row in GRIDS.to_dict("records")] == expected


def test_scope_definition_is_checked():
    with pytest.raises(ConfigError, match="unknown scope kind 'district'"):
        Scope.of("district", ["d1"])
    with pytest.raises(ConfigError, match="needs at least one id"):
        Scope.of("street", [])
    with pytest.raises(ConfigError, match="takes no values"):
        Scope.of("city", ["x"])
    with pytest.raises(ContractError, match="street_id"):
        Scope.of("street", ["s1"]).mask(GRIDS[["grid_id"]])


def test_grid_worker_scope_must_be_a_grid_list():
    check_role_scope("grid_worker", Scope.of("grids", ["g1"]))
    with pytest.raises(ConfigError, match="grid list"):
        check_role_scope(Role.GRID_WORKER, Scope.of("community", ["c1"]))


# The matrix as the issue states it: who may do what (roles not listed are forbidden).
EXPECTED = {
    "approve": {"reviewer"},
    "reject": {"reviewer"},
    "adjust_level": {"reviewer"},
    "claim": {"reviewer"},
    "escalate": {"reviewer", "commander"},
    "assign": {"commander"},
    "dispatch": {"commander"},
    "complete": {"commander", "grid_worker"},
    "view_forecasts": {"analyst", "admin"},
    "view_ranked": {"commander", "analyst", "admin"},
    "view_queue": {"reviewer", "analyst", "admin"},
    "view_patrols": {"grid_worker", "commander", "admin"},
    "report_outcome": {"grid_worker"},
    "report_event": {"grid_worker"},
    "view_review_stats": {"analyst", "admin"},
    "view_models": {"analyst", "admin"},
    "propose_model": {"analyst"},
    "promote_model": {"admin"},
    "manage_users": {"admin"},
    "view_audit": {"admin"},
    "post_events": {"integration"},
    "view_metrics": {"admin", "monitor"},
}


def test_permission_table_covers_every_action():
    assert set(EXPECTED) == {a.value for a in Action} == {a.value for a in PERMISSIONS}


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", [r.value for r in Role])
def test_authorization_matrix(role, action):
    if role in EXPECTED[action]:
        authorize(role, Scope.city(), action)
        assert allowed(role, action)
    else:
        with pytest.raises(Forbidden, match=f"role {role} may not {action}"):
            authorize(role, Scope.city(), action)


def test_separation_of_duties():
    assert not allowed("analyst", "approve")
    assert not allowed("reviewer", "promote_model")
    assert not allowed("admin", "approve")
    with pytest.raises(Forbidden, match="may not approve its promotion"):
        check_four_eyes("ann", "ann")
    check_four_eyes("ann", "bob")


def test_scope_checked_after_role():
    worker = Scope.of("grids", ["g1"])
    g1, g2 = GRIDS.iloc[0].to_dict(), GRIDS.iloc[1].to_dict()
    authorize("grid_worker", worker, "report_outcome", grid=g1)
    with pytest.raises(NotInScope, match="'g2' is outside the grids scope"):
        authorize("grid_worker", worker, "report_outcome", grid=g2)
    # wrong role is reported before scope, even for an out-of-scope grid
    with pytest.raises(Forbidden):
        authorize("grid_worker", worker, "approve", grid=g2)
    commander = Scope.of("street", ["s2"])
    with pytest.raises(NotInScope):
        authorize("commander", commander, "view_ranked", grid=g1)


def test_unknown_role_or_action():
    with pytest.raises(ConfigError, match="unknown role 'mayor'"):
        authorize("mayor", Scope.city(), "approve")
    with pytest.raises(ConfigError, match="unknown action 'delete_city'"):
        authorize("admin", Scope.city(), "delete_city")
