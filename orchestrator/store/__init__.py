"""The bottom of the house: tables, engine and sessions, migrations, the outbox."""
