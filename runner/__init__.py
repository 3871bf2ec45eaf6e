"""vidgen.runner: the program each Kubernetes Job runs (`vidgen runner`), once per attempt.

photo (storage) → checks → enhanced prompt (OpenAI) → video task (KIE.AI, or the offline
sandbox) → poll → download → `outputs/<name>.mp4`; the result is one JSON line in the
termination message. The in-process entry point is `vidgen.runner.pipeline.run_generation`.
"""
