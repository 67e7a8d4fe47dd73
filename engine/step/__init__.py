"""One step: what it needs (task, context, resources), how it runs, and how it ended."""
