"""The measures: every module here is imported by bench.registry.discover() and registers its own
with `@measure("name")`. One module per area (routing, maps, reports, ...)."""
