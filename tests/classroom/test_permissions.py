"""The permission table, cell by cell, against the table written out again here (not read from the module)."""

import pytest

from cnnlab import i18n
from cnnlab.classroom import permissions, sessions
from cnnlab.errors import NotAllowed

ROLES = ("guest", "student", "teacher", "owner")
EXPECTED = {  # the module docstring's table; the owner (a personal lab, the server's command line) may do everything
    #                guest  student teacher owner
    "view":         (True,  True,   True,   True),
    "train":        (False, True,   True,   True),
    "stop_own":     (False, True,   True,   True),
    "import_own":   (False, True,   True,   True),
    "import_class": (False, False,  True,   True),
    "manage":       (False, False,  True,   True),
    "see_work":     (False, True,   True,   True),  # a student: their own work only (test_requests.py)
}
CELLS = [(action, role, allowed) for action, row in EXPECTED.items() for role, allowed in zip(ROLES, row)]


def who_is(role):
    return sessions.Who(role, person_id=None if role in ("guest", "owner") else 7, name="someone")


def test_the_table_has_exactly_the_actions_written_here():
    assert set(permissions.ACTIONS) == set(EXPECTED)


@pytest.mark.parametrize("action, role, allowed", CELLS, ids=[f"{a}-{r}" for a, r, _ in CELLS])
def test_each_cell_of_the_table(action, role, allowed):
    assert permissions.may(who_is(role), action) is allowed
    if allowed:
        assert permissions.require(who_is(role), action) is None
        return
    with pytest.raises(NotAllowed) as refused:
        permissions.require(who_is(role), action)
    sentence = str(refused.value)
    assert "\n" not in sentence and sentence.endswith(".")
    students_may = EXPECTED[action][ROLES.index("student")]
    assert "teacher" in sentence  # it says who may
    assert ("student" in sentence) is students_may
    with i18n.speaking("es"):
        assert "profesor" in str(refused.value) and ("alumno" in str(refused.value)) is students_may


def test_the_ready_made_guest_and_owner_are_what_they_say():
    assert [permissions.may(sessions.GUEST, action) for action in EXPECTED] == [row[0] for row in EXPECTED.values()]
    assert all(permissions.may(sessions.OWNER, action) for action in EXPECTED)


def test_an_unknown_role_may_do_nothing():
    stranger = sessions.Who("janitor", person_id=3)
    assert not any(permissions.may(stranger, action) for action in EXPECTED)
    with pytest.raises(NotAllowed):
        permissions.require(stranger, "view")


def test_an_action_not_in_the_table_is_a_programming_error_not_a_no():
    with pytest.raises(KeyError):
        permissions.may(sessions.OWNER, "fly")
    with pytest.raises(KeyError):
        permissions.require(sessions.GUEST, "delete_everything")
