-- The Prefect server's own database, beside the bid database.
CREATE DATABASE prefect OWNER bid;
