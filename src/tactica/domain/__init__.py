"""Pure domain logic: no I/O, no database, no web. Imports only the standard library and sqlglot."""
