"""vidgen.bot."""
