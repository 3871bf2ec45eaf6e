"""Local mode: the bot, a local controller and the runner on one machine, without a cluster.

The local controller drives the same kopf-free `Reconciler` as the operator
(vidgen.operator.reconciler) over local adapters: `DbGenerationStore` (the generations table
holds the CRD-shaped status) and `ProcessExecutor` (one `vidgen runner` subprocess per attempt).
`vidgen local` runs it beside the bot; `vidgen generate` runs one generation from the command
line through the same path and delivers the video to a file.
"""
