//! Test support: a PostgreSQL for tests and benchmarks.
