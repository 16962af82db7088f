"""A tenant app for bench/fleet.py only: one model and the migrations a fleet migration is timed with. Installed
only by bench.fleet_settings, in the benchmark's own processes; the project's settings never list it."""
