"""Per-team collections in the UI: the teams table from Streamlit's secrets.

The rules (the teams table, which provider vouches for which entry, exact address
matching, groups) live in `searchapp.access`, so the HTTP API and the MCP server map a
caller to a collection the same way; `ui.callers` applies them to the signed-in user
(Streamlit's identity cookie, verified on the server, never anything the browser sends
in a query, a widget or the session state).
"""

from __future__ import annotations

from searchapp.access import TeamsTable, provider_names, teams_config
from searchapp.ui import auth, resources


def teams_table() -> TeamsTable | None:
    """The checked teams table from the secrets; None without one.

    Raises:
        ConfigError: a teams table that cannot work (see `searchapp.access.teams`),
            including one without sign-in.
    """
    table = teams_config(resources.secrets())
    return None if table is None else TeamsTable.parse(table, provider_names(auth.auth_config()))
