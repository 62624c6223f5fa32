"""Published protocols, frozen by hash.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protocols",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("protocol_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("protocol_id", "version", name="uq_protocols_id_version"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER protocols_frozen BEFORE UPDATE ON protocols "
            "BEGIN SELECT RAISE(ABORT, 'published protocols are frozen'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION clinval_frozen() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is frozen: % refused', TG_TABLE_NAME, TG_OP; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER protocols_frozen BEFORE UPDATE ON protocols "
            "FOR EACH STATEMENT EXECUTE FUNCTION clinval_frozen()"
        )


def downgrade() -> None:
    op.drop_table("protocols")
