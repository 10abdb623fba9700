"""The built-in routines (YAML) and the weekly schedule, shipped as package data."""
