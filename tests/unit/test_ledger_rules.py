import pytest

from vidgen.core import ledger
from vidgen.core.errors import InvalidAmount, LedgerError
from vidgen.core.ledger import EntryKind


@pytest.mark.parametrize("amount", [0, -1, -100, 1.5, True, "3"])
def test_amounts_must_be_positive_whole_numbers(amount) -> None:
    for make in (
        lambda: ledger.signup_bonus(1, amount),
        lambda: ledger.debit(1, "vg-1-a", amount),
        lambda: ledger.refund(1, "vg-1-a", amount),
        lambda: ledger.purchase(1, "charge", amount),
        lambda: ledger.admin_grant(1, amount, "admin:9", "gift", "g1"),
    ):
        with pytest.raises(InvalidAmount):
            make()


def test_signs_and_natural_keys() -> None:
    assert ledger.debit(7, "vg-7-a", 1) == ledger.Entry(7, -1, EntryKind.DEBIT, "vg-7-a")
    assert ledger.refund(7, "vg-7-a", 1).delta == 1
    assert ledger.signup_bonus(7, 2).ref == "7"
    assert ledger.purchase(7, "ch_1", 5).ref == "ch_1"


def test_grant_needs_actor_and_reason_and_ref() -> None:
    with pytest.raises(LedgerError):
        ledger.admin_grant(1, 5, "admin:9", "  ", "g1")
    with pytest.raises(LedgerError):
        ledger.admin_grant(1, 5, "", "gift", "g1")
    with pytest.raises(LedgerError):
        ledger.debit(1, "", 1)
    g = ledger.admin_grant(1, 5, "admin:9", " gift ", "g1")
    assert (g.actor, g.reason) == ("admin:9", "gift")
