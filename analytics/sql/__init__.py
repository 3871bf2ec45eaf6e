"""The analytics views' SQL (PostgreSQL), one view per file, in creation order."""
