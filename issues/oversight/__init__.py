"""Public oversight data: the reports as vector tiles (`/tiles/reports/{z}/{x}/{y}.mvt`) and as a
heatmap of counts per grid cell (`/api/heatmap/`), both filtered like `/api/reports/`.

Both read the reports' cell key (a generated column, migration `report_cell_key`; geo/tiles.py) so
the database answers from one B-tree. Decisions: README.md in this package."""
