"""What a guarded look-up leaves on the throttle: the failures, never the known codes."""

from __future__ import annotations

import pytest

from couponry.adapters.db.engine import WriterBusy
from couponry.adapters.throttle import MemoryThrottle
from couponry.api.deps import CodeLookups
from couponry.domain.errors import InvalidInput, RedemptionRefused, Throttled
from couponry.services.access.actors import Actor, Role

KEY = Actor(key_id="k1", role=Role.POS)


@pytest.fixture
def throttle() -> MemoryThrottle:
    return MemoryThrottle(slow_after=10, block_after=30, window_seconds=3600)


def answers(*reasons: str | None) -> list[dict[str, object]]:
    return [{"code": "X", "valid": r is None, "reason": r} for r in reasons]


def test_only_the_unknown_codes_of_an_answer_stay_counted(throttle: MemoryThrottle) -> None:
    lookups = CodeLookups(throttle, KEY)
    with lookups.guard(3):
        assert throttle.failures("k1") == 3  # reserved before anything is looked up
        lookups.saw(answers(None, "unknown_code", "expired"))

    assert throttle.failures("k1") == 1


def test_a_refused_redemption_counts_its_unknown_codes(throttle: MemoryThrottle) -> None:
    with pytest.raises(RedemptionRefused), CodeLookups(throttle, KEY).guard(2):
        raise RedemptionRefused("refused", codes=answers("unknown_code", "unknown_code"), validation={})

    assert throttle.failures("k1") == 2


def test_an_answer_that_names_no_code_gives_every_attempt_back(throttle: MemoryThrottle) -> None:
    with pytest.raises(InvalidInput), CodeLookups(throttle, KEY).guard(4):
        raise InvalidInput("cart", "bad")

    assert throttle.failures("k1") == 0


def test_a_write_that_would_wait_gives_every_attempt_back_for_the_retry_on_a_thread(
    throttle: MemoryThrottle,
) -> None:
    with pytest.raises(WriterBusy), CodeLookups(throttle, KEY).guard(3):
        raise WriterBusy()

    assert throttle.failures("k1") == 0


def test_an_unexpected_error_keeps_every_attempt_counted(throttle: MemoryThrottle) -> None:
    with pytest.raises(RuntimeError), CodeLookups(throttle, KEY).guard(4):
        raise RuntimeError("database gone")

    assert throttle.failures("k1") == 4


def test_a_guard_past_the_limit_is_refused_before_its_body_runs(throttle: MemoryThrottle) -> None:
    throttle.record_failures("k1", 29)
    ran = []

    with pytest.raises(Throttled) as refused, CodeLookups(throttle, KEY).guard(2):
        ran.append(True)

    assert ran == [] and refused.value.extra["retry_after"] >= 1
    assert throttle.failures("k1") == 29
