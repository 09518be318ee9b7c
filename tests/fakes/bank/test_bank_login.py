"""Bank login: account + password + TOTP (RFC 6238) opens a session; tenants see their own."""

from __future__ import annotations

import pytest

from fake_systems.bank import totp
from fake_systems.bank.service import SESSION_SECONDS, BankService
from fake_systems.common.credentials import BankCredentials
from tests.support.bank import CREDENTIALS, SEED, TENANT

LOGIN = "/iso20022/login"
STATEMENT = "/iso20022/camt.053/statements"

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("unix_time", "code"),
    # RFC 6238 appendix B, SHA-1 column, cut to the 6 low digits (RFC 4226 truncation).
    [
        (59, "287082"),
        (1111111109, "081804"),
        (1111111111, "050471"),
        (1234567890, "005924"),
        (2000000000, "279037"),
    ],
)
def test_totp_matches_the_rfc_6238_vectors(unix_time, code):
    assert totp.totp(SEED, unix_time) == code
    assert totp.totp(SEED.lower(), unix_time) == code  # base32 case does not matter


def test_totp_accepts_one_step_of_drift_and_no_more():
    now = 1111111109.0
    assert totp.matching_counter(SEED, totp.totp(SEED, now), now) == totp.counter_at(now)
    assert totp.matching_counter(SEED, totp.totp(SEED, now - 30), now) == totp.counter_at(now) - 1
    assert totp.matching_counter(SEED, totp.totp(SEED, now + 30), now) == totp.counter_at(now) + 1
    assert totp.matching_counter(SEED, totp.totp(SEED, now - 60), now) is None
    assert totp.matching_counter(SEED, totp.totp(SEED, now + 60), now) is None
    for garbled in ("", "12345", "1234567", "abcdef", "٠١٢٣٤٥"):
        assert totp.matching_counter(SEED, garbled, now) is None


def test_a_bad_seed_is_refused():
    with pytest.raises(ValueError):
        totp.decode_seed("not base32!")


def otp_now(clock, credentials: BankCredentials = CREDENTIALS, steps: int = 0) -> str:
    return totp.totp(credentials.totp_seed, clock.wall() + 30 * steps)


async def login(client, credentials: BankCredentials, otp: str):
    body = {"account": credentials.account, "password": credentials.password, "otp": otp}
    return await client.post(LOGIN, json=body)


def api_events(bank: BankService, operation: str) -> list[tuple[str, str | None]]:
    rows = bank.ctx.conn.execute(
        "SELECT outcome, payload FROM events WHERE kind = 'api_in' AND operation = ? ORDER BY seq",
        (operation,),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def session_count(bank: BankService) -> int:
    return int(bank.ctx.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])


