"""`searchapp.access`: identities compared exactly, the teams table, and visibility rules.

Pure unit tests: no store. What the library does with a visibility is in
tests/test_visibility.py (real Chroma); the UI's wiring in tests/test_ui_teams.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from searchapp.access import (
    Identity,
    Membership,
    TeamsTable,
    can_see,
    check_assignable,
    membership,
    normalize_email,
    normalize_groups,
    provider_names,
    teams_config,
)
from searchapp.errors import AccessDeniedError, ConfigError, SearchAppError

KELVIN = "\u212a"  # KELVIN SIGN: str.lower() gives "k", NFC gives "K"
TEAMS = {
    "Ada@Alpha.example": "team-alpha",
    "@alpha.example": "alpha-all",
    "@beta.example": "team-beta",
}
ONE = ("default",)


def who(email: Any = "ada@alpha.example", provider: str = "default", **claims: Any) -> Identity:
    return Identity.from_claims(
        {"email": email, "iss": "https://id.example", "sub": "s1", **claims}, provider=provider
    )


def collection(identity: Identity, teams: Mapping[str, Any] = TEAMS, providers: tuple[str, ...] = ONE) -> str:
    return TeamsTable.parse(teams, providers).resolve(identity).collection


# ------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ada@Alpha.example", "ada@alpha.example"),
        ("  ada@alpha.example ", "ada@alpha.example"),
        ("KARL@EXAMPLE.COM", "karl@example.com"),
        ("a@Bücher.DE", "a@xn--bcher-kva.de"),  # IDNA: one domain, however it is written
        ("a@xn--bcher-kva.de", "a@xn--bcher-kva.de"),
        ("a@BÜCHER.de", "a@xn--bcher-kva.de"),
        ("e\u0301@x.example", "\u00e9@x.example"),  # canonical composition of a non-ASCII letter
        ("Äda@x.example", "Äda@x.example"),  # non-ASCII letters keep their case
        ("a@e\u0301.example", "a@xn--9ca.example"),
    ],
)
def test_addresses_are_compared_in_one_normal_form(raw: str, normal: str) -> None:
    assert normalize_email(raw) == normal


def test_a_kelvin_sign_never_becomes_an_ascii_k() -> None:
    assert "\u212aarl".lower() == "karl"  # the bug: str.lower() folds it to ASCII
    kelvin = normalize_email(f"{KELVIN}arl@example.com")
    assert kelvin == f"{KELVIN}arl@example.com" and kelvin != normalize_email("karl@example.com")
    assert normalize_email(f"{KELVIN}ARL@Example.com") == f"{KELVIN}arl@example.com"
    teams = {"karl@example.com": "karls-team", "@other.example": "other"}
    with pytest.raises(AccessDeniedError, match="not assigned to a team"):
        collection(who(f"{KELVIN}arl@example.com"), teams)
    assert collection(who("KARL@example.com"), teams) == "karls-team"


@pytest.mark.parametrize(
    "raw",
    [
        f"a@ex{KELVIN}ample.com",  # UTS 46 would map it to "exkample.com": refused, not matched
        "a@\uff45xample.com",  # a fullwidth "e"
        "a b@x.example",
        "@x.example",
        "a@",
        "a@x..example",
        "a@.example",
        "a@-x.example",
        "ada",
        "",
        None,
        ["ada@alpha.example"],
        "a@x.example\u0000",
    ],
)
def test_unusable_addresses_are_empty(raw: Any) -> None:
    assert normalize_email(raw) == ""


def test_a_domain_entry_written_in_unicode_matches_its_ascii_form() -> None:
    teams = {"@Bücher.example": "books"}
    assert collection(who("ada@xn--bcher-kva.example"), teams) == "books"
    assert collection(who("ada@BÜCHER.example"), teams) == "books"


# ------------------------------------------------------------------ identities


def test_identity_from_claims() -> None:
    identity = Identity.from_claims(
        {
            "provider": "google",
            "iss": "https://accounts.example",
            "sub": "1234",
            "email": " Ada@Alpha.example ",
            "email_verified": "true",
            "groups": ["legal", " hr ", "", 3, "legal"],
            "name": "Ada",
        }
    )
    assert identity.provider == "google" and identity.issuer == "https://accounts.example"
    assert identity.subject == "1234" and identity.email == "ada@alpha.example"
    assert identity.email_verified and identity.groups == frozenset({"legal", "hr"})
    assert identity.label == "Ada@Alpha.example" and identity.name == "Ada"
    assert Identity.from_claims({"email": "a@b.example"}).provider == "default"
    assert Identity.from_claims({"groups": "one"}).groups == frozenset({"one"})
    assert Identity.from_claims({"groups": {"not": "a list"}}).groups == frozenset()


def test_identities_are_equal_only_with_the_same_provider() -> None:
    claims = {"iss": "https://id.example", "sub": "1", "email": "ada@alpha.example"}
    google, microsoft = (
        Identity.from_claims(claims, provider="google"),
        Identity.from_claims(claims, provider="microsoft"),
    )
    assert google != microsoft and google.key != microsoft.key
    assert google == Identity.from_claims({**claims, "email": "ADA@alpha.example"}, provider="google")
    assert google.key == "google\x1fhttps://id.example\x1f1"


@pytest.mark.parametrize("verified", [False, "false", "FALSE", 0, "no", "", []])
def test_an_unverified_email_is_never_used(verified: Any) -> None:
    with pytest.raises(AccessDeniedError, match="not verified"):
        collection(who(email_verified=verified))


@pytest.mark.parametrize("verified", [True, "true", " True ", None])
def test_a_verified_or_unreported_email_is_used(verified: Any) -> None:
    assert collection(who(email_verified=verified)) == "team-alpha"


# ------------------------------------------------------------------ matching


def test_exact_address_matches_ignoring_ascii_case() -> None:
    assert collection(who("ADA@alpha.EXAMPLE")) == "team-alpha"


def test_domain_matches_every_address_at_it_and_exact_beats_domain() -> None:
    assert collection(who("Bob@BETA.example")) == "team-beta"
    assert collection(who("grace@alpha.example")) == "alpha-all"


@pytest.mark.parametrize(
    "email",
    ["bob@sub.beta.example", "bob@notbeta.example", "bob@beta.example.evil", "ada@alpha.example.org"],
)
def test_domain_is_compared_whole(email: str) -> None:
    with pytest.raises(AccessDeniedError, match="not assigned to a team"):
        collection(who(email))


def test_no_match_is_refused_with_a_clear_message() -> None:
    with pytest.raises(AccessDeniedError) as caught:
        collection(who("carol@gamma.example"))
    message = str(caught.value)
    assert "carol@gamma.example" in message and "@gamma.example" in message and "[searchapp.teams]" in message
    assert isinstance(caught.value, SearchAppError) and not isinstance(caught.value, ConfigError)


@pytest.mark.parametrize("email", [None, "", "ada", "@alpha.example", ["ada@alpha.example"]])
def test_without_a_usable_email_there_is_no_collection(email: Any) -> None:
    with pytest.raises(AccessDeniedError, match="sent none"):
        collection(who(email))


# ------------------------------------------------------------------ which provider vouches


def test_one_provider_vouches_for_plain_entries_whatever_its_name() -> None:
    assert collection(who(provider="google"), TEAMS, ("google",)) == "team-alpha"


def test_an_identity_from_another_provider_matches_nothing() -> None:
    teams = {"google": {"@alpha.example": "from-google"}, "microsoft": {"@beta.example": "from-ms"}}
    providers = ("google", "microsoft")
    assert collection(who("ada@alpha.example", "google"), teams, providers) == "from-google"
    assert collection(who("bob@beta.example", "microsoft"), teams, providers) == "from-ms"
    with pytest.raises(AccessDeniedError, match="signed in with microsoft"):
        collection(who("ada@alpha.example", "microsoft"), teams, providers)
    with pytest.raises(AccessDeniedError):
        collection(who("ada@alpha.example", "okta"), teams, providers)  # not configured at all


def test_one_address_may_map_differently_per_provider() -> None:
    teams = {"default": {"ada@x.example": "inside"}, "github": {"ada@x.example": "outside"}}
    providers = ("default", "github")
    assert collection(who("ada@x.example", "default"), teams, providers) == "inside"
    assert collection(who("ada@x.example", "github"), teams, providers) == "outside"


def test_entries_without_a_provider_are_ambiguous_with_several_providers() -> None:
    with pytest.raises(ConfigError) as caught:
        TeamsTable.parse(TEAMS, ("google", "microsoft"))
    message = str(caught.value)
    assert (
        "several are configured (google, microsoft)" in message and "[searchapp.teams.microsoft]" in message
    )


def test_a_provider_table_must_name_a_configured_provider() -> None:
    with pytest.raises(ConfigError, match=r"\[searchapp.teams.okta\] names no configured sign-in provider"):
        TeamsTable.parse({"okta": {"@x.example": "team-x"}}, ("google",))
    with pytest.raises(ConfigError, match="is empty"):
        TeamsTable.parse({"google": {}}, ("google",))


def test_teams_need_a_sign_in_provider() -> None:
    with pytest.raises(ConfigError, match="sign-in is not configured"):
        TeamsTable.parse(TEAMS, ())


def test_provider_names_follow_streamlit() -> None:
    assert provider_names(None) == ()
    assert provider_names({"client_id": "x", "cookie_secret": "s"}) == ("default",)
    assert provider_names({"cookie_secret": "s", "google": {"client_id": "g"}, "ms": {"client_id": "m"}}) == (
        "google",
        "ms",
    )
    assert provider_names({"client_id": "x", "google": {"client_id": "g"}}) == ("default", "google")


# ------------------------------------------------------------------ the table's shape


@pytest.mark.parametrize(
    "key", ["alpha.example", "*@alpha.example", "*", "@", "ada@", "a@b@c.example", "a b@c"]
)
def test_malformed_keys_are_configuration_errors(key: str) -> None:
    with pytest.raises(ConfigError, match="must be an email address"):
        TeamsTable.parse({key: "team-x"}, ONE)


@pytest.mark.parametrize("value", [None, 3, "", "  ", ["team-a"], {"collection": 3}, {"groups": ["a"]}])
def test_a_value_must_name_a_collection(value: Any) -> None:
    with pytest.raises(ConfigError, match="must name a collection"):
        TeamsTable.parse({"@alpha.example": value}, ONE)


def test_a_collection_name_is_checked_for_every_entry() -> None:
    with pytest.raises(ConfigError) as caught:
        TeamsTable.parse({"ada@alpha.example": "team-alpha", "@beta.example": "bad name!"}, ONE)
    assert "'@beta.example'" in str(caught.value) and "3-62 characters" in str(caught.value)


def test_entry_tables_give_groups_and_admin() -> None:
    teams = {
        "ada@alpha.example": {"collection": "team-alpha", "groups": ["legal"], "admin": True},
        "@alpha.example": {"collection": "team-alpha", "groups": ["staff"]},
    }
    table = TeamsTable.parse(teams, ONE)
    assert table.resolve(who("ada@alpha.example", groups=["hr"])) == Membership(
        "team-alpha", None, who("ada@alpha.example", groups=["hr"]), admin=True
    )
    grace = table.resolve(who("grace@alpha.example", groups=["hr"]))
    assert grace.visibility == frozenset({"hr", "staff"}) and not grace.admin
    assert table.collections == frozenset({"team-alpha"})
    for bad, message in [
        ({"collection": "team-a", "role": "x"}, "unknown keys"),
        ({"collection": "team-a", "admin": "yes"}, "true or false"),
        ({"collection": "team-a", "groups": [""]}, "group name"),
        ({"collection": "team-a", "groups": "le\x00gal"}, "group name"),
    ]:
        with pytest.raises(ConfigError, match=message):
            TeamsTable.parse({"@x.example": bad}, ONE)


def test_two_spellings_of_one_key_must_agree() -> None:
    table = TeamsTable.parse({"Ada@alpha.example": "team-a", "ada@ALPHA.example": " team-a "}, ONE)
    assert list(table.entries) == [("default", "ada@alpha.example")]
    with pytest.raises(ConfigError, match="twice"):
        TeamsTable.parse({"Ada@alpha.example": "team-a", "ada@alpha.example": "team-b"}, ONE)


def test_teams_are_read_from_searchapp_teams_or_a_top_level_teams_table() -> None:
    assert teams_config({}) is None
    assert teams_config({"searchapp": {"collection": "x"}}) is None
    assert teams_config({"searchapp": {"teams": TEAMS}}) == TEAMS
    assert teams_config({"teams": TEAMS}) == TEAMS


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"searchapp": {"teams": TEAMS}, "teams": TEAMS}, "twice"),
        ({"searchapp": {"teams": {}}}, "empty"),
        ({"teams": {}}, "empty"),
        ({"teams": "team-a"}, "must be a table"),
        ({"searchapp": {"teams": ["a"]}}, "must be a table"),
    ],
)
def test_a_teams_table_that_cannot_work_is_an_error_not_open(
    secrets: Mapping[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        teams_config(secrets)


# ------------------------------------------------------------------ membership and visibility


def test_membership_without_sign_in_or_teams() -> None:
    assert membership(None, None, default_collection="documents") == Membership("documents", None)
    ada = who(groups=["legal"])
    assert membership(ada, None, default_collection="shared") == Membership(
        "shared", frozenset({"legal"}), ada
    )
    table = TeamsTable.parse(TEAMS, ONE)
    assert membership(ada, table, default_collection="shared").collection == "team-alpha"
    with pytest.raises(ConfigError, match="needs sign-in"):
        membership(None, table, default_collection="shared")


def test_can_see() -> None:
    assert can_see((), None) and can_see((), frozenset()) and can_see(("legal",), None)
    assert can_see(("legal", "hr"), frozenset({"hr"}))
    assert not can_see(("legal",), frozenset()) and not can_see(("legal",), frozenset({"hr"}))


def test_a_caller_assigns_only_its_own_groups() -> None:
    check_assignable(["anything"], None)
    check_assignable(["hr"], frozenset({"hr", "legal"}))
    with pytest.raises(AccessDeniedError, match="only to groups you are in"):
        check_assignable(["hr", "board"], frozenset({"hr"}))


def test_group_names() -> None:
    assert normalize_groups([" legal ", "hr", "legal"]) == ("legal", "hr")
    assert normalize_groups("legal") == ("legal",) and normalize_groups(None) == ()
    for bad in (["ok", ""], [3], ["a\tb"], ["x" * 201]):
        with pytest.raises(ValueError):
            normalize_groups(bad)
