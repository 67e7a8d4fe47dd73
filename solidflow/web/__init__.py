"""The web UI and its HTTP API: `solidflow ui` serves both from one process.

User code never runs in the server process: pipelines are loaded, described and checked by a
code server subprocess (`code_server`), and runs are launched in processes of their own.
"""
