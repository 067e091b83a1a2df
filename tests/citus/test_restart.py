"""A worker restarted while requests run: the requests that reach the restarting worker fail
(Citus reports the lost connection), none of them returns a row that is not its user's, and
once the worker is back the same coordinator connection serves every user correctly again
(claims are sent per transaction, so nothing depends on a worker connection that died)."""
import threading
import time

import psycopg

from citus_helpers import USERS, request, rows_of


def test_a_worker_restarted_mid_run(citus, tables):
    table = tables["native"]
    users = USERS[:6]
    results = []  # (user, "ok" | "error", seen)
    restarted = threading.Event()

    def restart():
        time.sleep(0.5)
        citus.restart_worker(1, mode="immediate")  # a crash, as far as the coordinator can tell
        restarted.set()

    t = threading.Thread(target=restart)
    with citus.connect() as conn:
        t.start()
        deadline = time.time() + 60
        after_restart_ok = 0
        i = 0
        while after_restart_ok < 2 * len(users) and time.time() < deadline:
            user = users[i % len(users)]
            i += 1
            was_restarted = restarted.is_set()
            try:
                with request(conn, user) as cur:
                    seen = sorted(cur.execute(f"SELECT user_id, id FROM {table}").fetchall())
                    n = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                results.append((user, "ok", seen, n))
                if was_restarted:
                    after_restart_ok += 1
            except psycopg.OperationalError as e:
                results.append((user, "error", str(e).splitlines()[0], None))
                if conn.closed:
                    conn = citus.connect()
                time.sleep(0.05)
        t.join()
    errors = [r for r in results if r[1] == "error"]
    oks = [r for r in results if r[1] == "ok"]
    print(f"{len(oks)} requests answered, {len(errors)} failed while worker 2 restarted: {errors[:1]}")
    assert restarted.is_set()
    assert after_restart_ok >= 2 * len(users), results[-5:]
    for user, _, seen, n in oks:
        assert seen == sorted((user, i) for i in rows_of(user)), user
        assert n == len(rows_of(user))
    # The restart was seen (else the test proved nothing), and only as connection errors.
    assert errors, "no request noticed the restart"
    assert all("connection" in e[2] or "terminat" in e[2] or "server closed" in e[2] for e in errors), errors
