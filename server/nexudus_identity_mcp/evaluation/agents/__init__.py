"""The agents an evaluation can run: `scripted` (replays a scenario's steps) and real models."""
