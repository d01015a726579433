"""audit-kit: a private clinic's raw exports -> a client-ready audit report (see README.md)."""
