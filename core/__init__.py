"""vidgen.core."""
