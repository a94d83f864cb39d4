"""The public properties of a report in the list, the same on both sides of `report_list_geojson`:
the project's API and the drf-gis reference (bench/views.py) are compared on exactly these."""

REPORT_PROPERTIES = (
    "code",
    "category",
    "category_name_fa",
    "category_name_en",
    "kind",
    "status",
    "open",
    "description",
    "district",
    "service_area",
    "unit_name_fa",
    "unit_name_en",
    "support_count",
    "photo_urls",
)
