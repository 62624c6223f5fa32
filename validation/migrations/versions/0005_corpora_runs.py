"""Corpus versions, evaluation runs, per-site progress, results and acceptance verdicts.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corpora",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("tasks", sa.JSON, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("quarantined", sa.JSON, nullable=False),
        sa.Column("quality_ok", sa.Boolean, nullable=True),
        sa.Column("usable", sa.Boolean, nullable=False),
        sa.Column("accepted_reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("submission_id", sa.String(32), nullable=False, index=True),
        sa.Column("org", sa.String(64), nullable=False, index=True),
        sa.Column("protocol_id", sa.String(64), nullable=False),
        sa.Column("protocol_version", sa.Integer, nullable=False),
        sa.Column("protocol_sha256", sa.String(64), nullable=False),
        sa.Column("corpus_id", sa.String(64), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=True),
        sa.Column("isolation", sa.String(20), nullable=True),
        sa.Column("executor", sa.String(200), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("results_sha256", sa.String(64), nullable=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "run_sites",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("site", sa.String(16), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("n_cases", sa.Integer, nullable=False),
        sa.Column("n_batches", sa.Integer, nullable=False),
        sa.Column("batches_done", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("isolation", sa.String(20), nullable=True),
        sa.Column("elapsed", sa.Float, nullable=True),
    )
    op.create_table(
        "results",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("group_kind", sa.String(20), nullable=False),
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("estimate", sa.Float, nullable=True),
        sa.Column("ci_low", sa.Float, nullable=True),
        sa.Column("ci_high", sa.Float, nullable=True),
        sa.Column("ci_method", sa.String(64), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("n_pos", sa.Integer, nullable=False),
        sa.Column("n_neg", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "verdicts",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("criterion", sa.String(64), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("verdicts", "results", "run_sites", "runs", "corpora"):
        op.drop_table(table)
