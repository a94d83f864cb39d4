"""The staff API under /api/staff/ and /api/auth/token/: the inbox, one report's staff view and the
workflow's actions, for 137 staff, district managers and units. Shaped like issues/api/: `params`
(reading input), `documents` (rows -> JSON), `schema` (shapes for the OpenAPI schema), `views`
(thin), `urls`; `selectors` and `services` for the few reads and writes of its own (README.md)."""
