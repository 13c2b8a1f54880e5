"""The MCP server's HTTP app, with the address checks a reverse proxy can pass.

The MCP SDK protects a server bound to loopback against DNS rebinding: it answers 421
to a request whose Host header is not a loopback name. A reverse proxy in front of
such a server (Caddy and Traefik by default, nginx with ``proxy_set_header Host
$host``, as docs/deployment.md shows) forwards the public name, so every MCP request
through it was refused. The public address the deployment declares (`public_url`,
``SEARCHAPP_API_PUBLIC_URL``) is allowed beside the loopback names; nothing else is.

A request body over `JSON_LIMIT` (1 MB, as for the API's JSON) is answered 413 before it
is parsed (the SDK's own limit, 4 MiB by default, let a 3 MB tools/call through).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from searchapp.api.app import JSON_LIMIT

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def transport_security(bind_host: str, public_url: str) -> TransportSecuritySettings | None:
    """The SDK's rebinding protection for a loopback server, with `public_url` allowed too.

    None (no Host check, as the SDK does) for a server bound to another address: it is
    reached by names this process cannot know.
    """
    if bind_host.strip("[]") not in LOOPBACK_HOSTS:
        return None
    hosts = [f"{name}:*" for name in _LOOPBACK_NAMES]
    origins = [f"http://{name}:*" for name in _LOOPBACK_NAMES]
    public = urlsplit(public_url)
    if public.hostname:  # lower case, with and without a default port: as clients may send it
        name = f"[{public.hostname}]" if ":" in public.hostname else public.hostname
        default = {"http": 80, "https": 443}.get(public.scheme)
        ports = [public.port] if public.port and public.port != default else [None, default]
        for port in ports:
            netloc = f"{name}:{port}" if port else name
            hosts.append(netloc)
            origins.append(f"{public.scheme}://{netloc}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def mcp_http_app(server: MCPServer[Any], *, bind_host: str, public_url: str) -> Any:
    """The streamable-HTTP app at `/mcp` of `server`, bound at `bind_host`."""
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        # A tools/call is a search request, the same JSON as POST /api/v1/search (a query, at
        # most 1,000 values a filter): the API's limit for it fits. Nothing uploads over MCP.
        max_request_body_size=JSON_LIMIT,
        transport_security=transport_security(bind_host, public_url),
        host=bind_host,
    )
