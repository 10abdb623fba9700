"""Test harness modules shared by test files (import as `support.NAME`)."""
