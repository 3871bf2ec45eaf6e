"""vidgen.runner."""
