"""Model submissions: model cards, static checks of MLflow pyfunc model directories, the MLflow registry,
and the submission records that the smoke test and evaluation runs build on."""

from validation.registry.card import ModelCard, load_model_card
from validation.registry.checks import INPUT_COLUMNS, ModelLimits, StaticReport, check_model_dir
from validation.registry.smoke import SMOKE_CASES, dev_corpus_for, smoke_test
from validation.registry.service import (
    STATES,
    SubmissionInfo,
    get_submission,
    list_submissions,
    model_path,
    set_state,
    submit_model,
    verify_model,
)

__all__ = [
    "INPUT_COLUMNS",
    "ModelCard",
    "ModelLimits",
    "STATES",
    "StaticReport",
    "SubmissionInfo",
    "check_model_dir",
    "get_submission",
    "list_submissions",
    "load_model_card",
    "model_path",
    "set_state",
    "submit_model",
    "verify_model",
    "SMOKE_CASES",
    "dev_corpus_for",
    "smoke_test",
]
