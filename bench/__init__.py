"""Load and timing scripts (see docs/performance.md). Not part of the deployed application."""
