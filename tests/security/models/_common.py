"""Shared by the hostile models: read the test's parameters, answer for every case."""

import json

import pandas as pd


def arg(model_input):
    """The JSON parameters the test put in the ``arg`` input column."""
    return json.loads(model_input["arg"].iloc[0])


def answer(model_input):
    """Valid predictions (score 0.5 for every case): returned only if an attack succeeded."""
    return pd.DataFrame({"case_id": model_input["case_id"], "score": 0.5})
