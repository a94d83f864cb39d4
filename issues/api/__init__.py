"""The project's report API under /api/, shaped like issues/open311/: `params` (reading input),
`documents` (rows -> JSON), `schema` (shapes for the OpenAPI schema), the thin views by resource,
and `urls`. The views: `locate` (`LocateApi`: who would take a report at a point), `reports` (the
list, a new report, one report), `support` ("me too": reports nearby, and supporting one),
`categories` (what can be reported), `private_link` (the reporter's feedback, rating and
stop-messages with their private token).

What public answers never carry: see `reports`."""
