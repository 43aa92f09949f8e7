"""Extensions, created unbound; create_app binds them."""
from flask_babel import Babel
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints so Alembic migrations are stable across SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
htmx = HTMX()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets pages read while an import writes; foreign keys on; wait rather than fail on a lock.
    synchronous=NORMAL is SQLite's advice for WAL: a commit no longer waits for the disk (only a
    power cut can lose the last commits; a crash of the process cannot), which is what lets the
    embedded database record events and send email at hundreds a second."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
