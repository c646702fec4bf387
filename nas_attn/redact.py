"""The one place that hides secrets in storage URLs, for every rendering (errors, summaries,
provenance, reports, study attributes, the dashboard banner).

It works on the raw text as the user typed it, before any URL parser sees it, so a URL that no
parser accepts (a missing ``/`` or ``:``, a bad port, an unbracketed IPv6 host) is redacted as
well as a valid one. A URL's secrets are:

- the password of its user-info: everything after the user name's ``:`` up to the *last* ``@``
  (an unencoded ``@``, ``/``, ``;``, ``#`` or ``?`` in a password stays inside the mask). Where
  the user name cannot be told from the password (no ``:`` after a mistyped ``scheme:/`` or
  without any scheme), the whole user-info is masked;
- the values of query parameters whose names say they are secret (``password=``,
  ``sslpassword=``, ``token=``, ...), up to the next ``&name=`` or the end of the text (an
  unencoded ``;``, ``#``, ``@`` or ``/`` in the value stays inside the mask).

Both are found in plain and percent-encoded spelling. Masking more than needed is preferred to
letting any part of a password through.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"
MIN_PIECE = 3  # shorter parts of a split password are too common to mask in free text
SECRET_PARAM = re.compile(r"(?i)(pass|pwd|secret|token|key|auth|credential)")
# a scheme and its separator: well-formed ("://", also sqlite's ":///") or mistyped (":/", "//")
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.\- ]*(?:(?P<slashed>://+)|:/|//+)")
_PARAM_START = re.compile(r"(?:^|(?<=[?&;#\s]))([^=?&;#\s/@:]+)=")
_NEXT_PARAM = re.compile(r"&[^=?&;#\s/@:]+=")
_PIECES = re.compile(r"[@/;#?&:=\s]")
_SEPARATORS = "@/;#?&:= "

Span = tuple[int, int]


def _param_spans(url: str) -> list[Span]:
    """Where the values of secret query parameters are (each up to the next ``&name=``)."""
    spans: list[Span] = []
    for match in _PARAM_START.finditer(url):
        if not SECRET_PARAM.search(unquote_plus(match[1])):
            continue
        start = match.end()
        following = _NEXT_PARAM.search(url, start)
        end = following.start() if following is not None else len(url)
        if end > start:
            spans.append((start, end))
    return spans


def _inside(position: int, spans: list[Span]) -> bool:
    return any(start <= position < end for start, end in spans)


def _userinfo_span(url: str, params: list[Span]) -> Span | None:
    """Where the user-info password is: up to the last ``@`` outside secret query values (or
    the last ``@`` at all, when each is inside one)."""
    ats = [i for i, char in enumerate(url) if char == "@"]
    if not ats:
        return None
    outside = [i for i in ats if not _inside(i, params)]
    at = outside[-1] if outside else ats[-1]
    prefix = _PREFIX.match(url[:at])
    start = prefix.end() if prefix is not None else 0
    userinfo = url[start:at]
    if ":" in userinfo:
        start += userinfo.index(":") + 1
    elif prefix is not None and prefix["slashed"]:
        return None  # scheme://user@host: a user name and no password
    return (start, at) if at > start else None


def _secret_spans(url: str) -> list[Span]:
    """Every secret's place in ``url`` (secret query values, then the user-info password)."""
    params = _param_spans(url)
    userinfo = _userinfo_span(url, params)
    return params if userinfo is None else [*params, userinfo]


def _spans(url: str) -> list[Span]:
    """Every secret's place in ``url``, merged and in order."""
    merged: list[Span] = []
    for start, end in sorted(_secret_spans(url)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def url_secrets(url: str) -> list[str]:
    """Every secret string in ``url`` (raw, percent-decoded and -encoded as a driver may echo
    it, and the longer pieces a parser may split it into at ``@``, ``/``, ``;``, ``#``, ...),
    longest first."""
    found = [url[start:end] for start, end in _secret_spans(url) + _spans(url)]
    found += [s.strip(_SEPARATORS) for s in found]  # a mistyped URL's mask may start at a separator
    found += [s[i + 1 :] for s in found for i, char in enumerate(s) if char == ":"]  # user:password
    decoded = [d for s in found for d in (unquote(s), unquote_plus(s))]
    decoded += [e for s in found + decoded for e in (quote(s), quote(s, safe=""), quote_plus(s, safe=""))]
    pieces = [p for s in found + decoded for p in _PIECES.split(s) if len(p) >= MIN_PIECE]
    return sorted({s for s in found + decoded + pieces if s}, key=len, reverse=True)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***`` (any spelling)."""
    out, last = [], 0
    for start, end in _spans(url):
        out += [url[last:start], MASK]
        last = end
    return "".join(out) + url[last:]


def _hide_userinfo(text: str) -> str:
    """Any ``scheme://user:secret@`` inside free text, with the secret masked (up to the last @
    of that word)."""
    return re.sub(r"(://[^:/@\s]*):\S*@", rf"\1:{MASK}@", text)


def redact_text(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with every secret of ``url`` masked."""
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return _hide_userinfo(text)
