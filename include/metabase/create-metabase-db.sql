-- Metabase keeps its own application database (users, the DuckDB connection, questions) beside
-- Airflow's in the compose PostgreSQL; run once by the postgres image when its volume is created.
CREATE DATABASE metabase;
