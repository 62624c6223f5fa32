"""The model card a vendor submits with a model (YAML, schema-checked)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from validation.exceptions import InvalidInput

__all__ = ["ModelCard", "load_model_card"]

_MAX_CARD = 64 * 1024
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class TrainingData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    summary: Annotated[str, Field(min_length=10, max_length=4000)]
    sites: tuple[str, ...] = ()
    n_cases: Annotated[int, Field(ge=0)] | None = None


class ModelCard(BaseModel):
    """What a vendor declares about a submitted model.

    ``operating_threshold`` is the score at or above which the model calls a case positive; the platform reports
    sensitivity, specificity and the 2x2 table at exactly this threshold and never re-tunes it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    vendor: Annotated[str, Field(pattern=_NAME)]
    model_name: Annotated[str, Field(pattern=_NAME)]
    model_version: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,31}$")]
    protocol_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,62}$")]
    protocol_version: Annotated[int, Field(ge=1)] | None = None
    intended_use: Annotated[str, Field(min_length=10, max_length=4000)]
    operating_threshold: float
    training_data: TrainingData
    contact: Annotated[str, Field(min_length=3, max_length=200)]

    @field_validator("operating_threshold")
    @classmethod
    def _threshold(cls, value: float) -> float:
        if not 0.0 < value < 1.0:
            raise ValueError(f"operating_threshold must lie strictly between 0 and 1, got {value}")
        return value


def load_model_card(path: str | Path) -> ModelCard:
    """Read and check a model card YAML file.

    Raises
    ------
    InvalidInput
        Missing, too large, not YAML, or not matching the schema (the first field at fault is named).
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"model card {path} not found", hint="pass --card CARD.yaml")
    if path.stat().st_size > _MAX_CARD:
        raise InvalidInput(f"model card {path} is larger than {_MAX_CARD // 1024} KiB")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"model card {path.name} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"model card {path.name} must be a YAML mapping")
    try:
        return ModelCard.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InvalidInput(
            f"model card {path.name} is not valid: {where}: {first['msg']}",
            hint="see examples/vendors/README.md for a complete card",
        ) from None
