"""The Metabase questions, one JSON file each (the file name is the question's key)."""
