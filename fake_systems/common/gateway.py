"""The error pages a gateway in front of a fake answers with (`http_5xx` / `http_429` faults).

Byte for byte the default pages of the servers the real systems sit behind, always
`text/html`, never the protocol's JSON or XML: a connector that parses every 5xx as its
peer's document must survive them. Sources (docs/protocols/research/issue10-fault-sources.md
§3): nginx's `ngx_http_special_response.c` (current pages, `server_tokens off` tail, so no
invented version number), Tengine's at alibaba/tengine@0c15cfb (doctype first, `<p>`
sentence, "Powered by Tengine" banner; `server_info` off, its default being unverified), and
HTTP.sys's 503 page for IIS, which K3 Cloud runs on (a stopped application pool; `Server:
Microsoft-HTTPAPI/2.0`, 326 bytes, as captured in public transcripts).
"""

from __future__ import annotations

from typing import Literal

from starlette.responses import Response

Flavour = Literal["nginx", "tengine", "iis"]

CRLF = "\r\n"
_TITLES = {
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}
# Tengine keeps Apache's explanatory sentence, left unclosed when `server_info` is off.
_TENGINE_SENTENCES = {
    500: "The server encountered an internal error or misconfiguration and was "
    "unable to complete your request.",
    502: "The proxy server received an invalid response from an upstream server.",
    503: "The server is temporarily unable to service your request due to "
    "maintenance downtime or capacity problems. Please try again later.",
    504: "The gateway did not receive a timely response from the upstream server or application.",
}
IIS_503 = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">'
    + CRLF
    + "<HTML><HEAD><TITLE>Service Unavailable</TITLE>"
    + CRLF
    + '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>'
    + CRLF
    + "<BODY><h2>Service Unavailable</h2>"
    + CRLF
    + "<hr><p>HTTP Error 503. The service is unavailable.</p>"
    + CRLF
    + "</BODY></HTML>"
    + CRLF
)
STATUSES = frozenset(_TITLES)


def nginx_page(status: int) -> str:
    title = _TITLES[status]
    return CRLF.join(
        (
            "<html>",
            f"<head><title>{title}</title></head>",
            "<body>",
            f"<center><h1>{title}</h1></center>",
            "<hr><center>nginx</center>",
            "</body>",
            "</html>",
            "",
        )
    )


def tengine_page(status: int) -> str:
    """Tengine's page; a status it has no page of (429 at that revision) gets nginx's."""
    sentence = _TENGINE_SENTENCES.get(status)
    if sentence is None:
        return nginx_page(status)
    title = _TITLES[status]
    return (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">' + CRLF
        + "<html>" + CRLF
        + f"<head><title>{title}</title></head>" + CRLF
        + '<body bgcolor="white">' + CRLF
        + f"<h1>{title}</h1>" + CRLF
        + f"<p>{sentence}"
        + "<hr/>Powered by Tengine"
        + "</body>" + CRLF
        + "</html>" + CRLF
    )  # fmt: skip


def gateway_page(status: int, flavour: Flavour, headers: dict[str, str] | None = None) -> Response:
    """The `status` page of the `flavour` of server in front of a fake (IIS: HTTP.sys's 503,
    an nginx reverse proxy's pages for the other statuses)."""
    if flavour == "iis" and status == 503:
        iis = {"content-type": "text/html; charset=us-ascii", "server": "Microsoft-HTTPAPI/2.0"}
        return Response(IIS_503.encode(), 503, {**iis, **(headers or {})})
    page = tengine_page(status) if flavour == "tengine" else nginx_page(status)
    # The content type as given (Starlette would add a charset to a `media_type` of text/).
    return Response(page.encode(), status, {"content-type": "text/html", **(headers or {})})
