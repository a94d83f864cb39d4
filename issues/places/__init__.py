"""The gazetteer: named places (neighbourhoods, landmarks, main streets) the 137 operator searches
to put a caller's report on the map, next to the district names. The admin edits them or imports
them from any GIS file (`manage.py import_places`)."""