async def test_login_opens_a_session_that_reads_the_statement(client, bank, clock):
    response = await login(client, CREDENTIALS, otp_now(clock))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == SESSION_SECONDS == 1800
    assert body["account"] == CREDENTIALS.account
    token = body["session_token"]
    assert len(token) >= 32
    statement = await client.get(
        STATEMENT,
        params={"account": CREDENTIALS.account, "date": "2026-11-10"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert statement.status_code == 200
    # Only a hash of the token is stored, and neither it nor the factors reach the history.
    stored = bank.ctx.conn.execute("SELECT token_hash FROM sessions").fetchone()[0]
    assert stored != token
    dump = "".join(str(tuple(r)) for r in bank.ctx.conn.execute("SELECT * FROM events"))
    for secret in (token, "pw-1", otp_now(clock), SEED):
        assert secret not in dump
    assert [o for o, _ in api_events(bank, "login")] == ["ok"]


async def test_neighbouring_steps_are_accepted_for_clock_drift(client, clock):
    assert (await login(client, CREDENTIALS, otp_now(clock, steps=-1))).status_code == 200
    clock.advance(30 * 60)  # one wall step later (scale 60): the next step is new again
    assert (await login(client, CREDENTIALS, otp_now(clock, steps=1))).status_code == 200


@pytest.mark.parametrize(
    ("change", "otp_steps", "reason"),
    [
        ({"password": "wrong"}, 0, "password"),
        ({"account": "6222999999999999"}, 0, "account"),
        ({}, -2, "otp"),  # outside the ±1 step window
        ({}, 2, "otp"),
    ],
)
async def test_wrong_factors_are_refused_alike_and_recorded(
    client, bank, clock, change, otp_steps, reason
):
    body = {"account": CREDENTIALS.account, "password": "pw-1"}
    body["otp"] = otp_now(clock, steps=otp_steps)
    body.update(change)
    response = await client.post(LOGIN, json=body)
    assert response.status_code == 401
    assert response.json() == {
        "tppMessages": [
            {
                "category": "ERROR",
                "code": "PSU_CREDENTIALS_INVALID",
                "text": "invalid account, password or one-time password",
            }
        ]
    }
    ((outcome, payload),) = api_events(bank, "login")
    assert outcome == "PSU_CREDENTIALS_INVALID"
    assert f'"reason":"{reason}"' in payload
    assert session_count(bank) == 0
    assert bank.ctx.conn.execute("SELECT COUNT(*) FROM otp_steps").fetchone()[0] == 0


async def test_a_replayed_code_is_refused(client, bank, clock):
    code = otp_now(clock)
    assert (await login(client, CREDENTIALS, code)).status_code == 200
    replay = await login(client, CREDENTIALS, code)
    assert replay.status_code == 401
    assert replay.json()["tppMessages"][0]["code"] == "PSU_CREDENTIALS_INVALID"
    # An older step than the one used is a replay too, though inside the drift window.
    older = await login(client, CREDENTIALS, otp_now(clock, steps=-1))
    assert older.status_code == 401
    outcomes = api_events(bank, "login")
    assert [o for o, _ in outcomes] == ["ok", "PSU_CREDENTIALS_INVALID", "PSU_CREDENTIALS_INVALID"]
    assert all('"reason":"otp_replayed"' in (p or "") for _, p in outcomes[1:])
    assert session_count(bank) == 1
    # Each owner's codes are its own: the connector's replay does not block a tenant.
    assert (await login(client, TENANT, otp_now(clock, TENANT))).status_code == 200


async def test_an_expired_session_is_refused_until_a_new_login(client, bank, clock):
    token = (await login(client, CREDENTIALS, otp_now(clock))).json()["session_token"]
    params = {"account": CREDENTIALS.account, "date": "2026-11-10"}
    headers = {"Authorization": f"Bearer {token}"}
    clock.advance((SESSION_SECONDS - 1) * clock.scale)  # one wall second before expiry
    assert (await client.get(STATEMENT, params=params, headers=headers)).status_code == 200
    clock.advance(1 * clock.scale)
    expired = await client.get(STATEMENT, params=params, headers=headers)
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"].startswith("Bearer")
    assert expired.json()["tppMessages"][0]["code"] == "TOKEN_EXPIRED"
    assert [o for o, _ in api_events(bank, "camt.053")] == ["ok", "TOKEN_EXPIRED"]
    fresh = (await login(client, CREDENTIALS, otp_now(clock))).json()["session_token"]
    again = await client.get(STATEMENT, params=params, headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"[]", "not an object"),
        (b'{"account": "6222000011112222", "password": "pw-1"}', "otp missing"),
        (b'{"account": "6222000011112222", "password": "pw-1", "otp": 123456}', "otp a number"),
        (b'{"account": "6222000011112222", "password": "", "otp": "1"}', "empty password"),
        (
            b'{"account": "6222000011112222", "password": "pw-1", "otp": "1", "admin": true}',
            "extra field",
        ),
        (b'{"account": "\xff", "password": "pw-1", "otp": "1"}', "invalid UTF-8"),
        (b'{"account": "\\ud800", "password": "pw-1", "otp": "1"}', "lone surrogate"),
    ],
)
async def test_malformed_logins_are_format_errors(client, bank, content, why):
    response = await client.post(LOGIN, content=content)
    assert response.status_code == 400, why
    assert response.json()["tppMessages"][0]["code"] == "FORMAT_ERROR"
    assert [o for o, _ in api_events(bank, "login")] == ["FORMAT_ERROR"]
    assert session_count(bank) == 0


async def test_each_session_sees_its_own_account_only(client, bank, clock):
    assert bank.has_account(TENANT.account)  # create_app opened the tenant's account
    bank.book(500, "CRDT", "TENANT-E2E", "owner A receipt", account=TENANT.account)
    tenant = (await login(client, TENANT, otp_now(clock, TENANT))).json()
    assert tenant["account"] == TENANT.account
    connector = (await login(client, CREDENTIALS, otp_now(clock))).json()
    day = "2026-11-10"
    as_tenant = {"Authorization": "Bearer " + tenant["session_token"]}
    as_connector = {"Authorization": "Bearer " + connector["session_token"]}

    own = await client.get(
        STATEMENT, params={"account": TENANT.account, "date": day}, headers=as_tenant
    )
    assert own.status_code == 200 and b"TENANT-E2E" in own.content
    for account, headers in ((CREDENTIALS.account, as_tenant), (TENANT.account, as_connector)):
        other = await client.get(
            STATEMENT, params={"account": account, "date": day}, headers=headers
        )
        assert other.status_code == 404
        assert other.json()["tppMessages"][0]["code"] == "RESOURCE_UNKNOWN"
    # A tenant's password does not open the connector's account, nor the other way round.
    crossed = {"account": CREDENTIALS.account, "password": "pw-a", "otp": otp_now(clock, TENANT)}
    assert (await client.post(LOGIN, json=crossed)).status_code == 401
