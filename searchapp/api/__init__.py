"""The HTTP API and the MCP server: the core for scripts, tools and assistants, behind tokens.

    searchapp serve            the HTTP API alone (uvicorn), /api/v1/..., OpenAPI at /api/openapi.json
    searchapp ui               the web UI, with the same API mounted under /api
    searchapp mcp              the MCP server (stdio, or streamable HTTP with --http)
    searchapp tokens ...       API tokens: create (shown once), list, revoke

This layer sits above `searchapp.ingest` (uploads are ingested here) and below the UI
(which mounts it) and the CLI (which starts it).
"""
