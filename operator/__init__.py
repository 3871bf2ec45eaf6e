"""vidgen.operator."""
