"""Where an MCP client goes to sign in, found with the MCP SDK's own client-side discovery steps.

The steps of `mcp.client.auth` (SEP-985, RFC 9728, RFC 8414): an unauthenticated request
answers 401 whose ``WWW-Authenticate`` may name the protected-resource metadata; the
client tries that URL, then the well-known ones; the metadata's first authorization server
is where it looks for the OAuth/OIDC metadata, whose issuer must be exactly that server.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    validate_metadata_issuer,
)
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from pydantic import ValidationError

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


@dataclass(frozen=True)
class Discovery:
    www_authenticate: str  # the 401's header
    resource_metadata: ProtectedResourceMetadata | None  # None: no metadata is served anywhere
    authorization_server: OAuthMetadata | None  # the metadata found at its first authorization server


def discover(mcp_url: str) -> Discovery:
    """Follow an MCP client's discovery from `mcp_url` (no token)."""
    with httpx2.Client(timeout=30) as client:
        refused = client.post(
            mcp_url, json=INITIALIZE, headers={"Accept": "application/json, text/event-stream"}
        )
        assert refused.status_code == 401, refused.text
        pointer = extract_resource_metadata_from_www_auth(refused)
        metadata = None
        for url in build_protected_resource_metadata_discovery_urls(pointer, mcp_url):
            answer = client.get(url)
            if answer.status_code == 200:
                try:
                    metadata = ProtectedResourceMetadata.model_validate_json(answer.content)
                except ValidationError:
                    continue
                break
        server = None
        if metadata is not None:
            issuer = str(metadata.authorization_servers[0])
            for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, mcp_url):
                answer = client.get(url)
                if answer.status_code == 200:
                    try:
                        server = OAuthMetadata.model_validate_json(answer.content)
                    except ValidationError:  # not metadata (a web page): the next URL, as the SDK does
                        continue
                    validate_metadata_issuer(server, issuer)  # what the SDK's client checks
                    break
        return Discovery(refused.headers.get("WWW-Authenticate", ""), metadata, server)
