"""The MLflow model registry behind submissions: artifacts logged to a run, versions registered with tags and
aliases. The model itself is never loaded here; MLflow only stores and serves its files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from validation.config import Settings
from validation.exceptions import StorageError

__all__ = ["RegisteredVersion", "register_model_version", "set_alias", "EXPERIMENT"]

EXPERIMENT = "clinval-submissions"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    source: str


def _client(settings: Settings):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def _experiment_id(client, settings: Settings) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    root = settings.home / "mlartifacts" / "submissions"
    root.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(EXPERIMENT, artifact_location=root.as_uri())


def register_model_version(
    settings: Settings, *, model_dir: Path, name: str, tags: dict[str, str], alias: str
) -> RegisteredVersion:
    """Log ``model_dir`` as the artifacts of a run and register it as a new version of model ``name``.

    Raises
    ------
    StorageError
        MLflow's store cannot be reached or refuses the registration.
    """
    from mlflow.exceptions import MlflowException

    client = _client(settings)
    try:
        experiment_id = _experiment_id(client, settings)
        run = client.create_run(experiment_id, tags={f"clinval.{k}": v for k, v in tags.items()},
                                run_name=f"submission {tags.get('submission', '')}".strip())
        client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
        client.set_terminated(run.info.run_id)
        try:
            client.create_registered_model(name, tags={"clinval.vendor": tags.get("vendor", "")})
        except MlflowException as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
                raise
        source = f"{run.info.artifact_uri}/model"
        mv = client.create_model_version(name, source=source, run_id=run.info.run_id,
                                         tags={f"clinval.{k}": v for k, v in tags.items()})
        client.set_registered_model_alias(name, alias, mv.version)
    except MlflowException as exc:
        raise StorageError(
            f"the MLflow registry refused the model: {exc.error_code}",
            hint="check MLFLOW_TRACKING_URI ('clinval config')",
        ) from None
    return RegisteredVersion(name=name, version=str(mv.version), run_id=run.info.run_id, source=source)


def set_alias(settings: Settings, *, name: str, version: str, alias: str, tags: dict[str, str] | None = None) -> None:
    """Point ``alias`` of model ``name`` at ``version`` and add tags to that version."""
    from mlflow.exceptions import MlflowException

    client = _client(settings)
    try:
        client.set_registered_model_alias(name, alias, version)
        for key, value in (tags or {}).items():
            client.set_model_version_tag(name, version, f"clinval.{key}", value)
    except MlflowException as exc:
        raise StorageError(f"the MLflow registry refused the update: {exc.error_code}") from None
