"""Storage: SQLAlchemy 2.0 Core tables, the engine factory and the repositories."""
