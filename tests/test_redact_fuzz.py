"""Property (issue #32): ``redact_url`` and ``redact_text`` never let any character of a password
through, whatever spelling the user typed: in the user-info or as a query parameter, plain or
percent-encoded, with unencoded ``@``, ``/``, ``;``, ``#``, ``?`` or ``:`` inside, behind a scheme
with a missing slash or colon, before a bad port or an IPv6 host (bracketed, unbracketed or
unclosed), with other query parameters around it.

Passwords are drawn from upper-case letters and digits (plus the special characters); every other
part of the URL is lower case, so any upper-case letter left in the output is a leak.
Examples: EXAMPLES per run, derandomised (the same examples in CI every time).
"""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from nas_attn.redact import MASK, redact_text, redact_url

EXAMPLES = 400
SECRET_LETTERS = "QXZJKW"
SPECIALS = "@/;#?:%=!$"
PASSWORDS = st.text(alphabet=SECRET_LETTERS + "0123456789" + SPECIALS, min_size=1, max_size=14).map(
    lambda s: "Q" + s  # at least one letter that can only come from the password
)
USERS = st.sampled_from(["", "alice", "bob.smith", "u_1"])
SCHEMES = st.sampled_from(["postgresql+psycopg", "postgresql", "postgres ql", "mysql", "sqlite", "pg"])
SEPARATORS = st.sampled_from(["://", ":/", "//", ":", ":///", "/"])  # well-formed and mistyped
HOSTS = st.sampled_from(["db", "127.0.0.1", "[::1]", "::1", "[::1", "db.example.org", "h-1"])
PORTS = st.sampled_from(["", ":5432", ":abc", ":99999", ":"])
TAILS = st.sampled_from(["/nas", "", "/nas?sslmode=disable", "/db?application_name=x"])
NAMES = st.sampled_from(["password", "sslpassword", "PaSSword", "token", "pass%77ord", "api_key"])
AROUND = st.sampled_from([("", ""), ("sslmode=disable&", ""), ("", "&sslmode=disable"), ("a=1;", "&b=2")])


def _upper_secret_left(text: str) -> bool:
    return any(char in SECRET_LETTERS for char in text)


@st.composite
def userinfo_urls(draw: st.DrawFn) -> tuple[str, str]:
    """(url, password) with the password in the user-info, raw or percent-encoded."""
    password = draw(PASSWORDS)
    spelled = quote(password, safe="") if draw(st.booleans()) else password
    url = f"{draw(SCHEMES)}{draw(SEPARATORS)}{draw(USERS)}:{spelled}@{draw(HOSTS)}{draw(PORTS)}{draw(TAILS)}"
    return url, password


@st.composite
def query_urls(draw: st.DrawFn) -> tuple[str, str]:
    """(url, password) with the password as a secret query parameter's value."""
    password = draw(PASSWORDS.filter(lambda p: "&" not in p))
    spelled = quote(password, safe="") if draw(st.booleans()) else password
    before, after = draw(AROUND)
    user = draw(USERS)
    url = (
        f"{draw(SCHEMES)}{draw(SEPARATORS)}{user}{'@' if user else ''}{draw(HOSTS)}{draw(PORTS)}"
        f"/nas?{before}{draw(NAMES)}={spelled}{after}"
    )
    return url, password


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None)
@given(st.one_of(userinfo_urls(), query_urls()))
def test_redact_never_lets_a_password_through(case: tuple[str, str]) -> None:
    url, password = case
    redacted = redact_url(url)
    assert MASK in redacted
    assert not _upper_secret_left(redacted), (url, redacted)
    message = f"connection to {url} failed: password {password!r} was rejected ({quote(password)})"
    assert not _upper_secret_left(redact_text(message, url).replace(MASK, "")), (url, message)


@settings(max_examples=EXAMPLES // 4, derandomize=True, deadline=None)
@given(USERS, HOSTS, PORTS, TAILS)
def test_redact_leaves_a_url_without_secrets_as_it_is(user: str, host: str, port: str, tail: str) -> None:
    url = f"postgresql+psycopg://{user}{'@' if user else ''}{host}{port}{tail}"
    assert redact_url(url) == url


def test_the_spellings_of_the_issue() -> None:
    cases = {
        "postgresql+psycopg://u@h/db?password=al;S3cr#etPw": "postgresql+psycopg://u@h/db?password=***",
        "postgresql+psycopg:/user:pw@host/db": "postgresql+psycopg:/user:***@host/db",
        "postgresql+psycopg//user:pw@host/db": "postgresql+psycopg//user:***@host/db",
        "postgresql+psycopg://u:pw@host:abc/db": "postgresql+psycopg://u:***@host:abc/db",
        "postgresql+psycopg://u:p@w/d@::1:5432/db": "postgresql+psycopg://u:***@::1:5432/db",
        "postgresql+psycopg://u@h/db?sslmode=disable&token=a#b&x=1": (
            "postgresql+psycopg://u@h/db?sslmode=disable&token=***&x=1"
        ),
        "sqlite:///nas_attn.db": "sqlite:///nas_attn.db",
    }
    assert {url: redact_url(url) for url in cases} == cases
