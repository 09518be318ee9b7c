"""K3 users and their sessions: password, app-secret and signed logins, idle expiry, logout."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.pipeline import WireError
from fake_systems.common.signing import constant_time_equal, k3_login_sign
from fake_systems.common.storage import transaction
from fake_systems.erp.models import (
    MSG_APP_FAILED,
    MSG_LOGIN_FAILED,
    MSG_SIGN_FAILED,
    MSG_SIGN_REPLAYED,
    MSG_SIGN_STALE,
    LoginResult,
    Session,
)
from fake_systems.erp.schema import sim_now

USER_ID = 100008
SIGN_TOLERANCE_SECONDS = 300  # LoginBySign timestamps within ±5 min of the server's clock
SHA1_HEX_CHARS = 40  # a LoginBySign sign this long is the SHA-1 variant (YiKdWebClient's)
SESSION_TOUCH_SECONDS = 1.0  # resolution of the sliding session expiry (wall seconds)


class LoginFailed(WireError):
    """A login refused: the text K3 puts in `Message` with `LoginResultType` 0."""

    def __init__(self, message: str) -> None:
        super().__init__("login_failed", message)

    def __str__(self) -> str:
        return self.message


class Sessions:
    """The K3 users issued (one per credential) and the sessions their logins open.

    Sessions expire after `session_ttl` wall seconds without use (None: never), as ASP.NET
    sessions do, whatever the simulation's scale.
    """

    def __init__(self, ctx: SystemContext, session_ttl: float | None = None) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.session_ttl = session_ttl
        self.users: dict[tuple[str, str], K3Credentials] = {}
        self.apps: dict[str, K3Credentials] = {}  # by AppId: the user each app is bound to

    def add_users(self, users: Iterable[K3Credentials]) -> None:
        """Issue K3 users: each can log in and is bound to its `owners` scope."""
        for user in users:
            self.users[(user.acct_id, user.username)] = user
            self.apps[user.app_id] = user

    def login(
        self, acct_id: str, username: str, password: str, lcid: int | None = None
    ) -> LoginResult:
        """AuthService.ValidateUser; raises LoginFailed with K3's message on bad credentials."""
        user = self._user(acct_id, username, MSG_LOGIN_FAILED)
        if not constant_time_equal(password, user.password):
            raise LoginFailed(MSG_LOGIN_FAILED)
        return self._open(user, lcid)

    def login_by_app_secret(
        self, acct_id: str, username: str, app_id: str, app_secret: str, lcid: int | None = None
    ) -> LoginResult:
        """AuthService.LoginByAppSecret: the integration user with its third-party app."""
        user = self._user(acct_id, username, MSG_APP_FAILED)
        if app_id != user.app_id or not constant_time_equal(app_secret, user.app_secret):
            raise LoginFailed(MSG_APP_FAILED)
        return self._open(user, lcid)

    def login_by_sign(
        self,
        acct_id: str,
        username: str,
        app_id: str,
        timestamp: str,
        sign: str,
        lcid: int | None = None,
    ) -> LoginResult:
        """AuthService.LoginBySign: the secret stays home, a signature travels.

        The sign hashes the five values acctID, username, appId, appSecret, timestamp sorted
        and joined, with SHA-256 (or SHA-1: 40 hex digits), as the public clients do. The
        timestamp (unix seconds, wall clock) must be within SIGN_TOLERANCE_SECONDS and a
        signature works once: a replayed login is refused.
        """
        user = self._user(acct_id, username, MSG_APP_FAILED)
        if app_id != user.app_id:
            raise LoginFailed(MSG_APP_FAILED)
        sha1 = len(sign) == SHA1_HEX_CHARS
        expected = k3_login_sign(acct_id, username, app_id, user.app_secret, timestamp, sha1=sha1)
        if not constant_time_equal(sign.lower(), expected):
            raise LoginFailed(MSG_SIGN_FAILED)
        try:
            stamp = float(timestamp)
        except ValueError as exc:
            raise LoginFailed(MSG_SIGN_STALE) from exc
        now = self.ctx.clock.wall()
        # Checked against the ERP's own clock (skewed by a `clock_skew` fault).
        if self.ctx.stale_by(stamp, SIGN_TOLERANCE_SECONDS, "LoginBySign") is not None:
            raise LoginFailed(MSG_SIGN_STALE)
        with transaction(self.conn):
            # signatures older than the tolerance can never pass again: forget them
            self.conn.execute(
                "DELETE FROM login_signs WHERE wall < ?", (now - 2 * SIGN_TOLERANCE_SECONDS,)
            )
            if self.conn.execute(
                "SELECT 1 FROM login_signs WHERE sign = ?", (expected,)
            ).fetchone():
                raise LoginFailed(MSG_SIGN_REPLAYED)
            self.conn.execute("INSERT INTO login_signs (sign, wall) VALUES (?, ?)", (expected, now))
            return self._open(user, lcid)

    def app_user(self, app_id: str) -> K3Credentials | None:
        """The user a third-party app (its AppId) is bound to, or None for an unknown app."""
        return self.apps.get(app_id)

    def _user(self, acct_id: str, username: str, refusal: str) -> K3Credentials:
        if all(acct != acct_id for acct, _ in self.users):
            raise LoginFailed(f"数据中心[{acct_id}]不存在，请检查账套ID(acctID)！")
        user = self.users.get((acct_id, username))
        if user is None:
            raise LoginFailed(refusal)
        return user

    def _open(self, user: K3Credentials, lcid: int | None) -> LoginResult:
        session_id = uuid.uuid4().hex[:24]
        user_token = str(uuid.uuid4())
        chosen_lcid = lcid if lcid else user.lcid
        wall = self.ctx.clock.wall()
        self.conn.execute(
            "INSERT INTO sessions (session_id, acct_id, username, owners, lcid, user_token,"
            " created_sim, created_wall, last_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                user.acct_id,
                user.username,
                ",".join(user.owners),
                chosen_lcid,
                user_token,
                sim_now(self.ctx),
                wall,
                wall,
            ),
        )
        return LoginResult(
            session_id,
            USER_ID,
            user.username,
            user.acct_id,
            chosen_lcid,
            user_token,
            tuple(user.owners),
        )

    def session(self, session_id: str | None) -> Session | None:
        """The live session with that id, or None (unknown, logged out or idle too long).

        Each use restarts the idle timeout, as an ASP.NET session's sliding expiry does.
        """
        if not session_id:
            return None
        row = self.conn.execute(
            "SELECT username, owners, last_wall FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        if row is None:
            return None
        now = self.ctx.clock.wall()
        if self.session_ttl is not None and now - row["last_wall"] > self.session_ttl:
            self.conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
            return None
        # The expiry slides by whole seconds: a write (and its commit) per K3 call cost more
        # than the call's own work under load (docs/PERFORMANCE.md).
        if now - row["last_wall"] >= SESSION_TOUCH_SECONDS:
            self.conn.execute(
                "UPDATE sessions SET last_wall = ? WHERE session_id = ?", (now, session_id)
            )
        owners = tuple(code for code in row["owners"].split(",") if code)
        return Session(session_id, row["username"], owners)

    def logout(self, session_id: str | None) -> None:
        self.conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

    def expire_all(self) -> int:
        """Forget every session (chaos: the server lost its contexts); returns how many."""
        return self.conn.execute("DELETE FROM sessions").rowcount
