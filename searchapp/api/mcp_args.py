"""The MCP tools' arguments: exactly their parameters, described, with errors in a sentence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.types import ToolAnnotations
from pydantic import ConfigDict, Field, ValidationError, WithJsonSchema

from searchapp.request_schema import filters_schema, request_schema


class StrictTool(Tool):
    """A tool whose arguments are its parameters and no others, with errors an assistant can act on.

    The SDK builds each tool's argument model from the function (`Tool.from_function`);
    that model ignores unknown arguments, so ``{"query": "x", "tags": ["hr"]}`` would search
    unfiltered. Here the model forbids them (and the published input schema says
    ``additionalProperties: false``), and an argument the model refuses is answered in a
    sentence naming it, rather than pydantic's report.
    """

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> StrictTool:
        # Every tool reads the library and changes nothing; asking again answers the same.
        reads = ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
        tool = cls.from_function(fn, annotations=reads)
        assert isinstance(tool, StrictTool)
        loose = tool.fn_metadata.arg_model
        strict: type[ArgModelBase] = type(
            loose.__name__, (loose,), {"model_config": ConfigDict(extra="forbid")}
        )
        tool.fn_metadata.arg_model = strict
        tool.parameters = strict.model_json_schema(by_alias=True)
        return tool

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            raise ToolError(f"Error executing tool {self.name}: {self.explain(cause)}") from cause

    def explain(self, error: ValidationError) -> str:
        """What is wrong with the arguments, in a sentence or two."""
        takes = [f.alias or name for name, f in self.fn_metadata.arg_model.model_fields.items()]
        sentences: list[str] = []
        for problem in error.errors()[:3]:
            where = ".".join(str(part) for part in problem.get("loc", ())) or "arguments"
            kind = problem.get("type", "")
            if kind == "missing":
                sentences.append(f"the argument {where!r} is required")
            elif kind == "extra_forbidden":
                sentence = f"unknown argument {where!r}; {self.name} takes {', '.join(takes)}"
                if "filters" in takes and where in FILTER_KEYS:
                    sentence += f'; filters go inside `filters`, as {{"filters": {{"{where}": ...}}}}'
                sentences.append(sentence)
            else:
                sentences.append(f"the argument {where!r}: {problem.get('msg', 'is not valid')}")
        return "; ".join(sentences)


# How many passages a tool answers at most. An assistant reads every passage it is given
# (50 are some 50,000 words at the usual passage size), and comparable search tools for
# assistants stop at 20 to 100; the core's own limit (1,000) is for scripts, and 1,000
# passages, each sent twice (see `mcp_models`), are several MB: past the SDK client's
# 1 MiB for one server-sent event from some 550 on, so such a call failed the session.
MAX_K = 50
K_HELP = f"how many passages (1-{MAX_K}); fewer, better ones leave room to fetch_passage around the best"


def checked_k(k: Any) -> int:
    """`k` when it is a whole number of passages an MCP answer may hold."""
    return checked_count("k", k, 1, MAX_K)


def checked_count(name: str, value: Any, low: int, high: int) -> int:
    """`value` when it is an integer from `low` to `high`: a JSON number, never a string of one
    (every count is read alike: "2" used to be taken for `before` and refused for `k`).

    Raises:
        ToolError: another value, worded as the core words its own limits.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolError(f"{name} must be an integer from {low} to {high}; got {value!r}")
    return value


MAX_AROUND = 20  # fetch_passage's before and after


def around(name: str) -> WithJsonSchema:
    """The schema of fetch_passage's `before` or `after` (checked by `checked_count`)."""
    return WithJsonSchema(
        {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_AROUND,
            "default": 1,
            "description": f"how many passages of the same document {name} it to include (0-{MAX_AROUND})",
        }
    )


PASSAGE_ID = Field(
    min_length=1,
    max_length=200,
    strict=True,
    description=(
        "a passage's id: `citation.passage_id` of a search or similar_passages result, or "
        "`passage_id` of a neighbour from fetch_passage ('<doc_id>:<n>'; 8+ characters of "
        "the doc_id will do)"
    ),
)


FILTER_KEYS = frozenset(filters_schema()["properties"]) | {"type", "types", "tag", "doc", "doc_ids"}


def described(
    name: str,
    *,
    default: Any = None,
    nullable: bool = False,
    description: str = "",
    maximum: int | None = None,
) -> WithJsonSchema:
    """A tool argument's schema: the core's for that key of a search request
    (`searchapp.request_schema`), `description` replacing its own where the tool differs
    (no tool has `group`), `maximum` its bound where a tool takes less; the core validates
    the value (`SearchRequest.from_mapping`)."""
    schema = dict(request_schema()["properties"][name])
    if description:
        schema["description"] = description
    if maximum is not None:
        schema["maximum"] = maximum
    if default is not None:
        schema["default"] = default
    if nullable:
        schema = {"anyOf": [schema, {"type": "null"}], "description": schema.get("description", "")}
    return WithJsonSchema(schema)
