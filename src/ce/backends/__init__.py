"""The built-in backends.  Each hook module imports its heavy code lazily."""
