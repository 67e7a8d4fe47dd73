"""Definitions: solids, pipelines, composites, types, config, resources and modes."""
