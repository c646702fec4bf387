"""The one place that hides secrets in storage URLs, for every rendering (errors, summaries,
provenance, reports, study attributes).

A URL's secrets are the password of its user-info (everything between the user name's ``:``
and the *last* ``@`` before the host, so an unencoded ``@`` in a password hides it all) and the
values of query parameters whose names say they are secret (``password=``, ``sslpassword=``,
``token=``, ...), in plain or percent-encoded spelling.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

MASK = "***"
MIN_PIECE = 3  # shorter parts of an '@'-split password are too common to mask in free text
SECRET_PARAM = re.compile(r"(?i)(pass|pwd|secret|token|key|auth|credential)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)(.*)$", re.DOTALL)
_PARAM = re.compile(r"([?&;])([^=&;#]*)=([^&;#]*)")


def _split(url: str) -> tuple[str, str, str, str] | None:
    """(scheme://, userinfo or '', rest after the host start, '') for a URL with a scheme."""
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme, rest = match.groups()
    at = rest.rfind("@")
    if at < 0:
        return scheme, "", rest, ""
    return scheme, rest[:at], rest[at + 1 :], "@"


def url_secrets(url: str) -> list[str]:
    """Every secret string in ``url`` (raw and percent-decoded), longest first."""
    found: list[str] = []
    parts = _split(url)
    if parts is None:
        return found
    _, userinfo, rest, _ = parts
    if ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    for _, name, value in _PARAM.findall(rest):
        if SECRET_PARAM.search(unquote_plus(name)):
            found.append(value)
    decoded = [d for s in found for d in (unquote(s), unquote_plus(s))]
    # an unencoded '@' makes parsers take the part after it for the host: hide each part too
    pieces = [p for s in found + decoded if "@" in s for p in s.split("@") if len(p) >= MIN_PIECE]
    return sorted({s for s in found + decoded + pieces if s}, key=len, reverse=True)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***``."""
    parts = _split(url)
    if parts is None:
        return _hide_userinfo(url)
    scheme, userinfo, rest, at = parts
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":" + MASK
    rest = _PARAM.sub(
        lambda m: f"{m[1]}{m[2]}={MASK}" if SECRET_PARAM.search(unquote_plus(m[2])) else m[0], rest
    )
    return f"{scheme}{userinfo}{at}{rest}"


def _hide_userinfo(text: str) -> str:
    """Any ``scheme://user:secret@`` inside free text, with the secret masked (up to the last @
    of that word)."""
    return re.sub(r"(://[^:/@\s]*):\S*@", rf"\1:{MASK}@", text)


def redact_text(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with every secret of ``url`` masked."""
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return _hide_userinfo(text)
