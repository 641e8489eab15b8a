from botadmin.infobot.throttle import FloodGuard, TokenBucket, Verdict


def test_the_bucket_lets_a_burst_through_then_one_line_per_second():
    bucket = TokenBucket(capacity=4, rate=1.0)
    assert [bucket.delay(100.0) for _ in range(4)] == [0.0] * 4
    assert bucket.delay(100.0) == 1.0
    assert bucket.delay(100.0) == 2.0


def test_the_bucket_refills_while_idle_but_not_beyond_its_capacity():
    bucket = TokenBucket(capacity=4, rate=1.0)
    for _ in range(4):
        bucket.delay(0.0)
    assert bucket.delay(2.0) == 0.0
    assert bucket.delay(2.0) == 0.0
    assert bucket.delay(2.0) == 1.0
    fresh = TokenBucket(capacity=2, rate=1.0)
    fresh.delay(0.0)
    assert [fresh.delay(1000.0) for _ in range(3)] == [0.0, 0.0, 1.0]


def test_the_flood_guard_warns_once_then_blocks_until_the_penalty_ends():
    guard = FloodGuard(limit=5, window=10.0, penalty=60.0)
    assert [guard.check("ann", t) for t in range(5)] == [Verdict.ALLOW] * 5
    assert guard.check("ann", 5.0) is Verdict.WARN
    assert guard.check("ann", 6.0) is Verdict.BLOCK
    assert guard.check("bob", 6.0) is Verdict.ALLOW
    assert guard.check("ann", 66.0) is Verdict.ALLOW


def test_the_flood_guard_forgets_commands_older_than_the_window():
    guard = FloodGuard(limit=2, window=10.0, penalty=60.0)
    assert [guard.check("ann", t) for t in (0.0, 5.0, 10.0, 15.0)] == [Verdict.ALLOW] * 4
