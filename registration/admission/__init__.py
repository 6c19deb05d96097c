"""Admission: seats and limits, offers and promotion from the waitlist, by what it does.

- :mod:`.seats`: the round's lock, held seats counted, the limit a new seat would exceed
- :mod:`.decisions`: organizers admit, waitlist, reject, revoke, move on the waitlist
- :mod:`.applicants`: applicants accept, decline, withdraw; ``first_come`` admission
- :mod:`.tasks`: lapse expired offers (maintenance), fill free seats from the waitlist
- :mod:`.moves`: the steps the others are made of (one lifecycle transition each)
- :mod:`.results`: what an action came to, as codes (:class:`DecisionOutcome`, :class:`Result`)
- :mod:`.messages`: the words for people (status labels, limits, results)

Which transition is allowed, by whom, is the lifecycle's table (``registration/lifecycle.py``).
"""

from ..lifecycle import Action
from .applicants import (
    ERASURE_REASON,
    accept_offer,
    admit_on_confirm,
    decline_offer,
    withdraw,
    withdraw_for_erasure,
)
from .decisions import DECISIONS, decide, decide_each, decide_many, move_on_waitlist, revoke
from .results import DecisionOutcome, Result
from .seats import Counts, Limit, blocking_limit, held_counts, lock_for, lock_round, reload
from .tasks import fill_free_seats, lapse_expired_offers

__all__ = [
    "DECISIONS",
    "ERASURE_REASON",
    "Action",
    "Counts",
    "DecisionOutcome",
    "Limit",
    "Result",
    "accept_offer",
    "admit_on_confirm",
    "blocking_limit",
    "decide",
    "decide_each",
    "decide_many",
    "decline_offer",
    "fill_free_seats",
    "held_counts",
    "lapse_expired_offers",
    "lock_for",
    "lock_round",
    "move_on_waitlist",
    "reload",
    "revoke",
    "withdraw",
    "withdraw_for_erasure",
]
