"""Request and response shapes of the REST API (they make the OpenAPI document at ``/docs``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from jackpot_pipeline.jackpots.cards import MAX_FIXTURES, MAX_ODDS, MIN_ODDS

JACKPOT_ID_REGEX = r"^[A-Za-z0-9_-]{1,64}$"

# The JSON card format of jackpot_pipeline.jackpots.cards, as a JSON schema: it documents the body and lets
# schema-driven clients (and tests) generate cards. The card module still validates every byte, with its own
# messages; this schema is never what refuses a card.
_ODDS_VALUE = {"type": "number", "minimum": MIN_ODDS, "maximum": MAX_ODDS}
CARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["jackpot_id", "name", "fixtures"],
    "additionalProperties": False,
    "properties": {
        "jackpot_id": {"type": "string", "pattern": JACKPOT_ID_REGEX, "example": "my_card_2024_05_18"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "operator": {"type": ["string", "null"], "maxLength": 200},
        "owner": {"type": ["string", "null"], "description": "the submitting analyst (set from the token when absent)"},
        "fixtures": {
            "type": "array", "minItems": 1, "maxItems": MAX_FIXTURES,
            "items": {
                "type": "object",
                "required": ["home", "away", "kickoff"],
                "additionalProperties": False,
                "properties": {
                    "home": {"type": "string", "minLength": 2, "maxLength": 100, "example": "Arsenal"},
                    "away": {"type": "string", "minLength": 2, "maxLength": 100, "example": "Everton"},
                    "league": {"type": ["string", "null"], "example": "E0"},
                    "kickoff": {"type": "string", "example": "2024-05-19T16:00:00+01:00"},
                    "odds": {
                        "type": ["object", "null"],
                        "required": ["home", "draw", "away"],
                        "additionalProperties": False,
                        "properties": {"home": _ODDS_VALUE, "draw": _ODDS_VALUE, "away": _ODDS_VALUE},
                    },
                },
            },
        },
    },
}


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    error: str = Field(description="a short machine-readable code: unauthorized, forbidden, not_found, invalid_card, ...")
    reason: str = Field(description="what went wrong, for people")
    request_id: str
    detail: list[ErrorDetail] = []


class SubmissionReceipt(BaseModel):
    jackpot_id: str
    status: Literal["pending", "finalised", "failed"]
    owner: str | None
    card_sha256: str
    poll: str = Field(description="GET this URL until status is finalised")
    predictions: str
    prediction_by: Literal["launched", "sensor", "waiting", "done"] = Field(
        description="who materialises the card: this server's run, the Dagster daemon's sensor, nobody yet (launching "
        "off and no daemon), or nobody (already finalised)")


class JackpotSummary(BaseModel):
    jackpot_id: str
    name: str | None
    operator: str | None
    owner: str | None
    status: Literal["pending", "finalised", "failed"]
    n_fixtures: int | None
    card_sha256: str | None
    finalised_at: str | None = None
    run_id: str | None = None
    model_versions: Any = None
    calibration_versions: Any = None
    error: str | None = None
    links: dict[str, str]


class JackpotList(BaseModel):
    jackpots: list[JackpotSummary]


class JackpotPredictions(BaseModel):
    jackpot_id: str
    owner: str | None
    n_fixtures: int
    fixtures: list[dict[str, Any]] = Field(description="per fixture: teams as written and resolved, league, season, "
                                           "mode, operator odds, snapshot (model version), calibration version, warnings, "
                                           "explanation and sets A-G (probabilities, pick, confidence, flags)")


class JackpotTickets(BaseModel):
    jackpot_id: str
    owner: str | None
    tickets: dict[str, Any] = Field(description="budget, bonus tiers and per set the most-likely and optimised tickets "
                                    "with the exact distribution of correct picks")


class _Paged(BaseModel):
    total: int = Field(description="rows matching the query, over all pages")
    limit: int
    offset: int


class Page(_Paged):
    items: list[dict[str, Any]]


class ModelsHealth(BaseModel):
    leagues: list[dict[str, Any]]


class Freshness(BaseModel):
    leagues: list[dict[str, Any]]


class SystemHealth(BaseModel):
    status: Literal["ok", "degraded"]
    warehouse: dict[str, Any]
    dagster: dict[str, Any]


class TokenRequest(BaseModel):
    subject: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="who: a card owner name / database role")
    role: Literal["analyst", "auditor", "admin"]
    expires_in: str = Field(default="30d", pattern=r"^[0-9]{1,6}[dhms]$", description="lifetime, e.g. 30d, 12h, 90m")


class TokenView(BaseModel):
    token_id: str
    subject: str
    role: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    created_by: str | None


class IssuedTokenView(BaseModel):
    token: str = Field(description="the bearer token; shown once, stored only hashed")
    info: TokenView


class TokenList(BaseModel):
    tokens: list[TokenView]


class AuditPage(_Paged):
    entries: list[dict[str, Any]]


class PublishedJackpots(BaseModel):
    jackpots: list[dict[str, Any]]


class PublishedPredictions(BaseModel):
    jackpot_id: str
    predictions: list[dict[str, Any]]
