"""Origins (scheme://host[:port]) as browsers send them, for the form's list of allowed websites."""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The origin of an address or of an Origin header, normalized; None for anything else ("null" included)."""
    if not url or len(url) > 2000 or "\x00" in url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def origin_entry(text: str) -> str | None:
    """An allowed origin as an administrator types it: an origin, nothing after it but a slash."""
    if not text or "\x00" in text:
        return None
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    return origin_of(text)
